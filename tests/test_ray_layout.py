import ipaddress
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


def test_the_8_gpu_layout_gives_every_gpu_role_whole_gpus_and_shards_dpo_with_zero3():
    layout = load_layout(ROOT / "configs" / "ray" / "8xgpu.yaml")
    roles = layout.roles
    assert roles.rollout.replicas * roles.rollout.gpus + roles.judge.replicas * roles.judge.gpus == 8
    assert roles.policy_trainer.workers * roles.policy_trainer.gpus == 8 and roles.policy_trainer.zero_stage == 3
    assert layout.address == "auto" and layout.runtime_env.working_dir == "."


def test_submitted_jobs_upload_the_project_without_venv_or_runs():
    from cluster.jobs import job_runtime_env

    env = job_runtime_env(load_layout(ROOT / "ray_config.yaml"), str(ROOT))
    assert env["working_dir"] == str(ROOT) and {".venv", "runs", ".git"} <= set(env["excludes"])
    assert env["env_vars"]["WANDB_MODE"] == "offline"


def test_the_1_gpu_layout_fits_every_stage_on_one_gpu_and_gives_the_scorer_the_gpu():
    roles = load_layout(ROOT / "configs" / "ray" / "1xgpu.yaml").roles
    assert roles.rollout.replicas * roles.rollout.gpus + roles.judge.replicas * roles.judge.gpus <= 1  # they stream together
    assert roles.scorer.gpus == 1 and roles.policy_trainer.workers * roles.policy_trainer.gpus == 1
    assert roles.reward_trainer.gpus == 1


def _is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1, an IPv4 socket seen through IPv6
    return (mapped or address).is_loopback


def test_a_local_ray_instance_listens_on_127_0_0_1_only(ray_local):
    import psutil

    me = psutil.Process()
    ours = {p.pid for p in [me, *me.children(recursive=True)]}
    listening = {(psutil.Process(c.pid).name(), c.laddr.ip, c.laddr.port) for c in psutil.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in ours}
    assert any(name == "gcs_server" for name, _, _ in listening), listening  # Ray's own services are seen
    assert [s for s in listening if not _is_loopback(s[1])] == []
