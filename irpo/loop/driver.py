"""The IRPO driver: T epochs of reward phase then policy phase, evaluated after every epoch, resumable.

Epoch t samples pi_{t-1} once for everything that needs it (both phases and pi_{t-1}'s evaluation),
fits the pCTR model on the reward rows, builds DPO pairs from the policy rows, and trains pi_t. A last
pass evaluates pi_T. Every stage is atomic in the RunStore, so `--resume` skips what is done.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from irpo.loop.held_out import METRIC_KEYS
from irpo.loop.phase_rows import evaluation_rows, training_rows
from irpo.loop.run_store import RunStore, copy_stage_contents
from irpo.loop.sampling import read_samples
from irpo.loop.stages import StageInputs, pairs_stage, policy_stage, reward_model_stage, samples_stage
from irpo.reward.refit_checks import reward_model_doubt

log = logging.getLogger(__name__)
STAGES_PER_EPOCH = ("samples", "reward_model", "pairs", "policy")


def stage_name(epoch: int, stage: str, epochs: int) -> str:
    """The run store's name of a stage: `epoch_<t>/<stage>`, or `final/<stage>` past the last epoch."""
    return f"final/{stage}" if epoch > epochs else f"epoch_{epoch}/{stage}"


def stage_plan(irpo) -> list[str]:
    """Every stage the driver runs, in order (train adds the mechanism comparison after them)."""
    per_epoch = [s for s in STAGES_PER_EPOCH if s != "reward_model" or irpo.fits_reward_model]
    plan = [stage_name(e, s, irpo.epochs) for e in range(1, irpo.epochs + 1) for s in per_epoch]
    return plan + ["final/samples", "final/policy"] + (["final/reward_model"] if irpo.fits_reward_model else [])


def refit_epochs(epoch: int, replay_epochs: int) -> list[int]:
    """The epochs whose reward-phase clicks epoch `epoch`'s pCTR refit reads: its own first, then up to
    `replay_epochs` earlier ones, latest first (irpo.reward_model.replay_epochs)."""
    return list(range(epoch, max(epoch - 1 - replay_epochs, 0), -1))


def evaluation_stage(policy_epoch: int, epochs: int) -> str:
    """The stage holding pi_k's held-out evaluation: the rollout that samples pi_k for epoch k + 1 (for pi_T, the
    final one) evaluates it too, so one engine pass serves both."""
    return stage_name(policy_epoch + 1, "samples", epochs)


def step_of(epoch: int, stage: str) -> int:
    """W&B step of a stage: its place in the run's fixed plan, so a resumed run logs in order."""
    return (epoch - 1) * len(STAGES_PER_EPOCH) + STAGES_PER_EPOCH.index(stage)


def after_loop_step(epochs: int) -> int:
    """W&B step of what runs after the loop (the mechanism comparison): after pi_T's evaluation."""
    return step_of(epochs + 1, "samples") + 1


class IRPODriver:
    def __init__(self, inputs: StageInputs, store: RunStore, tracker, base_policy: Path):
        self.inputs, self.store, self.tracker, self.base_policy = inputs, store, tracker, base_policy
        world = inputs.user.world
        self.eval_rows = evaluation_rows(world, inputs.user, inputs.irpo.evaluation, inputs.judge.seed)

    def run(self) -> dict:
        start = time.perf_counter()
        epochs = self.inputs.irpo.epochs
        policy, history = self.base_policy, []
        for epoch in range(1, epochs + 1):
            self._samples(epoch, policy, training=True)
            policy, record = self._epoch(epoch, policy)
            history.append(record)
        self._samples(epochs + 1, policy, training=False)
        evaluations = [self.store.result(evaluation_stage(k, epochs)).result["metrics"] for k in range(epochs + 1)]
        for record, metrics in zip(history, evaluations[1:]):  # epoch t's record carries pi_t's evaluation
            record["metrics"] = metrics
        self._publish(policy, epochs)
        return self._report(evaluations[0], evaluations[-1], history, time.perf_counter() - start)

    def _stage_name(self, epoch: int, stage: str) -> str:
        return stage_name(epoch, stage, self.inputs.irpo.epochs)

    def _samples(self, epoch: int, policy: Path, training: bool) -> None:
        """Sample pi_{epoch-1}: its evaluation rows, and the training rows of epoch `epoch` unless past the last."""
        name = self._stage_name(epoch, "samples")
        rows = self.eval_rows + (training_rows(self.inputs.user.world, self.inputs.irpo, epoch, self.inputs.judge.seed)
                                 if training else [])
        record = self.store.run(name, lambda out: samples_stage(self.inputs, rows, policy, out))
        step = step_of(epoch, "samples")
        metrics = record.result["metrics"]
        self.tracker.log({**{f"eval/{k}": metrics[k] for k in METRIC_KEYS if metrics.get(k) is not None},
                          "eval/epoch": epoch - 1, "time/samples_s": record.seconds,
                          "throughput/rollout_tokens_per_s": record.result["tokens_per_second"]}, step)
        self._sample_table(self.store.path(name), epoch, step)

    def _epoch(self, epoch: int, policy: Path) -> tuple[Path, dict]:
        inputs, store = self.inputs, self.store
        samples_dir = store.path(self._stage_name(epoch, "samples"))
        timings = {"samples": store.result(self._stage_name(epoch, "samples")).seconds}
        rm_dir, doubt = None, None
        record = {"epoch": epoch}
        if inputs.irpo.fits_reward_model:
            rm_name = self._stage_name(epoch, "reward_model")
            previous = store.path(self._stage_name(epoch - 1, "reward_model")) if epoch > 1 else None
            samples_dirs = [store.path(self._stage_name(e, "samples"))
                            for e in refit_epochs(epoch, inputs.irpo.reward_model.replay_epochs)]
            rm = store.run(rm_name, lambda out: reward_model_stage(inputs, samples_dirs, out, previous))
            rm_dir, timings["reward_model"], record["reward_model"] = store.path(rm_name), rm.seconds, rm.result
            doubt = reward_model_doubt(rm.result)
            self.tracker.log({f"reward_model/{k}": v for k, v in rm.result.items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool)}
                             | {"time/reward_model_s": rm.seconds}, step_of(epoch, "reward_model"))
        pairs_name = self._stage_name(epoch, "pairs")
        pairs = store.run(pairs_name, lambda out: pairs_stage(inputs, samples_dir, rm_dir, policy, out, epoch))
        timings["pairs"], record["pairs"] = pairs.seconds, pairs.result
        self.tracker.log({f"pairs/{k}": v for k, v in pairs.result.items() if v is not None}
                         | {"time/pairs_s": pairs.seconds}, step_of(epoch, "pairs"))
        policy_name = self._stage_name(epoch, "policy")
        trained = store.run(policy_name, lambda out: policy_stage(inputs, store.path(pairs_name),
                                                                  pairs.result["prompts"], policy, out, doubt))
        timings["policy"], record["dpo"] = trained.seconds, trained.result
        self.tracker.log({f"dpo/{k}": v for k, v in _flat(trained.result).items()}
                         | {"time/policy_s": trained.seconds}, step_of(epoch, "policy"))
        record["stage_seconds"] = timings
        return store.path(policy_name), record

    def _sample_table(self, samples_dir: Path, epoch: int, step: int) -> None:
        count = self.inputs.irpo.evaluation.sample_answers
        if count == 0:
            return
        rows = read_samples(samples_dir, "eval")[:count]
        self.tracker.table("samples/answers", ["policy_epoch", "request_id", "bids", "answer", "click_probs"],
                           [[epoch - 1, s.request_id, json.dumps(s.bids), s.answer.text, json.dumps(s.click_probs)]
                            for s in rows], step)

    def _publish(self, policy: Path, epochs: int) -> None:
        """`final/policy` and `final/reward_model`: what `serve` and `evaluate` pick up."""
        self.store.run("final/policy", copier(policy))
        reward_model = self.store.path(self._stage_name(epochs, "reward_model"))
        if reward_model.is_dir():
            self.store.run("final/reward_model", copier(reward_model))

    def _report(self, base: dict, final: dict, history: list[dict], seconds: float) -> dict:
        stage_seconds = sum(self.store.timings().values())
        report = {
            "wall_seconds": round(seconds, 1),  # this invocation; a resumed run adds its earlier part below
            "stage_seconds_total": round(stage_seconds, 1),
            "epochs": history,
            "final": {"base": {k: base.get(k) for k in METRIC_KEYS},
                      "llm_auction": {k: final.get(k) for k in METRIC_KEYS},
                      "bid_blind_efficiency": final["bid_blind_efficiency"],
                      "probe_curve": {"base": base["probe_curve"], "llm_auction": final["probe_curve"]}},
            "policy_dir": str(self.store.path("final/policy")),
            "reward_model_dir": str(self.store.path("final/reward_model")),
        }
        self.store.write_report(report)
        return report


def copier(source: Path):
    """Stage work that copies a finished directory (minus its stage record) into the stage's own."""
    def copy(out: Path) -> dict:
        copy_stage_contents(source, out)
        return {"from": str(source)}

    return copy


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = value
    return out

