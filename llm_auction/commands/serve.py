"""`llm-auction serve`: the auction endpoint on Ray Serve (policy deployment + ingress + ledger)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from llm_auction.commands.options import with_config, with_ray_config
from llm_auction.config import ExperimentConfig


def add_parser(commands) -> None:
    serve = with_ray_config(with_config(commands.add_parser("serve", help="serve the auction endpoint with Ray Serve")))
    serve.add_argument("--policy", help="HF dir of the policy (default: RUN_DIR/final/policy of the config's run)")
    serve.add_argument("--host", help="default: serving.host (127.0.0.1)")
    serve.add_argument("--port", type=int, help="default: serving.port (8000)")
    serve.add_argument("--ledger", help="a SQLite file or postgresql://USER@HOST:PORT/DB (default: serving.ledger)")


def run(args, config: ExperimentConfig) -> int:
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
