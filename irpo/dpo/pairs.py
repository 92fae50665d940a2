"""Policy phase data: score each sampled answer with R, pick each prompt's winner and losers, attach
reference log-probs.

R(y) = sum_i b_i p_i(y) - lambda s_resp(y), with p_i from the configured reward source. Per prompt the
winner is the argmax; the losers are the answers more than delta_th below it (METHOD.md section 4).
A prompt with losers is one training record (`Preference`): its winner is scored once for all its
losers, and the loss weighs each prompt the same (1/|S| per loser) whatever the batching.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from auction.config import AuctionConfig
from auction.reward import response_reward
from cluster.layout import ScorerRole
from judge.judged_sample import JudgedSample
from rollout.mention_mask import mention_mask


@dataclass(frozen=True)
class Preference:
    request_id: str
    chosen: int  # sample index of the winner
    rejected: tuple[int, ...]  # sample indices of the losers


def answer_rewards(samples: Sequence[JudgedSample], clicks: pd.DataFrame, auction: AuctionConfig) -> np.ndarray:
    """R of every sample (auction.reward.response_reward); `clicks` has one row per inserted ad: `row` (sample
    index), `ad_id`, `p`. An ad without a row (its answer's judgement failed) counts as never clicked."""
    probs: list[dict[str, float]] = [{} for _ in samples]
    for row, ad_id, p in zip(clicks["row"], clicks["ad_id"], clicks["p"]):
        probs[int(row)][ad_id] = float(p)
    return np.array([response_reward(s.answer, s.bids, {a: p.get(a, 0.0) for a in s.answer.ad_ids},
                                     auction.response_cost, auction.penalty_weight) for s, p in zip(samples, probs)])


def build_preferences(request_ids, samples, rewards, delta_th: float, ad_counts=None) -> list[Preference]:
    """Winner vs every answer more than `delta_th` below it; prompts without a loser give nothing.
    Ties for the best go to the lowest sample index. With `ad_counts`, only losers that insert as many
    ads as the winner count (pairs that contrast which ads, not how many)."""
    table = pd.DataFrame({"request_id": request_ids, "sample": samples, "reward": rewards,
                          "ads": ad_counts if ad_counts is not None else 0})
    preferences = []
    for request_id, group in table.groupby("request_id", sort=True):
        group = group.sort_values("sample")
        best = group.loc[group["reward"].idxmax()]
        losers = group[(group["reward"] < best["reward"] - delta_th) & (group["ads"] == best["ads"])]
        if len(losers):
            preferences.append(Preference(str(request_id), int(best["sample"]), tuple(int(s) for s in losers["sample"])))
    return preferences


def preference_records(samples: Sequence[JudgedSample], preferences, index: dict, tokenizer) -> list[dict]:
    """One record per prompt: its token ids as the engine saw them (kept at rollout on the request's first
    sample), the winner's and the losers' completions, and the request's decoding rules (rollout.mention_mask,
    the function the rollout applied), for masked log-probs of the distribution that was sampled."""
    rules_of = mention_mask(tokenizer)
    prompts = {s.request_id: s.prompt_ids for s in samples if s.prompt_ids}
    records = []
    for preference in preferences:
        if preference.request_id not in prompts:
            raise ValueError(f"request {preference.request_id}: its samples carry no prompt token ids (a samples "
                             "stage written by an older version); delete that samples stage and every later stage "
                             "of its epoch, then resume to sample it again")
        winner = samples[index[preference.request_id, preference.chosen]]
        losers = [samples[index[preference.request_id, number]] for number in preference.rejected]
        rules = rules_of.rules(winner.request) if rules_of.by_ad else None
        records.append({"request_id": preference.request_id, "prompt_ids": list(prompts[preference.request_id]),
                        "chosen_ids": list(winner.token_ids), "rejected_ids": [list(s.token_ids) for s in losers],
                        "banned": list(rules.banned) if rules else [], "once": list(rules.once) if rules else []})
    return records


def group_tensors(batch: dict, pad_id: int, device="cpu"):
    """A micro-batch of preference records as one padded batch: every winner, then every loser.

    Returns (tensors for completion_logprobs, on `device`, the prompt index of each loser, each
    sequence's rules)."""
    import torch

    sequences, spans, group, rules = [], [], [], {"banned": [], "once": []}
    records = range(len(batch["prompt_ids"]))
    order = [(g, list(batch["chosen_ids"][g])) for g in records]
    order += [(g, list(r)) for g in records for r in batch["rejected_ids"][g]]
    for index, (g, completion) in enumerate(order):
        prompt = list(batch["prompt_ids"][g])
        sequences.append(prompt + completion)
        spans.append((len(prompt), len(prompt) + len(completion)))
        if index >= len(records):
            group.append(g)
        rules["banned"].append([int(t) for t in batch["banned"][g]])
        rules["once"].append([int(t) for t in batch["once"][g]])
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    completion_mask = torch.zeros_like(ids)
    for row, (sequence, (start, end)) in enumerate(zip(sequences, spans)):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        attention[row, : len(sequence)] = 1
        completion_mask[row, start:end] = 1
    tensors = {"input_ids": ids.to(device), "attention_mask": attention.to(device),
               "completion_mask": completion_mask.to(device)}
    return tensors, torch.tensor(group, dtype=torch.long, device=device), rules


def shared_prompt_tensors(batch: dict, pad_id: int, device="cpu"):
    """A micro-batch of preference records as its prompts (one row each) and its completions (every
    winner, then every loser), both right-padded, for `shared_prompt_logprobs`.

    Returns (tensors, the prompt index of each loser, each completion's rules)."""
    import torch

    records = range(len(batch["prompt_ids"]))
    completions = [list(batch["chosen_ids"][g]) for g in records]
    group = [g for g in records for _ in batch["rejected_ids"][g]]
    completions += [list(r) for g in records for r in batch["rejected_ids"][g]]
    owner = [*records, *group]
    prompt_ids, prompt_mask = _right_padded([list(p) for p in batch["prompt_ids"]], pad_id)
    completion_ids, completion_mask = _right_padded(completions, pad_id)
    rules = {"banned": [[int(t) for t in batch["banned"][g]] for g in owner],
             "once": [[int(t) for t in batch["once"][g]] for g in owner]}
    tensors = {"prompt_ids": prompt_ids.to(device), "prompt_mask": prompt_mask.to(device),
               "completion_ids": completion_ids.to(device), "completion_mask": completion_mask.to(device),
               "owner": torch.tensor(owner, dtype=torch.long, device=device)}
    return tensors, torch.tensor(group, dtype=torch.long, device=device), rules


def _right_padded(sequences: list[list[int]], pad_id: int):
    import torch

    width = max(1, max(len(s) for s in sequences))
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    return ids, mask


def write_with_reference_logprobs(records: list[dict], policy_dir: Path, bf16: bool, scorer: ScorerRole,
                                  out: Path) -> None:
    """The preference records with each winner's and loser's log pi_ref (`ReferenceLogprobs` of the epoch's start
    policy `policy_dir`, on the scorer role's actors), as parquet in `out`."""
    import ray.data

    dataset = ray.data.from_items(records).map_batches(
        ReferenceLogprobs, fn_constructor_kwargs={"model_dir": str(policy_dir), "bf16": bf16}, batch_size=32,
        batch_format="pandas", concurrency=scorer.replicas, num_cpus=scorer.cpus, num_gpus=scorer.gpus)
    dataset.write_parquet(str(out))


class ReferenceLogprobs:
    """`map_batches` actor: log pi_ref of each record's winner and losers, from the epoch's start policy,
    under the same decoding rules and in the same precision as the policy's log-probs (the same function
    computes both), on a GPU where the actor was given one."""

    def __init__(self, model_dir: str, batch_size: int = 8, bf16: bool = False):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from irpo.ds_train import worker_threads

        worker_threads(1)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if bf16 else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval().to(device)
        self.pad_id = pad_token_id(AutoTokenizer.from_pretrained(model_dir))
        self.batch_size = batch_size

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Pandas batches: nested token lists stay Arrow lists (a numpy batch would pickle them)."""
        import torch

        from irpo.dpo.step import preference_logprobs

        batch = {k: list(frame[k]) for k in frame.columns}
        chosen, rejected = [], []
        for start in range(0, len(frame), self.batch_size):
            part = {k: batch[k][start : start + self.batch_size] for k in batch}
            with torch.inference_mode():
                logps = preference_logprobs(self.model, part, self.pad_id)
            chosen += logps.chosen.tolist()
            bounds = np.cumsum([len(r) for r in part["rejected_ids"]])[:-1]
            rejected += np.split(logps.rejected.cpu().numpy(), bounds)
        return frame.assign(ref_chosen=np.array(chosen, dtype=np.float64),
                            ref_rejected=[[float(x) for x in r] for r in rejected])


def pad_token_id(tokenizer) -> int:
    """The id sequences are right-padded with (masked out, so any id would do; 0 when the tokenizer has none)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
