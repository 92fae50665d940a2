"""Assemble the simulation environment from config: the world and the simulated user."""
from __future__ import annotations

from pathlib import Path

from judge.config import JudgeConfig
from judge.relevance import CategoryRelevance, EncoderRelevance
from judge.simulated_user import SimulatedUser
from judge.world import World, load_world

BUILT_IN_WORLDS = ("tiny", "paper")


def build_world(name: str, seed: int = 0) -> World:
    """A built-in world by name, built in memory (deterministic for a seed)."""
    if name == "tiny":
        from judge.tiny_world import build_tiny_world

        return build_tiny_world(seed)
    if name == "paper":
        from judge.paper_world import build_paper_world

        return build_paper_world(seed)
    raise ValueError(f"world: unknown built-in world {name!r}; choose one of {BUILT_IN_WORLDS} or a directory")


def get_world(name_or_dir: str, seed: int = 0) -> World:
    """A built-in world by name, or one loaded from a directory of JSONL files."""
    if name_or_dir in BUILT_IN_WORLDS:
        return build_world(name_or_dir, seed)
    if not Path(name_or_dir).is_dir():
        raise ValueError(f"world: {name_or_dir!r} is neither a built-in world {BUILT_IN_WORLDS} nor a directory")
    return load_world(name_or_dir)


def simulated_user(world: World, config: JudgeConfig) -> SimulatedUser:
    if world.relevance == "category":
        return SimulatedUser(world, CategoryRelevance(world, config.simulated_user), config.simulated_user)
    from judge.encoder import SentenceEncoder

    relevance = EncoderRelevance(world, config.simulated_user, SentenceEncoder.packaged())
    return SimulatedUser(world, relevance, config.simulated_user)
