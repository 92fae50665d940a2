"""The installed `llm-auction` console script, run as a user would."""
import shutil
import subprocess
import sys
from pathlib import Path

CLI = shutil.which("llm-auction", path=str(Path(sys.executable).parent)) or "llm-auction"


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ["train", "evaluate", "serve", "submit", "world", "base", "config", "judge"]:
        assert command in result.stdout


def test_config_show_prints_the_resolved_config_with_overrides():
    result = run("config", "show", "irpo.epochs=7")
    assert result.returncode == 0, result.stderr
    assert "epochs: 7" in result.stdout and "beta: 0.1" in result.stdout


def test_a_bad_override_prints_the_key_path_and_exits_non_zero():
    result = run("config", "show", "irpo.dpo.beta=-1")
    assert result.returncode == 2
    assert "irpo.dpo.beta: must be > 0, got -1" in result.stderr
    assert result.stdout == ""




def test_project_configs_are_found_from_any_working_directory(tmp_path):
    result = subprocess.run([CLI, "config", "show", "--config", "configs/micro.yaml"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run_dir: runs/micro" in result.stdout


def test_a_train_that_cannot_start_leaves_no_run_directory(tmp_path):
    bad_layout = tmp_path / "layout.yaml"
    bad_layout.write_text("address: local\nnum_cpus: 0\n")
    result = subprocess.run([CLI, "train", "--run-dir", "run", "--ray-config", str(bad_layout)], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "layout.yaml" in result.stderr
    assert not (tmp_path / "run").exists()
