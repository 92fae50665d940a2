from pathlib import Path

import pytest

from cluster.layout import load_layout

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_ray_config_validates_with_two_dpo_workers():
    layout = load_layout(ROOT / "ray_config.yaml")
    assert layout.address == "local" and layout.roles.policy_trainer.workers == 2


def test_a_bad_role_value_names_the_file_and_key_path(tmp_path):
    path = tmp_path / "ray_config.yaml"
    path.write_text("roles:\n  rollout: {replicas: 0}\n  judges: {}\n")
    with pytest.raises(ValueError) as err:
        load_layout(path)
    assert "roles.rollout.replicas" in str(err.value) and "roles.judges" in str(err.value)
