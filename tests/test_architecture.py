"""The package layering of docs/DESIGN.md: a package imports only from those before it."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["auction", "cluster", "rollout", "judge", "irpo", "evaluation", "serving", "llm_auction"]
HEAVY = {"ray", "torch", "vllm", "deepspeed", "transformers", "datasets", "wandb"}


def imported_top_levels(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", LAYERS)
def test_packages_import_only_from_earlier_layers(package):
    later = set(LAYERS[LAYERS.index(package) + 1 :])
    assert imported_top_levels(package) & later == set()


def test_auction_is_pure_python():
    assert imported_top_levels("auction") & HEAVY == set()
    probe = "import sys, auction, auction.mechanisms; print(sorted(m for m in " + repr(HEAVY) + " if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def called_names(directory: Path) -> set[str]:
    names = set()
    for path in directory.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                names.add(node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", ""))
    return names


@pytest.mark.parametrize("stage_code", ["irpo/loop", "irpo/reward", "irpo/dpo"])
def test_stages_after_the_judge_read_its_parsed_answers_instead_of_parsing_again(stage_code):
    assert called_names(ROOT / stage_code) & {"parse_answer", "parse_request_answer"} == set()
