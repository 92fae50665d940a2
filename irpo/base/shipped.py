"""The pre-trained tiny base shipped with the project (`models/tiny-base`), and the build record every
`base build` writes beside its model.

The paper starts IRPO from a downloaded instruct model; the embedded default starts from this one,
built once with a long schedule (`llm-auction base build --out models/tiny-base`) and committed with its
record: the command, the base config, the code commit, the seed, the machine, the wall time, the checks
and a SHA-256 of every file. A run uses it as pi_0 when its `irpo.base` config is the one it was built
with; any other base config is built into the run directory instead.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from irpo.config import BasePolicyConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_BASE = PROJECT_ROOT / "models" / "tiny-base"
RECORD_FILE = "build.json"
HASHED = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
          "chat_template.jinja")


def file_hashes(model_dir: Path) -> dict[str, str]:
    """SHA-256 of the files that make up the model (weights, config, tokenizer)."""
    return {name: hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
            for name in HASHED if (model_dir / name).is_file()}


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "")
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": sys.version.split()[0]}


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def code_commit() -> str:
    """The git commit the build ran from, with `+changes` when the tree had uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD")
    return f"{commit}+changes" if commit and git("status", "--porcelain", "--untracked-files=no") else commit or "unknown"


def write_build_record(model_dir: Path, config: BasePolicyConfig, command: str, seconds: float, checks: dict) -> dict:
    record = {"command": command, "base_config": config.model_dump(mode="json"), "seed": config.sft.seed,
              "code_commit": code_commit(), "machine": machine(), "build_seconds": round(seconds, 1),
              "checks": checks, "files": file_hashes(model_dir)}
    (model_dir / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_build_record(model_dir: Path) -> dict | None:
    path = model_dir / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def verify_build(model_dir: Path) -> list[str]:
    """What differs between the files in `model_dir` and its build record (empty: they match)."""
    record = read_build_record(model_dir)
    if record is None:
        return [f"{model_dir}: no {RECORD_FILE}"]
    found = file_hashes(model_dir)
    problems = [f"{name}: missing" for name in record["files"] if name not in found]
    problems += [f"{name}: SHA-256 differs from the build record" for name, digest in record["files"].items()
                 if name in found and found[name] != digest]
    return problems


def ships(config: BasePolicyConfig, world: str) -> bool:
    """Whether the shipped base's record says it was built with exactly this base config for this world."""
    record = read_build_record(SHIPPED_BASE)
    if world != "tiny" or record is None:
        return False
    # read with today's schema: a setting added since the build, at the default that reproduces it, still matches
    built_with = type(config).model_validate(record["base_config"])
    return built_with.model_dump(mode="json") == config.model_dump(mode="json")


def shipped_base_for(config: BasePolicyConfig, world: str) -> Path | None:
    """The shipped base when it was built with exactly this base config for this world (its files checked
    against the record), else None."""
    if not ships(config, world):
        return None
    problems = verify_build(SHIPPED_BASE)
    if problems:
        raise ValueError(f"the shipped base {SHIPPED_BASE} does not match its build record: " + "; ".join(problems)
                         + " (restore it with git, or rebuild it with `llm-auction base build --out models/tiny-base`)")
    return SHIPPED_BASE
