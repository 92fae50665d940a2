"""IRPO's pieces: pair construction, pair batches, the run store, the probe metrics, the pCTR fit."""

import numpy as np
import pandas as pd
import pytest

from auction import Ad, AuctionRequest, Candidate, UserProfile
from auction.parser import ParsedAnswer
from irpo.dpo.pairs import Preference, build_preferences, group_tensors
from irpo.loop.held_out import probe_curves, probe_metrics
from irpo.loop.run_store import RunStore, timing_table
from judge.judged_sample import JudgedSample


def test_a_prompts_winner_is_preferred_to_every_answer_more_than_delta_below_it():
    preferences = build_preferences(["a"] * 4 + ["b"] * 3, [0, 1, 2, 3, 0, 1, 2], [50, 45, 30, 10, 7, 7, 7], delta_th=10)
    assert preferences == [Preference("a", 0, (2, 3))]  # b: all equal, no loser; a: 45 is within 10


def test_same_count_losers_keep_only_answers_with_as_many_ads_as_the_winner():
    preferences = build_preferences(["a"] * 4, [0, 1, 2, 3], [50, 30, 20, 10], delta_th=10, ad_counts=[2, 2, 1, 2])
    assert preferences == [Preference("a", 0, (1, 3))]


def test_with_zero_threshold_every_strictly_worse_answer_loses_and_ties_go_to_the_first_sample():
    preferences = build_preferences(["a"] * 3, [0, 1, 2], [5.0, 5.0, -1.0], delta_th=0)
    assert preferences == [Preference("a", 0, (2,))]


def test_a_preference_batch_puts_winners_first_then_each_prompts_losers_and_marks_only_completions():
    batch = {"prompt_ids": [[1, 2], [3]], "chosen_ids": [[7, 8, 9], [4]], "rejected_ids": [[[5]], [[6, 6], [9]]],
             "banned": [[11], []], "once": [[], [12]]}
    tensors, group, rules = group_tensors(batch, pad_id=0)
    assert tensors["input_ids"].tolist() == [[1, 2, 7, 8, 9], [3, 4, 0, 0, 0], [1, 2, 5, 0, 0], [3, 6, 6, 0, 0],
                                             [3, 9, 0, 0, 0]]
    assert tensors["completion_mask"].tolist() == [[0, 0, 1, 1, 1], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0],
                                                   [0, 1, 1, 0, 0], [0, 1, 0, 0, 0]]
    assert group.tolist() == [0, 1, 1]
    assert rules == {"banned": [[11], [], [11], [], []], "once": [[], [12], [], [12], [12]]}


def test_a_stage_that_dies_midway_leaves_nothing_and_a_finished_stage_never_runs_again(tmp_path):
    store = RunStore(tmp_path)
    calls = []

    def dies(out):
        (out / "half.txt").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.run("epoch_1/samples", dies)
    assert not store.done("epoch_1/samples") and not store.path("epoch_1/samples").exists()

    def works(out):
        calls.append(1)
        (out / "data.txt").write_text("ok")
        return {"rows": 3}

    assert store.run("epoch_1/samples", works).result == {"rows": 3}
    assert store.run("epoch_1/samples", works).result == {"rows": 3}
    assert calls == [1] and (store.path("epoch_1/samples") / "data.txt").read_text() == "ok"
    assert store.latest() == "epoch_1/samples"
    assert not list(tmp_path.glob("epoch_1/.*"))


def _probe_samples(curves):
    """Probe samples of Ad-1 at each bid, with the given exact clicks (None: the ad was not shown)."""
    samples = []
    for request_id, curve in curves.items():
        for bid, clicks in curve:
            request = AuctionRequest(request_id, UserProfile("u-1"), "q", (Candidate(Ad("Ad-1", "Floral Cup"), bid),))
            samples.append(JudgedSample(request, ParsedAnswer("", (), ()), {},
                                        {"Ad-1": clicks} if clicks is not None else {}, purpose="probe", probe_ad="Ad-1"))
    return samples


def test_probe_scores_one_for_a_policy_whose_clicks_rise_with_the_bid_and_counts_dips_per_request():
    rising = {"q1": [(1, None), (50, 0.2), (100, 0.4)], "q2": [(1, 0.1), (50, 0.05), (100, 0.5)]}
    metrics = probe_metrics(probe_curves(_probe_samples(rising)))
    assert metrics["monotonicity_spearman"] == pytest.approx(1.0)
    assert metrics["monotone_share"] == pytest.approx(0.5)  # q2 falls by 0.05 > 0.02
    assert [v for _, v, _ in metrics["probe_curve"]] == pytest.approx([0.05, 0.125, 0.45])
    # per-request least-squares slopes in clicks per 100 bid units: q1 0.4040, q2 0.4057
    assert metrics["bid_slope"] == pytest.approx(0.4049, abs=1e-4)
    assert metrics["bid_slope_stderr"] == pytest.approx(0.00085, abs=1e-4)


def test_probe_of_a_bid_blind_policy_has_a_slope_within_its_error_however_its_curve_ranks():
    rng = np.random.default_rng(1)
    grid = [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    noise = {f"q{i}": [(b, float(rng.uniform(0, 0.6))) for b in grid] for i in range(96)}
    metrics = probe_metrics(probe_curves(_probe_samples(noise)))
    assert abs(metrics["bid_slope"]) < 2.5 * metrics["bid_slope_stderr"]
    assert metrics["bid_slope_stderr"] < 0.05
    assert 0.1 < metrics["monotonicity_spearman_stderr"] < 0.6  # the mean curve's ranks stay noise


def test_probe_of_a_bid_blind_policy_is_not_monotone():
    flat = {"q1": [(1, 0.3), (50, 0.3), (100, 0.3)]}
    assert probe_metrics(probe_curves(_probe_samples(flat)))["monotonicity_spearman"] == 0.0


def test_click_rows_split_by_request_into_fit_early_stopping_and_held_out_slices():
    from irpo.reward.refit_checks import split_click_rows

    ids = pd.Series([f"q-{i // 2}" for i in range(1000)])  # two ads per answer's request
    fit, stop, held = split_click_rows(ids, 0.1, 0.1)
    assert ((fit.astype(int) + stop.astype(int) + held.astype(int)) == 1).all()
    assert 60 < stop.sum() < 140 and 60 < held.sum() < 140
    for mask in (fit, stop, held):
        assert not set(ids[mask]) & set(ids[~mask])  # a request never straddles two slices
    fit, stop, held = split_click_rows(pd.Series(["q-1", "q-1"]), 0.1, 0.1)
    assert fit.all()  # one request: nothing can be set aside


def test_reward_model_fit_under_ray_train_beats_the_base_rate_on_held_out_rows(ray_local, tmp_path):
    from cluster.layout import TrainerRole
    from irpo.config import RewardModelConfig
    from irpo.ds_train import TrainerRun
    from irpo.reward.data import IdIndex
    from irpo.reward.trainer import ClickFeatures, fit_reward_model, load_reward_model, log_loss, predict

    rng = np.random.default_rng(0)
    n, dim = 1200, 8
    text = rng.normal(size=(n, 2 * dim)).astype(np.float32)
    ad_ids = [f"Ad-{k}" for k in rng.integers(1, 5, n)]
    # learnable: ad 2 is clicked 80% of the time, the others 10%, shifted by the first text feature
    p = np.where(np.array(ad_ids) == "Ad-2", 0.8, 0.1)
    clicked = (rng.random(n) < np.clip(p + 0.1 * np.sign(text[:, 0]), 0, 1)).astype(np.float32)
    users, ads = IdIndex([f"u-{k}" for k in range(5)]), IdIndex(ad_ids)
    arrays = {"text": text, "user": np.ones(n, np.int64), "ad": ads(ad_ids), "position": np.zeros(n, np.int64),
              "count": np.ones(n, np.int64), "clicked": clicked}
    train = {k: v[:800] for k, v in arrays.items()}
    valid = {k: v[800:1000] for k, v in arrays.items()}
    held = {k: v[1000:] for k, v in arrays.items()}
    config = RewardModelConfig(epochs=15, batch_size=64, lr=3e-3, hidden_dims=(16,))
    history = fit_reward_model(ClickFeatures(train, valid, users, ads), config,
                               TrainerRun(TrainerRole(workers=1, cpus=0.5, zero_stage=0), tmp_path / "rm", tmp_path / "ray"))
    model, meta = load_reward_model(tmp_path / "rm")
    loss = log_loss(predict(model, meta, held), held["clicked"])
    base = log_loss(np.full(200, train["clicked"].mean()), held["clicked"])
    assert loss < base - 0.05, (loss, base)
    # early stopping: the saved weights are the epoch with the lowest validation log-loss
    assert len(history) == 15
    best = min(h["valid_log_loss"] for h in history)
    assert log_loss(predict(model, meta, valid), valid["clicked"]) == pytest.approx(best, abs=1e-4)


def test_a_torch_extension_lock_left_by_a_killed_build_is_cleared_and_a_fresh_one_kept(tmp_path, monkeypatch):
    import os
    import time

    from irpo.ds_train import STALE_LOCK_S, clear_stale_extension_locks

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    stale, fresh = tmp_path / "py311_cpu" / "deepspeed_shm_comm" / "lock", tmp_path / "py311_cpu" / "other" / "lock"
    for lock in (stale, fresh):
        lock.parent.mkdir(parents=True)
        lock.touch()
    old = time.time() - STALE_LOCK_S - 60
    os.utime(stale, (old, old))
    clear_stale_extension_locks()
    assert not stale.exists() and fresh.exists()


def test_stage_timings_list_finished_stages_in_order_with_their_share(tmp_path):
    store = RunStore(tmp_path)
    for stage in ("epoch_1/samples", "epoch_1/pairs"):
        store.run(stage, lambda out: {})
    timings = store.timings()
    assert list(timings) == ["epoch_1/samples", "epoch_1/pairs"]
    table = timing_table({"epoch_1/samples": 30.0, "epoch_1/pairs": 10.0})
    assert "epoch_1/samples     30.0  75.0%" in table and table.splitlines()[-1].split()[:2] == ["total", "40.0"]


def test_each_phases_rows_carry_its_sampling_temperature_and_none_means_the_policys():
    from irpo.config import IRPOConfig
    from irpo.loop.phase_rows import training_rows
    from judge.tiny_world import build_tiny_world

    config = IRPOConfig(reward_queries=3, policy_queries=2, reward_temperature=1.2)
    rows = training_rows(build_tiny_world(0), config, epoch=1, bid_seed=0)
    assert {(r["purpose"], r["temperature"]) for r in rows} == {("reward", 1.2), ("policy", None)}
    explored = training_rows(build_tiny_world(0), config.model_copy(update={"policy_temperature": 1.0}), 1, 0)
    assert {(r["purpose"], r["temperature"]) for r in explored} == {("reward", 1.2), ("policy", 1.0)}


def test_a_refit_with_one_class_held_out_is_judged_by_its_log_loss_alone():
    from irpo.reward.refit_checks import degenerate_fit

    fit = {"holdout_auc": None, "holdout_log_loss": 0.30, "holdout_log_loss_base_rate": 0.35}
    assert not degenerate_fit(fit, 0.55)
    assert degenerate_fit({**fit, "holdout_log_loss": 0.40}, 0.55)
    assert degenerate_fit({**fit, "holdout_auc": 0.50}, 0.55)


def test_rule_state_bans_later_required_tokens_and_the_stop_until_placed_then_forces_at_the_deadline():
    from rollout.engine import RuleState, TokenRules

    state = RuleState(TokenRules(banned=(9,), required=(1, 2), stop=(0,), deadline=5))
    assert sorted(state.banned_now()) == [0, 2, 9] and state.forced() is None
    state.advance([7, 1])
    assert sorted(state.banned_now()) == [0, 1, 9] and state.forced() is None
    state.advance([7, 7])
    assert state.forced() == 2  # 4 tokens used of 5, one required token missing
    state.advance([2])
    assert sorted(state.banned_now()) == [1, 2, 9] and state.forced() is None


def test_a_policy_phase_on_a_reward_model_kept_from_an_earlier_epoch_is_skipped_by_default(tmp_path):
    from auction.config import AuctionConfig
    from cluster.layout import Roles
    from irpo.config import IRPOConfig
    from irpo.loop.stages import StageInputs, policy_stage
    from irpo.reward.refit_checks import reward_model_doubt
    from judge.config import JudgeConfig
    from rollout.config import RolloutConfig

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "config.json").write_text("{}")
    inputs = StageInputs(IRPOConfig(), RolloutConfig(), JudgeConfig(), AuctionConfig(), Roles(), None, "tiny",
                         tmp_path / "ray")
    assert IRPOConfig().train_on_stale_reward is False
    out = tmp_path / "out"
    out.mkdir()
    doubt = reward_model_doubt({"reused": "epoch_1/reward_model", "degenerate": True})
    result = policy_stage(inputs, tmp_path / "no-pairs", 12, policy, out, doubt)
    assert result["prompts"] == 12 and "kept from an earlier epoch" in result["skipped"]
    assert (out / "config.json").read_text() == "{}"  # the policy carries over unchanged


def test_a_degenerate_first_refit_with_no_earlier_model_is_a_reason_not_to_train_the_policy():
    from irpo.reward.refit_checks import reward_model_doubt

    assert "no earlier one" in reward_model_doubt({"degenerate": True, "holdout_auc": 0.51})
    assert reward_model_doubt({"degenerate": False, "holdout_auc": 0.7}) is None


def test_click_probability_by_relevance_separates_related_from_unrelated_ads():
    import pandas as pd

    from irpo.loop.pair_diagnostics import click_probability_by_relevance
    from judge.environment import get_world

    world = get_world("tiny", 0)
    query = world.split("train")[0]
    candidates = world.candidate_ids(query)
    related = [a for a in candidates if world.is_related(query, a)]
    unrelated = [a for a in candidates if not world.is_related(query, a)]
    rows = pd.DataFrame({"request_id": [query.query_id] * 3, "ad_id": [related[0], related[0], unrelated[0]],
                         "p": [0.4, 0.6, 0.3]})
    figures = click_probability_by_relevance(rows, [0.5, 0.5, 0.01], world)
    assert figures == pytest.approx({"p_related": 0.5, "exact_p_related": 0.5, "p_unrelated": 0.3,
                                     "exact_p_unrelated": 0.01})


def test_a_refit_reads_its_own_epochs_clicks_first_then_up_to_replay_epochs_earlier_ones():
    from irpo.loop.driver import refit_epochs

    assert refit_epochs(1, 2) == [1]
    assert refit_epochs(3, 0) == [3]
    assert refit_epochs(3, 1) == [3, 2]
    assert refit_epochs(3, 5) == [3, 2, 1]


def test_a_run_that_fits_no_pctr_model_leaves_mosaic_out_of_its_comparison_instead_of_failing_it():
    from evaluation.after_training import ComparisonAfterTraining
    from irpo.config import IRPOConfig

    exact = IRPOConfig(reward="exact")
    comparison = ComparisonAfterTraining(exact.evaluation, exact.fits_reward_model)
    assert "mosaic" not in comparison.mechanisms and comparison.left_out == ["mosaic"]
    assert {"base", "llm_auction", "optimum"} <= set(comparison.mechanisms) and comparison.stages
    method = IRPOConfig()
    assert ComparisonAfterTraining(method.evaluation, method.fits_reward_model).mechanisms == list(
        method.evaluation.report_mechanisms)


def test_inserted_ad_traits_count_the_answers_with_two_or_more_ads():
    from auction.parser import parse_request_answer, render_mention
    from irpo.loop.held_out import inserted_ad_traits
    from judge.judged_sample import JudgedSample
    from judge.tiny_world import build_tiny_world

    world = build_tiny_world(0)
    query = world.split("train")[0]
    first, second = (world.ads[a] for a in world.candidate_ids(query)[:2])
    request = world.request(query, {a: 10.0 for a in world.candidate_ids(query)})
    answers = ["no ads here .", f"try {render_mention(first.as_ad())} .",
               f"try {render_mention(first.as_ad())} . or {render_mention(second.as_ad())} ."]
    samples = [JudgedSample(request, parse_request_answer(a, request), {}, {}) for a in answers]
    assert inserted_ad_traits(samples, world)["two_ad_share"] == 1 / 3
    assert inserted_ad_traits([], world)["two_ad_share"] is None
