"""How well an ad fits a query and its user, and how natively a sentence carries it.

Two models behind one interface: `CategoryRelevance` for closed worlds whose queries name their
topic categories (tiny), `EncoderRelevance` for free text, with all-MiniLM-L6-v2 similarities.
"""
from __future__ import annotations

from typing import Protocol

from judge.config import SimulatedUserConfig
from judge.tiny_language import words_of
from judge.world import CatalogueAd, Query, World


class RelevanceModel(Protocol):
    def relevance(self, query: Query, ad: CatalogueAd) -> float:
        """Probability-scale fit of `ad` to the query and its user, in [0, 1]."""
        ...

    def nativeness(self, sentence: str, ad: CatalogueAd) -> float:
        """How much the sentence around a mention is about what the ad relates to, in [0, 1]."""
        ...


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


class CategoryRelevance:
    """Topic and interest matches by category; keyword overlap by shared words."""

    def __init__(self, world: World, config: SimulatedUserConfig):
        self.world, self.config = world, config

    def relevance(self, query: Query, ad: CatalogueAd) -> float:
        c = self.config
        topic = 0.0
        if query.topics and ad.category == query.topics[0]:
            topic = 1.0
        elif ad.category in query.topics[1:]:
            topic = c.secondary_topic_weight
        interest = 1.0 if ad.category in self.world.profiles[query.user_id].interests else 0.0
        overlap = min(1.0, len(set(words_of(query.text)) & set(ad.keywords)) / 2)
        return _clip(c.base_rate + c.query_weight * topic + c.interest_weight * interest + c.keyword_weight * overlap)

    def nativeness(self, sentence: str, ad: CatalogueAd) -> float:
        return 1.0 if set(words_of(sentence)) & set(ad.keywords) else 0.0


class EncoderRelevance:
    """Cosine similarities of sentence embeddings, mapped linearly onto [0, 1]."""

    def __init__(self, world: World, config: SimulatedUserConfig, encoder):
        self.world, self.config, self.encoder = world, config, encoder
        self._ad_vectors = dict(zip(world.ads, encoder.encode([a.text() for a in world.ads.values()])))

    def _scale(self, similarity: float) -> float:
        c = self.config
        return _clip((similarity - c.similarity_low) / (c.similarity_high - c.similarity_low))

    def _similarity(self, text: str, ad: CatalogueAd) -> float:
        (vector,) = self.encoder.encode([text])
        return float(vector @ self._ad_vectors[ad.ad_id])

    def relevance(self, query: Query, ad: CatalogueAd) -> float:
        c = self.config
        topic = self._scale(self._similarity(query.text, ad))
        interests = self.world.profiles[query.user_id].interests
        interest = max((self._scale(self._similarity(i, ad)) for i in interests), default=0.0)
        return _clip(c.base_rate + c.query_weight * topic + c.interest_weight * interest)

    def nativeness(self, sentence: str, ad: CatalogueAd) -> float:
        return self._scale(self._similarity(sentence, ad)) if sentence.strip() else 0.0
