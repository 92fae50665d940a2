from pathlib import Path

import pytest

from llm_auction.config import ConfigError, ExperimentConfig, dump_config, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_hold_the_paper_settings_where_published():
    config = load_config()
    assert config.irpo.dpo.beta == 0.1 and config.irpo.delta_th == 10 and config.irpo.policy_samples_per_query == 5
    assert config.rollout.sampling.temperature == 0.7 and config.judge.llm.temperature == 0.3
    assert config.auction.penalty_weight == 1.0


def test_dotted_overrides_are_typed_from_yaml_values():
    config = load_config(None, ["irpo.epochs=2", "irpo.reward=clicks", "irpo.reward_model.hidden_dims=[16, 8]"])
    assert config.irpo.epochs == 2 and config.irpo.reward == "clicks"
    assert config.irpo.reward_model.hidden_dims == (16, 8)


def test_an_out_of_range_value_names_the_key_path_and_the_bound():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["irpo.dpo.beta=-1"])
    assert str(err.value) == "irpo.dpo.beta: must be > 0, got -1"


def test_unknown_keys_wrong_types_and_bad_choices_are_all_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["irpo.dpo.betta=1", "irpo.epochs=many", "rollout.engine=tgi"])
    lines = str(err.value).splitlines()
    assert "irpo.dpo.betta: unknown key" in lines
    assert any(line.startswith("irpo.epochs: ") and "'many'" in line for line in lines)
    assert any(line.startswith("rollout.engine: must be one of") for line in lines)


def test_malformed_overrides_are_rejected_before_validation():
    for bad in ["irpo.epochs", "=3", "irpo..epochs=3"]:
        with pytest.raises(ConfigError, match="expected dotted.key=value"):
            load_config(None, [bad])
    with pytest.raises(ConfigError, match="irpo.epochs: is a value, not a section"):
        load_config(None, ["irpo.epochs=2", "irpo.epochs.x=3"])
    with pytest.raises(ConfigError, match="irpo.epochs: "):
        load_config(None, ["irpo.epochs.x=3"])


def test_yaml_file_is_applied_under_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("irpo:\n  epochs: 5\n  dpo:\n    lr: 1.0e-5\n")
    config = load_config(path, ["irpo.epochs=4"])
    assert config.irpo.epochs == 4 and config.irpo.dpo.lr == 1e-5


@pytest.mark.parametrize(
    "content, message",
    [("- a\n- b\n", "top level must be a mapping"), ("irpo: [\n", "not valid YAML"), ("judge:\n  kind: oracle\n", "judge.kind")],
)
def test_bad_files_are_reported_with_their_problem(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_missing_file_is_named():
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config("nope.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    assert isinstance(load_config(path), ExperimentConfig)


def test_dumped_config_loads_back_to_the_same_config(tmp_path):
    config = load_config(None, ["irpo.epochs=2", "serving.port=9000"])
    path = tmp_path / "dump.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config
