"""`llm-auction base build|ceiling|import-smollm2|warm-start`: the base policy, the model's imitation ceiling,
and an imported instruct model's format lesson."""
from __future__ import annotations

import json
from pathlib import Path

from llm_auction.commands.options import with_config, with_ray_config
from llm_auction.config import ExperimentConfig


def add_parser(commands) -> None:
    base = commands.add_parser("base", help="build or import a base policy").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    build = with_ray_config(with_config(base.add_parser(
        "build", help="train the tiny base policy (Ray Train + DeepSpeed)")))
    build.add_argument("--world", choices=["tiny"], default="tiny")
    build.add_argument("--out", required=True, help="output HF directory")
    build.add_argument("--force", action="store_true", help="rebuild even if OUT already holds a built policy")
    ceiling = with_ray_config(with_config(base.add_parser(
        "ceiling", help="clone the optimal allocation from a policy (SFT) and check both: the model's ceiling")))
    ceiling.add_argument("--policy", required=True, help="HF policy to start from (e.g. RUN_DIR/base)")
    ceiling.add_argument("--out", required=True, help="output HF directory (+ ceiling_report.json)")
    base.add_parser("import-smollm2", help="SmolLM2-135M-Instruct GGUF -> HF directory").add_argument(
        "--out", required=True)
    warm = with_ray_config(with_config(base.add_parser(
        "warm-start", help="teach an imported instruct model the mention format with the full prompt (SFT)")))
    warm.add_argument("--policy", required=True, help="HF instruct model to start from (e.g. models/smollm2)")
    warm.add_argument("--out", required=True, help="output HF directory (+ warm_start_report.json)")


def run(args, config: ExperimentConfig) -> int:
    from irpo.base.build import build_base, import_smollm2_policy

    if args.action == "import-smollm2":
        print(json.dumps(import_smollm2_policy(args.out), indent=2))
        return 0
    from cluster.layout import load_layout

    layout = load_layout(args.ray_config)
    if args.action in ("ceiling", "warm-start"):
        return run_from_policy(args, config, layout)
    judge = config.judge.model_copy(update={"world": args.world or config.judge.world})
    report = build_base(judge, args.out, config.irpo.base, config.rollout, layout, force=args.force)
    print(json.dumps(report, indent=2))
    return 0


def run_from_policy(args, config: ExperimentConfig, layout) -> int:
    """`ceiling` and `warm-start`: fine-tune `--policy` into `--out` on the tiny world, then check it."""
    from cluster.ray_session import init_ray
    from irpo.base.ceiling import ceiling_command
    from irpo.base.warm_start import warm_start_command
    from judge.environment import get_world, simulated_user

    if not (Path(args.policy) / "config.json").is_file():  # before Ray starts: a typo fails in a second
        raise ValueError(f"base {args.action}: --policy {args.policy} is not an HF model directory (no config.json); "
                         "import one first, e.g. `llm-auction base import-smollm2 --out models/smollm2`")
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    if args.action == "ceiling":
        report = ceiling_command(Path(args.policy), Path(args.out), config.irpo.ceiling, user, config.auction,
                                 config.rollout, layout.roles.base_trainer)
        shown = {k: report[k] for k in ("policy", "cloned")}
    else:
        report = warm_start_command(Path(args.policy), Path(args.out), config.irpo.warm_start, user, config.auction,
                                    config.rollout, layout.roles.base_trainer)
        shown = report["checks"]
    print(json.dumps(shown, indent=2))
    return 0
