"""The `llm-auction` command line. Each subcommand parses its arguments and calls into a package."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from cluster.jobs import DEFAULT_DASHBOARD
from irpo.compare import MECHANISMS
from llm_auction.config import ConfigError, ExperimentConfig, dump_config, load_config
from llm_auction.logs import configure_logging, log_to_file
from llm_auction.paths import project_file

log = logging.getLogger("llm_auction.cli")



def _with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", help="experiment YAML file (default: built-in defaults)")
    parser.add_argument("overrides", nargs="*", metavar="dotted.key=value", help="config overrides")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-auction", description="LLM-native ad auctions trained with IRPO.")
    parser.add_argument("--verbose", action="store_true", help="show every library's log lines and Ray workers' "
                        "output on the terminal (default: the project's progress only; the rest in RUN_DIR/logs)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    world = commands.add_parser("world", help="build a simulated world").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    build = _with_config(world.add_parser("build", help="write a built-in world as JSONL files + report.json"))
    build.add_argument("--world", choices=["tiny", "paper"], default="tiny")
    build.add_argument("--seed", type=int, default=None, help="world seed (default: judge.world_seed)")
    build.add_argument("--out", required=True, help="output directory")

    base = commands.add_parser("base", help="build or import a base policy").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    base_build = _with_config(base.add_parser("build", help="train the tiny base policy (Ray Train + DeepSpeed)"))
    base_build.add_argument("--world", choices=["tiny"], default="tiny")
    base_build.add_argument("--out", required=True, help="output HF directory")
    base_build.add_argument("--ray-config", default="ray_config.yaml", help="cluster layout (default: ray_config.yaml)")
    base_build.add_argument("--force", action="store_true", help="rebuild even if OUT already holds a built policy")
    ceiling = _with_config(base.add_parser(
        "ceiling", help="clone the optimal allocation from a policy (SFT) and check both: the model's ceiling"))
    ceiling.add_argument("--policy", required=True, help="HF policy to start from (e.g. RUN_DIR/base)")
    ceiling.add_argument("--out", required=True, help="output HF directory (+ ceiling_report.json)")
    ceiling.add_argument("--ray-config", default="ray_config.yaml", help="cluster layout (default: ray_config.yaml)")
    base_import = base.add_parser("import-smollm2", help="SmolLM2-135M-Instruct GGUF -> HF directory")
    base_import.add_argument("--out", required=True)

    train = _with_config(commands.add_parser(
        "train", help="run IRPO end to end (default: the embedded tiny world on a local Ray)"))
    train.add_argument("--run-dir", help="where stages, checkpoints and report.json go (default: run_dir)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run from its last completed stage")
    train.add_argument("--ray-config", default="ray_config.yaml", help="cluster layout (default: ray_config.yaml)")

    evaluate = _with_config(commands.add_parser("evaluate", help="compare mechanisms on a test set; write a report"))
    evaluate.add_argument("--policy", help="trained policy (default: RUN_DIR/final/policy of the config's run)")
    evaluate.add_argument("--base", help="base policy (default: RUN_DIR/base, or rollout.policy)")
    evaluate.add_argument("--reward-model", help="pCTR model for MOSAIC and R (default: next to --policy)")
    evaluate.add_argument("--mechanisms", default=",".join(MECHANISMS), help="comma-separated (default: all)")
    evaluate.add_argument("--world", help="tiny, paper or a world directory (default: judge.world)")
    evaluate.add_argument("--requests", help="JSONL of auction requests (docs/EVALUATION.md); default: test split")
    evaluate.add_argument("--limit", type=int, help="evaluate the first N requests only (and probe at most N)")
    evaluate.add_argument("--judge", choices=["simulated", "llm"], help="default: judge.kind")
    evaluate.add_argument("--out", required=True, help="output directory: report.json, report.md, PNG plots")

    serve = _with_config(commands.add_parser("serve", help="serve the auction endpoint with Ray Serve"))
    serve.add_argument("--policy", help="HF dir of the policy (default: RUN_DIR/final/policy of the config's run)")
    serve.add_argument("--host", help="default: serving.host (127.0.0.1)")
    serve.add_argument("--port", type=int, help="default: serving.port (8000)")
    serve.add_argument("--ledger", help="a SQLite file or postgresql://USER@HOST:PORT/DB (default: serving.ledger)")
    serve.add_argument("--ray-config", default="ray_config.yaml", help="cluster layout (default: ray_config.yaml)")

    submit = commands.add_parser("submit", help="submit an llm-auction command as a Ray job to a cluster",
                                 description="llm-auction submit [--address URL] [--no-wait] -- COMMAND ...")
    submit.add_argument("--address", help=f"Ray dashboard URL (default: $RAY_ADDRESS or {DEFAULT_DASHBOARD})")
    submit.add_argument("--no-wait", action="store_true", help="print the job id and return at once")
    submit.add_argument("--ray-config", default="ray_config.yaml", help="runtime env (default: ray_config.yaml)")
    submit.add_argument("job", nargs=argparse.REMAINDER, help="the llm-auction command to run, after --")
    jobs = commands.add_parser("jobs", help="list, follow or stop submitted jobs")
    jobs.add_argument("action", choices=["list", "follow", "stop"])
    jobs.add_argument("job_id", nargs="?", help="for follow and stop")
    jobs.add_argument("--address", help=f"Ray dashboard URL (default: $RAY_ADDRESS or {DEFAULT_DASHBOARD})")

    judge = _with_config(commands.add_parser("judge", help="label clicks on answers with a judge"))
    judge.add_argument("--world", help="tiny, paper or a world directory (default: judge.world)")
    judge.add_argument("--answers", required=True, help="JSONL rows {request_id, answer, bids?}")
    judge.add_argument("--out", required=True, help="JSONL output, one row per answer with its clicks")
    judge.add_argument("--judge", choices=["simulated", "llm"], help="default: judge.kind")

    config = commands.add_parser("config", help="show the resolved experiment config").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    _with_config(config.add_parser("show", help="print the config after the file and overrides"))
    return parser


def run_world(args, config: ExperimentConfig) -> int:
    from judge.cli_commands import build_world_command

    seed = config.judge.world_seed if args.seed is None else args.seed
    report = build_world_command(args.world, args.out, seed, config.judge, config.auction)
    print(json.dumps(report, indent=2))
    return 0


def run_judge(args, config: ExperimentConfig) -> int:
    from judge.cli_commands import judge_command

    judge = config.judge.model_copy(update={"world": args.world or config.judge.world,
                                            "kind": args.judge or config.judge.kind})
    print(json.dumps(judge_command(args.answers, args.out, judge), indent=2))
    return 0


def run_base(args, config: ExperimentConfig) -> int:
    from irpo.base_command import build_base_command, import_smollm2_command

    if args.action == "import-smollm2":
        print(json.dumps(import_smollm2_command(args.out), indent=2))
        return 0
    from cluster.layout import load_layout

    if args.action == "ceiling":
        return run_ceiling(args, config, load_layout(args.ray_config))
    judge = config.judge.model_copy(update={"world": args.world or config.judge.world})
    report = build_base_command(judge, args.out, config.irpo.base, config.rollout, load_layout(args.ray_config),
                                force=args.force)
    print(json.dumps(report, indent=2))
    return 0


def run_ceiling(args, config: ExperimentConfig, layout) -> int:
    from pathlib import Path

    from cluster.ray_session import init_ray
    from irpo.ceiling import ceiling_command
    from judge.environment import get_world, simulated_user

    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    report = ceiling_command(Path(args.policy), Path(args.out), config.irpo.ceiling, user, config.auction,
                             config.rollout, layout.roles.base_trainer)
    print(json.dumps({k: report[k] for k in ("policy", "cloned")}, indent=2))
    return 0


def run_train(args, config: ExperimentConfig) -> int:
    from pathlib import Path

    from cluster.layout import load_layout
    from irpo.train_command import train_command
    from llm_auction.run_dir import prepare_run_dir

    layout = load_layout(args.ray_config)  # before the run directory exists: a bad layout leaves nothing behind
    run_dir, config = prepare_run_dir(args.resume or args.run_dir or config.run_dir, config, resume=bool(args.resume))
    log_to_file(Path(run_dir) / "logs" / "llm-auction.log")
    train_command(config.irpo, config.rollout, config.judge, config.auction, config.cluster, layout, Path(run_dir),
                  config.model_dump(mode="json"))
    return 0


def run_evaluate(args, config: ExperimentConfig) -> int:
    from pathlib import Path

    from irpo.evaluate_command import evaluate_command, read_requests, test_requests
    from judge.environment import get_world, simulated_user

    run_dir = Path(config.run_dir)
    policy = Path(args.policy or run_dir / "final" / "policy")
    base = Path(args.base or config.rollout.policy or run_dir / "base")
    for flag, path in (("--policy", policy), ("--base", base)):
        if not (path / "config.json").is_file():
            raise ValueError(f"{flag}: {path} is not an HF model directory (no config.json)")
    reward_model = Path(args.reward_model) if args.reward_model else policy.parent / "reward_model"
    judge = config.judge.model_copy(update={"world": args.world or config.judge.world,
                                            "kind": args.judge or config.judge.kind})
    world = get_world(judge.world, judge.world_seed)
    requests = read_requests(args.requests, world) if args.requests else test_requests(world, judge.seed, args.limit)
    evaluation = config.irpo.evaluation
    if args.limit:  # the bid probe and the incentive audit too
        evaluation = evaluation.model_copy(update={"probe_requests": max(2, min(evaluation.probe_requests, args.limit))})
    log_to_file(Path(args.out) / "evaluate.log")
    report = evaluate_command(policy, base, reward_model, [m.strip() for m in args.mechanisms.split(",") if m.strip()],
                              world, simulated_user(world, judge), requests[: args.limit], judge, config.rollout,
                              config.auction, evaluation, Path(args.out))
    log.info("report: %s (numbers: %s)", Path(args.out) / "report.md", Path(args.out) / "report.json")
    return 0


def run_serve(args, config: ExperimentConfig) -> int:
    import importlib.util
    from pathlib import Path

    from cluster.layout import load_layout
    from cluster.ray_session import init_ray
    from rollout.prompt import resolve_style
    from serving.app import build_application, run_server

    policy = Path(args.policy or Path(config.run_dir) / "final" / "policy")
    if not (policy / "config.json").is_file():
        raise ValueError(f"--policy: {policy} is not a trained policy (no config.json); run `llm-auction train` "
                         "first or pass --policy DIR")
    serving = config.serving.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port),
                                                                  ("ledger", args.ledger)) if v is not None})
    rollout = config.rollout
    if rollout.engine == "vllm" and importlib.util.find_spec("vllm") is None:
        rollout = rollout.model_copy(update={"engine": "hf"})  # machines without vLLM serve with transformers
    layout = load_layout(args.ray_config)
    init_ray(layout.address, layout.num_cpus, layout.runtime_env.env_vars)
    application = build_application(policy, rollout, resolve_style(rollout.prompt_style, config.judge.world),
                                    serving, layout.roles.serve, config.auction.max_bid)
    run_server(application, serving.host, serving.port)
    return 0


def run_submit(args, config: ExperimentConfig) -> int:
    import os

    from cluster.jobs import submit
    from cluster.layout import load_layout

    command = args.job[1:] if args.job[:1] == ["--"] else args.job
    if not command:
        raise ValueError("submit: give the llm-auction command after --, e.g. `submit -- train --config FILE`")
    address = args.address or os.environ.get("RAY_ADDRESS")
    return submit(address, command, load_layout(args.ray_config), os.getcwd(), wait=not args.no_wait)


def run_jobs(args, config: ExperimentConfig) -> int:
    import os

    from cluster.jobs import client, follow, list_jobs, stop_job

    address = args.address or os.environ.get("RAY_ADDRESS")
    if args.action == "list":
        print(json.dumps(list_jobs(address), indent=2))
        return 0
    if not args.job_id:
        raise ValueError(f"jobs {args.action}: give a job id (see `llm-auction jobs list`)")
    if args.action == "stop":
        print(json.dumps({"job_id": args.job_id, "stopped": stop_job(address, args.job_id)}))
        return 0
    return 0 if follow(client(address), args.job_id) == "SUCCEEDED" else 1


COMMANDS = {"world": run_world, "judge": run_judge, "base": run_base, "train": run_train, "submit": run_submit, "serve": run_serve, "evaluate": run_evaluate,
            "jobs": run_jobs}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag in ("config", "ray_config"):
        if getattr(args, flag, None):
            setattr(args, flag, str(project_file(getattr(args, flag))))
    configure_logging(args.verbose or args.command == "serve")  # a server shows its replicas' output
    try:
        config = load_config(getattr(args, "config", None), getattr(args, "overrides", []))
    except ConfigError as err:
        print(f"llm-auction: bad config:\n{err}", file=sys.stderr)
        return 2
    try:
        if args.command in COMMANDS:
            return COMMANDS[args.command](args, config)
    except (ValueError, OSError) as err:
        print(f"llm-auction {args.command}: {err}", file=sys.stderr)
        return 2
    print(dump_config(config), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
