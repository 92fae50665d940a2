"""Pre-generation baselines on a trained tiny policy: the answers show exactly the allocated ads."""
import random

from auction.mechanisms import ProminenceRule, run_prominence, run_segment_auction
from evaluation.compare import relevance_of
from evaluation.mechanisms import test_requests as held_out_requests
from judge.config import JudgeConfig
from judge.environment import get_world, simulated_user
from rollout.config import SamplingConfig, VLLMConfig
from rollout.generator import EngineGenerator
from rollout.vllm_engine import VLLMEngine


class RecordingGenerator(EngineGenerator):
    """The real engine generator, keeping the allocations it was asked to write around."""

    def generate(self, requests, n, *, seed=0, shown=None):
        self.shown = [ads for ads in shown for _ in range(n)]
        return super().generate(requests, n, seed=seed, shown=shown)


def test_segment_and_prominence_answers_show_exactly_their_winners_in_order(micro_base):
    world = get_world("tiny", 0)
    user = simulated_user(world, JudgeConfig(world="tiny"))
    requests = held_out_requests(world, 0, 8)
    relevances = [relevance_of(user, r) for r in requests]
    engine = VLLMEngine(micro_base, VLLMConfig(enforce_eager=True))
    generator = RecordingGenerator(engine, "tiny", SamplingConfig(max_tokens=40))

    segment = run_segment_auction(requests, generator, relevances, n_segments=2, draws=2, rng=random.Random(0))
    answers = [a for o in segment for a in o.answers]
    assert [a.ad_ids for a in answers] == generator.shown, [a.text for a in answers]
    assert any(len(ads) == 2 for ads in generator.shown)
    prominence = run_prominence(requests, generator, relevances, ProminenceRule(), draws=2)
    answers = [a for o in prominence for a in o.answers]
    assert [a.ad_ids for a in answers] == generator.shown, [a.text for a in answers]
    assert all(not a.errors for o in segment + prominence for a in o.answers)
