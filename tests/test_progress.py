"""The terminal's progress lines and what reaches the terminal."""
import logging

from irpo.loop.progress import Progress
from llm_auction.logs import ProjectOnly


def test_progress_numbers_stages_and_bases_the_eta_on_the_stages_timed_so_far(caplog):
    progress = Progress(["epoch_1/samples", "epoch_1/pairs", "epoch_2/samples", "epoch_2/pairs"],
                        typical={"samples": 100.0, "pairs": 10.0})
    caplog.set_level(logging.INFO, logger="llm_auction.progress")
    progress.announce()
    assert "4 stages (samples, pairs), about 3.7 min" in caplog.text
    progress.started("epoch_1/samples")
    progress.done("epoch_1/samples", 40.0, {"answers": 12, "tokens_per_second": 900.0, "metrics": {}})
    line = caplog.records[-1].getMessage()
    assert line.startswith("[stage 1/4] epoch_1/samples: done in 40 s (12 answers at 900 tokens/s)")
    assert line.endswith("ETA 1.0 min")  # pairs 10 + samples now 40 (measured) + pairs 10


def test_a_stage_done_by_an_earlier_invocation_does_not_count_towards_the_eta(caplog):
    progress = Progress(["final/policy", "final/evaluation"], typical={"evaluation": 30.0})
    caplog.set_level(logging.INFO, logger="llm_auction.progress")
    progress.done("final/policy", None, {"from": "x"})
    assert caplog.records[-1].getMessage() == "[stage 1/2] final/policy: already done; ETA 30 s"


def test_the_terminal_shows_the_projects_info_and_only_errors_from_libraries():
    keep = ProjectOnly()

    def record(name, level):
        return logging.LogRecord(name, level, __file__, 1, "m", None, None)

    assert keep.filter(record("irpo.loop.driver", logging.INFO))
    assert not keep.filter(record("ray.train", logging.WARNING))
    assert keep.filter(record("vllm", logging.ERROR))


def test_an_epoch_without_click_rows_or_pairs_is_named_in_the_closing_summary():
    from irpo.loop.run_summary import idle_phases

    report = {"epochs": [{"epoch": 1, "reward_model": {"click_rows": 0}, "dpo": {"prompts": 0, "skipped": "no pairs"}},
                         {"epoch": 2, "reward_model": {"click_rows": 900}, "dpo": {"prompts": 40}},
                         {"epoch": 3, "reward_model": {"click_rows": 700, "reused": "epoch_2/reward_model"},
                          "dpo": {"prompts": 30, "skipped": "the reward model was kept from an earlier epoch"}}]}
    warnings = idle_phases(report)
    assert [w.split(":")[0] for w in warnings] == ["epoch 1", "epoch 1", "epoch 3"]
    assert "no click rows" in warnings[0] and "did not train (no pairs)" in warnings[1]
    assert "kept from an earlier epoch" in warnings[2]
