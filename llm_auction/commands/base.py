"""`llm-auction base build|ceiling|import-smollm2`: the base policy and the model's imitation ceiling."""
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


def run(args, config: ExperimentConfig) -> int:
    from irpo.base.build import build_base, import_smollm2_policy

    if args.action == "import-smollm2":
        print(json.dumps(import_smollm2_policy(args.out), indent=2))
        return 0
    from cluster.layout import load_layout

    layout = load_layout(args.ray_config)
    if args.action == "ceiling":
        return run_ceiling(args, config, layout)
    judge = config.judge.model_copy(update={"world": args.world or config.judge.world})
    report = build_base(judge, args.out, config.irpo.base, config.rollout, layout, force=args.force)
    print(json.dumps(report, indent=2))
    return 0


def run_ceiling(args, config: ExperimentConfig, layout) -> int:
    from cluster.ray_session import init_ray
    from irpo.base.ceiling import ceiling_command
    from judge.environment import get_world, simulated_user

    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    report = ceiling_command(Path(args.policy), Path(args.out), config.irpo.ceiling, user, config.auction,
                             config.rollout, layout.roles.base_trainer)
    print(json.dumps({k: report[k] for k in ("policy", "cloned")}, indent=2))
    return 0
