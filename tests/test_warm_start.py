"""An imported instruct model's format lesson, and the GPU smoke config that runs it through IRPO."""
import json
import subprocess

import yaml

from auction.parser import parse_answer
from irpo.base.warm_start import english, warm_start_examples
from judge.tiny_world import build_tiny_world
from conftest import CLI, ROOT

SMOKE = str(ROOT / "configs" / "gpu-smoke.yaml")


def test_english_capitalises_each_sentence_and_keeps_a_leading_mention_exact():
    answer = "start slow with yoga and keep a simple plan . @yoga mat pro@[Ad-1] is a good pick for stretch ."
    assert english(answer) == ("Start slow with yoga and keep a simple plan. "
                               "@yoga mat pro@[Ad-1] is a good pick for stretch.")


def test_warm_start_chats_use_the_full_prompt_and_answers_whose_mentions_all_parse():
    world = build_tiny_world(0)
    examples = list(warm_start_examples(world, 200, seed=3))
    inserted = 0
    for example in examples:
        system, user = example.messages
        assert "Insert an ad only as @Ad Title@[Ad ID]" in system["content"]
        assert "Candidate ads, one JSON object per line:" in user["content"]
        assert len(example.followups) == 3
        candidates = [world.ads[json.loads(line)["Ad ID"]].as_ad() for line in user["content"].splitlines()
                      if line.startswith("{")]
        parsed = parse_answer(example.answer, candidates)
        assert len(candidates) == 8 and not parsed.errors and 1 <= len(parsed.inserted) <= 4, example.answer
        assert example.answer[0].isupper() or example.answer.startswith("@"), example.answer
        inserted += len(parsed.inserted)
        for question, mention in example.followups:  # a named candidate's own mention
            (asked,) = [ad for ad in candidates if f'"{ad.title}"' in question]
            assert parse_answer(mention, candidates).ad_ids == (asked.ad_id,)
    assert inserted > len(examples)  # some answers show several ads


def test_warm_start_of_a_directory_that_holds_no_model_names_it_and_what_to_run_instead(tmp_path):
    result = subprocess.run([CLI, "base", "warm-start", "--config", SMOKE, "--policy", str(tmp_path / "missing"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode != 0 and not (tmp_path / "out").exists()
    assert f"--policy {tmp_path / 'missing'} is not an HF model directory" in result.stderr
    assert "base import-smollm2" in result.stderr


def test_gpu_smoke_config_trains_a_warm_started_smollm2_with_clicks_pairs_and_dpo_steps(smollm2_dir, tmp_path):
    """The GPU smoke run as its README commands give it, on CPU and trimmed to fit the suite: a shorter format
    lesson, fewer requests, no mechanism comparison (the micro run's tests cover it)."""
    policy, run_dir = tmp_path / "smollm2-ad", tmp_path / "run"
    warm = subprocess.run([CLI, "base", "warm-start", "--config", SMOKE, "--policy", str(smollm2_dir),
                           "--out", str(policy), "irpo.warm_start.examples=32", "irpo.warm_start.check_requests=8"],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert warm.returncode == 0, warm.stderr[-3000:]
    checks = json.loads((policy / "warm_start_report.json").read_text())["checks"]
    assert checks["ads_per_answer"] >= 0.5, checks  # valid mentions of candidates: the cold model writes none

    train = subprocess.run([CLI, "train", "--config", SMOKE, "--run-dir", str(run_dir), f"rollout.policy={policy}",
                            "irpo.reward_queries=16", "irpo.policy_queries=8", "irpo.evaluation.requests=6",
                            "irpo.evaluation.report_mechanisms=[]"],
                           capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert train.returncode == 0, train.stderr[-3000:]
    assert "WARNING" not in train.stdout, train.stdout
    epoch = json.loads((run_dir / "report.json").read_text())["epochs"][0]
    assert epoch["reward_model"]["click_rows"] > 0
    assert epoch["pairs"]["pairs"] > 0
    assert epoch["dpo"]["optimizer_steps"] > 0 and not epoch["dpo"].get("skipped")
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["rollout"]["prompt_style"] == "full"
