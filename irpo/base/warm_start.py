"""A format warm start: teach an imported instruct model the Ad-LLM answer on the tiny world, in English.

Handed the full prompt cold, a 135M instruct model (SmolLM2) writes no mention: it echoes the candidate
lines or answers without ads, so its reward phase has no click to fit and its policy phase no pair. The
paper starts from a 4B model that follows the rules as written; a model this small needs to be shown.
A few dozen steps of the base build's SFT on the tiny base's own auction answers (1-3 related ads at
random, bids unseen), rendered with the full prompt and written as English sentences, each followed by
requests to mention a named candidate, teach it the mention format and relevance-first placement, and
nothing of the auction: IRPO still has it all to learn. Copying an ad's ID from its line takes a 135M model
more than the CPU-sized lesson (docs/EXPERIMENTS.md): on a GPU, give it more chats.
"""
from __future__ import annotations

import itertools
import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

from auction.config import AuctionConfig
from auction.parser import render_mention
from auction.types import Ad
from cluster.layout import TrainerRole
from irpo.base.checks import auction_checks
from irpo.base.sft import sft_policy
from irpo.base.sft_corpus import AnswerStyle, Example, base_answer
from irpo.config import WarmStartConfig
from judge.bids import draw_bids
from judge.simulated_user import SimulatedUser
from judge.tiny_world import fresh_requests
from judge.world import World
from rollout.config import RolloutConfig
from rollout.factory import make_engine
from rollout.prompt import ad_llm_messages

log = logging.getLogger(__name__)
REPORT_FILE = "warm_start_report.json"
# No broken mentions (a format lesson teaches the format), and several ads of one answer from different
# categories, as an assistant recommends complementary products.
WARM_START_STYLE = AnswerStyle(error_rate=0.0, distinct_categories=True)


def english(answer: str) -> str:
    """The tiny corpus's answer ("start slow with yoga . for mats you can try @x@[Ad-1] .") as English
    sentences. A sentence that opens with a mention keeps it as written: a title is copied exactly."""
    sentences = [s.strip() for s in answer.strip().rstrip(".").split(" . ") if s.strip()]
    return " ".join((s[0].upper() + s[1:] if s[0].isalpha() else s) + "." for s in sentences)


def warm_start_examples(world: World, n: int, seed: int, followups: int = 3) -> Iterator[Example]:
    """`n` auction chats on fresh requests (never a test request): the full prompt, an English answer, then
    `followups` requests to mention a named candidate (`mention_request`)."""
    rng = random.Random(seed)
    for query in itertools.islice(fresh_requests(world, rng), n):
        bids = draw_bids(rng.randrange(10**6), "warm_start", 0, query.query_id, world.candidate_ids(query))
        messages = ad_llm_messages(world.request(query, bids), "full")
        named = rng.sample(world.candidate_ids(query), followups)
        yield Example(tuple(messages), english(base_answer(world, query, rng, WARM_START_STYLE)), "auction",
                      tuple(mention_request(world.ads[ad_id].as_ad(), rng) for ad_id in named))


def mention_request(ad: Ad, rng: random.Random) -> tuple[str, str]:
    """Asked to mention a candidate by its title, the answer is its mention: the ID is found on the title's line
    of the prompt, before the title. What a briefly taught model gets wrong most (a title with another line's
    ID), taught for a few tokens each: follow-ups reuse the chat's prompt."""
    asked = rng.choice(["Insert the ad \"{t}\" as a mention.", "Write the mention of \"{t}\".",
                        "How do you insert \"{t}\"?"])
    return asked.format(t=ad.title), render_mention(ad)


def warm_start_command(policy: Path, out: Path, config: WarmStartConfig, user: SimulatedUser, auction: AuctionConfig,
                       rollout: RolloutConfig, role: TrainerRole) -> dict:
    """Fine-tune `policy` into `out` on the format lesson, then check its answers to held-out requests with
    the full prompt; the report (`out/warm_start_report.json`) says what it learnt."""
    if user.world.name != "tiny":
        raise ValueError(f"base warm-start: the format lesson is written on the tiny world's requests, got world "
                         f"{user.world.name!r} (judge.world=tiny)")
    start = time.perf_counter()
    examples = warm_start_examples(user.world, config.examples, config.sft.seed, config.followups)
    sft_policy(policy, examples, config.sft, role, out)
    seconds = time.perf_counter() - start
    engine = make_engine(out, rollout)
    checks = auction_checks(engine, user, config.check_requests, rollout.sampling, prompt_style="full", auction=auction,
                            samples_per_request=2)
    engine.close()
    report = {"policy_dir": str(policy), "out": str(out), "examples": config.examples,
              "seconds_training": round(seconds, 1), "checks": checks}
    (Path(out) / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    log.info("warm start in %.0f s: %.2f ads per answer, format errors %.1f%%, inserted ads related %.0f%% "
             "(chance %.0f%%), allocation efficiency %.3f", seconds, checks["ads_per_answer"],
             100 * checks["format_error_rate"], 100 * (checks["inserted_related_share"] or 0),
             100 * checks["candidates_related_share"], checks["allocation_efficiency"])
    return report
