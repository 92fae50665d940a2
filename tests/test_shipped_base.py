"""The pre-trained tiny base shipped in models/tiny-base: its files are the ones its build record names,
it loads, and the default config uses it as pi_0."""
from irpo.base.shipped import SHIPPED_BASE, read_build_record, shipped_base_for, verify_build
from irpo.config import BasePolicyConfig


def test_the_shipped_base_matches_its_build_record_and_loads():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    record = read_build_record(SHIPPED_BASE)
    assert record is not None and verify_build(SHIPPED_BASE) == []
    assert {"command", "base_config", "code_commit", "seed", "machine", "build_seconds", "checks"} <= set(record)
    model = AutoModelForCausalLM.from_pretrained(SHIPPED_BASE)
    assert model.config.hidden_size == record["base_config"]["hidden_size"]
    assert AutoTokenizer.from_pretrained(SHIPPED_BASE).eos_token is not None


def test_the_default_base_config_is_the_shipped_one_and_another_config_builds_its_own():
    assert shipped_base_for(BasePolicyConfig(), "tiny") == SHIPPED_BASE
    assert shipped_base_for(BasePolicyConfig(hidden_size=64), "tiny") is None
    assert shipped_base_for(BasePolicyConfig(fresh_queries=True), "tiny") is None  # a setting its record predates
    assert shipped_base_for(BasePolicyConfig(), "paper") is None


def test_a_changed_file_in_a_model_directory_is_named_against_its_record(tmp_path):
    import shutil

    copy = tmp_path / "base"
    shutil.copytree(SHIPPED_BASE, copy)
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert verify_build(copy) == ["config.json: SHA-256 differs from the build record"]
