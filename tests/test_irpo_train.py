"""`llm-auction train` end to end on configs/micro.yaml: checkpoint, report, kill and resume."""
import json
import subprocess

import pytest
from conftest import CLI, MICRO, ROOT
from micro_runs import stage_records, train_args, wandb_ids

METRICS = {"revenue_per_query", "reward_per_query", "ctr", "ads_per_answer", "format_error_rate",
           "allocation_efficiency", "monotonicity_spearman", "monotone_share"}


def test_run_killed_at_a_stage_boundary_resumes_to_a_checkpoint_and_a_report(resumed_run):
    run_dir, report = resumed_run.run_dir, resumed_run.report
    first = resumed_run.kills[0]
    assert (first.stage, first.moment, set(first.records)) == ("epoch_1/samples", "after", {"epoch_1/samples"})
    after = stage_records(run_dir)
    assert after["epoch_1/samples"] == first.records["epoch_1/samples"]  # not run again: same record, same timing
    assert {"epoch_1/reward_model", "epoch_1/pairs", "epoch_1/policy", "final/samples", "final/policy"} <= set(after)
    assert METRICS <= set(report["final"]["base"]) and METRICS <= set(report["final"]["llm_auction"])
    assert 0 < report["final"]["bid_blind_efficiency"] < 1
    epoch = report["epochs"][0]
    assert set(epoch["stage_seconds"]) == {"samples", "reward_model", "pairs", "policy"}
    assert epoch["dpo"]["prompts"] > 0 and epoch["dpo"]["first_dpo_loss"] == pytest.approx(0.6931, abs=1e-3)
    assert set(epoch["dpo"]["worker_seconds"]) == {"worker_setup", "training_loop", "save"}
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(run_dir / "final" / "policy") is not None
    assert len(wandb_ids(run_dir)) == 1  # one W&B run across every resume
    assert (run_dir / "final" / "evaluation" / "report.md").is_file()  # train ends with the comparison
    markdown = (run_dir / "final" / "evaluation" / "report.md").read_text()
    assert markdown.count("## Bid response by epoch") == 1 and "| epoch 1 |" in markdown
    assert "## What the pairs teach about relevance" in markdown
    assert {"p_related", "exact_p_related", "winner_related_share"} <= set(epoch["pairs"])
    assert (run_dir / "final" / "evaluation" / "bid_response_by_epoch.png").is_file()
    assert list(report["stage_seconds"])[0] == "epoch_1/samples" and "final/policy" in report["stage_seconds"]
    assert report["mechanism_comparison"].endswith("report.md")


def test_the_comparison_after_training_reads_its_bid_curves_from_the_runs_own_probe_answers(resumed_run):
    run_dir, report = resumed_run.run_dir, resumed_run.report
    comparison = json.loads((run_dir / "final" / "evaluation" / "report.json").read_text())
    for name in ("base", "llm_auction"):
        measured = [clicks for _, clicks, _ in report["final"]["probe_curve"][name]]
        assert comparison["curves"]["monotonicity"][name]["clicks"] == pytest.approx(measured)


def test_a_no_op_resume_adds_its_invocation_and_keeps_the_earlier_wall_times_and_w_and_b_directories(resumed_run):
    run_dir, report = resumed_run.run_dir, resumed_run.report
    wandb_dirs = sorted((run_dir / "wandb").glob("offline-run-*"))
    result = subprocess.run([CLI, "train", "--resume", str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    again = json.loads((run_dir / "report.json").read_text())
    assert again["invocations"][:-1] == report["invocations"] and len(again["invocations"]) == 2
    assert again["wall_seconds"] >= report["wall_seconds"] > 0
    assert again["command_wall_seconds"] > report["command_wall_seconds"]
    assert "final/policy: already done" in result.stderr and "run finished" in result.stderr
    assert "report.md" in result.stderr and len(result.stderr.splitlines()) < 80
    assert (run_dir / "logs" / "llm-auction.log").is_file() and (run_dir / "logs" / "ray").is_dir()
    assert sorted((run_dir / "wandb").glob("offline-run-*")) == wandb_dirs


def test_evaluate_runs_every_mechanism_on_the_trained_policy_and_writes_the_report(resumed_run, micro_base, tmp_path):
    run_dir = resumed_run.run_dir
    out = tmp_path / "eval"
    result = subprocess.run(
        [CLI, "evaluate", "--config", MICRO, "--policy", str(run_dir / "final" / "policy"), "--base", str(micro_base),
         "--out", str(out), "--limit", "4", "rollout.engine=hf"], cwd=ROOT, capture_output=True, text=True,
        timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    keys = {"revenue_per_query", "reward_per_query", "ctr", "ads_per_answer", "format_error_rate",
            "allocation_efficiency", "generations_per_request", "seconds_per_request"}
    assert set(report["mechanisms"]) == {"base", "llm_auction", "mosaic", "segment", "prominence", "optimum",
                                         "bid_blind_optimum"}
    assert all(keys <= set(m) for m in report["mechanisms"].values())
    for metrics in report["mechanisms"].values():
        lo, hi = metrics["ci95"]["reward_per_query"]
        assert lo <= metrics["reward_per_query"] <= hi
    assert set(report["paired"]) == set(report["mechanisms"]) - {"llm_auction"}
    assert report["paired"]["base"]["revenue_per_query"]["ci95"] is not None
    assert report["mechanisms"]["segment"]["generations_per_request"] == 1
    assert report["mechanisms"]["mosaic"]["generations_per_request"] == 20
    assert report["mechanisms"]["llm_auction"]["generations_per_request"] == 1
    assert report["mechanisms"]["optimum"]["allocation_efficiency"] == pytest.approx(1.0)
    assert report["mechanisms"]["bid_blind_optimum"]["allocation_efficiency"] <= 1.0
    assert set(report["curves"]["monotonicity"]) == set(report["curves"]["continuity"]) == {"base", "llm_auction"}
    assert len(report["curves"]["continuity"]["llm_auction"]["clicks"]) == 100
    assert report["audit"]["advertisers"] >= 1 and report["audit"]["worst_regret"] >= 0
    assert {"report.md", "mechanisms.png", "monotonicity.png", "continuity.png"} <= {p.name for p in out.iterdir()}
    assert "## Verdict" in (out / "report.md").read_text()


def test_train_refuses_a_run_dir_holding_another_config(tmp_path, micro_base):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("irpo:\n  epochs: 7\n")
    result = subprocess.run(train_args(run_dir, micro_base), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "holds a run with another config (differs at" in result.stderr and "irpo.epochs" in result.stderr


@pytest.mark.parametrize("update", [{"min_click_rows": 10**6}, {"min_click_rows": 1, "min_holdout_auc": 1.0}],
                         ids=["too_few_inserted_ads", "a_fit_no_better_than_chance"])
def test_a_reward_phase_keeps_the_previous_reward_model_after(update, resumed_run, tmp_path):
    from cluster.layout import load_layout
    from irpo.loop.stages import StageInputs, reward_model_stage
    from judge.environment import get_world, simulated_user
    from llm_auction.config import load_config

    run_dir = resumed_run.run_dir
    config = load_config(run_dir / "config.yaml")
    irpo = config.irpo.model_copy(update={"reward_model": config.irpo.reward_model.model_copy(update=update)})
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    inputs = StageInputs(irpo, config.rollout, config.judge, config.auction, load_layout(ROOT / "ray_config.yaml").roles, user, "tiny",
                         tmp_path / "ray")
    previous = run_dir / "epoch_1" / "reward_model"
    result = reward_model_stage(inputs, [run_dir / "epoch_1" / "samples"], tmp_path / "rm", previous)
    assert result["reused"] == str(previous) and 0 < result["click_rows"] < 10**6
    assert result.get("degenerate", False) == ("min_holdout_auc" in update)
    assert (tmp_path / "rm" / "pctr.pt").read_bytes() == (previous / "pctr.pt").read_bytes()


def test_a_refit_with_replay_trains_on_earlier_epochs_clicks_and_holds_out_only_the_current_ones(resumed_run, tmp_path):
    from cluster.layout import load_layout
    from irpo.loop.sampling import read_samples
    from irpo.loop.stages import StageInputs, reward_model_stage
    from irpo.reward.data import click_rows
    from irpo.reward.refit_checks import split_click_rows
    from judge.environment import get_world, simulated_user
    from llm_auction.config import load_config

    run_dir = resumed_run.run_dir
    config = load_config(run_dir / "config.yaml")
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    inputs = StageInputs(config.irpo, config.rollout, config.judge, config.auction,
                         load_layout(ROOT / "ray_config.yaml").roles, user, "tiny", tmp_path / "ray")
    samples = run_dir / "epoch_1" / "samples"
    rows = click_rows(read_samples(samples, "reward"))
    reward_model = config.irpo.reward_model
    fit, _, held = split_click_rows(rows["request_id"], reward_model.holdout_share, reward_model.validation_share)
    # the same epoch replayed as if it were an earlier one: twice the training rows, the same held-out rows
    replayed = reward_model_stage(inputs, [samples, samples], tmp_path / "replayed")
    assert replayed["replayed_rows"] == replayed["click_rows"] == len(rows) > 0
    assert replayed["train_rows"] == 2 * fit.sum() and replayed["holdout_rows"] == held.sum()


def test_the_pctr_click_model_scores_a_batch_of_answers_as_it_scores_each_alone(resumed_run):
    from irpo.loop.sampling import read_samples
    from irpo.reward.click_model import PCTRClickModel

    run_dir = resumed_run.run_dir
    samples = read_samples(run_dir / "epoch_1" / "samples", "reward")
    request = samples[0].request
    answers = [s.answer for s in samples if s.request_id == samples[0].request_id]
    model = PCTRClickModel(run_dir / "epoch_1" / "reward_model")
    batched = model.answers_click_probs(request, answers)
    assert len(batched) == len(answers) > 1 and any(batched)
    for alone, together in zip((model.click_probs(request, a) for a in answers), batched):
        assert alone.keys() == together.keys() and all(abs(alone[k] - together[k]) < 1e-5 for k in alone)


def test_answer_rewards_of_a_runs_samples_are_the_auctions_reward_of_each_answer(resumed_run):
    from auction.reward import response_reward
    from irpo.dpo.pairs import answer_rewards
    from irpo.loop.sampling import read_samples
    from irpo.reward.data import click_rows, exact_click_probs
    from llm_auction.config import load_config

    run_dir = resumed_run.run_dir
    auction = load_config(run_dir / "config.yaml").auction
    samples = read_samples(run_dir / "epoch_1" / "samples", "policy")
    rows = click_rows(samples)
    rewards = answer_rewards(samples, rows.assign(p=exact_click_probs(samples, rows)), auction)
    expected = [response_reward(s.answer, s.bids, s.click_probs, auction.response_cost, auction.penalty_weight)
                for s in samples]
    assert len(rows) > 0 and rewards.tolist() == pytest.approx(expected)


def test_a_policy_phase_with_a_kl_budget_ends_after_the_step_that_exceeds_it(resumed_run, micro_base, tmp_path):
    from cluster.layout import load_layout
    from irpo.loop.stages import StageInputs, policy_stage
    from judge.environment import get_world, simulated_user
    from llm_auction.config import load_config

    run_dir = resumed_run.run_dir
    config = load_config(run_dir / "config.yaml")
    dpo = config.irpo.dpo.model_copy(update={"max_kl": 1e-9, "kl_window": 1, "epochs": 3})
    irpo = config.irpo.model_copy(update={"dpo": dpo})
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    inputs = StageInputs(irpo, config.rollout, config.judge, config.auction, load_layout(ROOT / "ray_config.yaml").roles,
                         user, "tiny", tmp_path / "ray")
    pairs = json.loads((run_dir / "epoch_1" / "pairs" / "stage.json").read_text())["result"]
    result = policy_stage(inputs, run_dir / "epoch_1" / "pairs", pairs["prompts"], micro_base, tmp_path / "policy")
    # the budget is below any step's estimate (before an update it is rounding between the policy's and the
    # reference's log-probs), so the phase ends at the first step whose estimate exceeds it
    assert result["optimizer_steps"] < result["planned_optimizer_steps"] and result["stopped_at_kl"] > 1e-9
    assert (tmp_path / "policy" / "config.json").is_file()


def test_ceiling_clones_the_optimum_from_a_base_and_checks_both_policies(micro_base, tmp_path):
    out = tmp_path / "ceiling"
    result = subprocess.run([CLI, "base", "ceiling", "--config", MICRO, "--policy", str(micro_base), "--out", str(out)],
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "ceiling_report.json").read_text())
    assert report["policy_dir"] == str(micro_base) and (out / "config.json").is_file()
    for name in ("policy", "cloned"):
        assert report[name]["requests"] > 0 and isinstance(report[name]["allocation_efficiency"], float)
        assert 0 < report[name]["bid_blind_efficiency"] < 1


def test_exact_reward_ranks_each_prompts_answers_by_the_simulated_users_exact_reward(resumed_run, tmp_path):
    from cluster.layout import load_layout
    from irpo.loop.stages import StageInputs, pairs_stage
    from judge.environment import get_world, simulated_user
    from llm_auction.config import load_config

    run_dir = resumed_run.run_dir
    config = load_config(run_dir / "config.yaml")
    irpo = config.irpo.model_copy(update={"reward": "exact", "pair_losers": "all", "delta_th": 0.0})
    user = simulated_user(get_world(config.judge.world, config.judge.world_seed), config.judge)
    inputs = StageInputs(irpo, config.rollout, config.judge, config.auction, load_layout(ROOT / "ray_config.yaml").roles,
                         user, "tiny", tmp_path / "ray")
    summary = pairs_stage(inputs, run_dir / "epoch_1" / "samples", None, run_dir / "final" / "policy", tmp_path / "pairs", epoch=1)
    assert summary["prompts"] > 0
    assert summary["reward_vs_exact_spearman"] == pytest.approx(1.0)
    assert summary["winner_exact_reward"] > summary["loser_exact_reward"]
    # each record's prompt is the one the engine tokenised at rollout, the prompt the chat template renders
    import pandas as pd
    from transformers import AutoTokenizer

    from irpo.loop.sampling import read_samples
    from rollout.ad_policy import prompt_text

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "final" / "policy")
    requests = {s.request_id: s.request for s in read_samples(run_dir / "epoch_1" / "samples", "policy")}
    records = pd.read_parquet(tmp_path / "pairs" / "pairs")
    assert len(records) == summary["prompts"]
    for request_id, prompt_ids in zip(records["request_id"], records["prompt_ids"]):
        rendered = tokenizer(prompt_text(tokenizer, requests[request_id], "tiny"), add_special_tokens=False)
        assert list(prompt_ids) == rendered["input_ids"]
