"""The rule-based simulated user: exact click probabilities for the paper's click rules.

Rules (METHOD.md section 2): relevance to query and interests, nativeness of the sentence around
the mention, competition (of same-category ads only the most relevant can be clicked), flooding
(more than F ads: no clicks), and a position effect. `click_probs` satisfies auction's ClickModel.
"""
from __future__ import annotations

import hashlib
import random

from auction.parser import ParsedAnswer, mention_sentence
from auction.types import AuctionRequest
from judge.config import SimulatedUserConfig
from judge.relevance import RelevanceModel
from judge.world import World


class SimulatedUser:
    def __init__(self, world: World, relevance: RelevanceModel, config: SimulatedUserConfig):
        self.world, self.model, self.config = world, relevance, config

    def relevance(self, request: AuctionRequest, ad_id: str) -> float:
        return self.model.relevance(self.world.queries[request.request_id], self.world.ads[ad_id])

    def allocation_inputs(self, request: AuctionRequest) -> tuple[dict[str, float], dict[str, str]]:
        """Relevance and category of every candidate: what optimal_allocation needs besides the bids."""
        relevance = {c.ad_id: self.relevance(request, c.ad_id) for c in request.candidates}
        return relevance, {c.ad_id: self.world.ads[c.ad_id].category for c in request.candidates}

    def click_probs(self, request: AuctionRequest, answer: ParsedAnswer) -> dict[str, float]:
        """Exact click probability of every inserted ad."""
        if len(answer.inserted) > self.config.flood_threshold:
            return {ad_id: 0.0 for ad_id in answer.ad_ids}
        rel = {ad.ad_id: self.relevance(request, ad.ad_id) for ad in answer.inserted}
        probs = {}
        for ad in answer.inserted:
            if self._outcompeted(ad.ad_id, ad.position, answer, rel):
                probs[ad.ad_id] = 0.0
                continue
            native = self.model.nativeness(mention_sentence(answer.text, ad.start, ad.end), self.world.ads[ad.ad_id])
            floor = self.config.native_floor
            probs[ad.ad_id] = rel[ad.ad_id] * (floor + (1 - floor) * native) * self.config.position_decay**ad.position
        return probs

    def _outcompeted(self, ad_id: str, position: int, answer: ParsedAnswer, rel: dict[str, float]) -> bool:
        category = self.world.ads[ad_id].category
        return any(
            self.world.ads[other.ad_id].category == category
            and (rel[other.ad_id], -other.position) > (rel[ad_id], -position)
            for other in answer.inserted
            if other.ad_id != ad_id
        )

    def sample_clicks(self, request: AuctionRequest, answer: ParsedAnswer, seed: int) -> dict[str, bool]:
        """Bernoulli clicks from the exact probabilities, reproducible for (seed, request, answer)."""
        key = f"{seed}|{request.request_id}|{answer.text}".encode()
        rng = random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
        return {ad_id: rng.random() < p for ad_id, p in self.click_probs(request, answer).items()}
