"""A run directory whose stages complete atomically, so a killed run resumes where it stopped.

A stage writes into a hidden scratch directory; when it finishes, its `stage.json` (result and
seconds) goes in and the directory is renamed into place in one step, then `latest` is rewritten.
A stage is done exactly when its directory exists, so a resumed run never redoes finished work and
a half-written stage is thrown away and started again.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
STAGE_FILE = "stage.json"
REPORT_FILE = "report.json"  # the run's report, rewritten at the end of every invocation


def copy_stage_contents(source: Path, out: Path) -> None:
    """A finished stage's files into another stage's scratch directory, without its stage record."""
    shutil.copytree(source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(STAGE_FILE))


def write_json_atomic(path: Path, data: Any) -> None:
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(json.dumps(data, indent=2) + "\n")
    with open(scratch) as handle:
        os.fsync(handle.fileno())
    os.replace(scratch, path)


@dataclass(frozen=True)
class StageRecord:
    """A finished stage as its stage.json keeps it: its name, its seconds, and what its work returned."""

    stage: str
    seconds: float
    result: dict[str, Any]


class RunStore:
    def __init__(self, run_dir: str | Path, progress=None):
        """`progress` (irpo.loop.progress.Progress), if given, hears of every stage's start and end."""
        self.root = Path(run_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.progress = progress

    def path(self, stage: str) -> Path:
        return self.root / stage

    def done(self, stage: str) -> bool:
        return (self.path(stage) / STAGE_FILE).is_file()

    def result(self, stage: str) -> StageRecord:
        return StageRecord(**json.loads((self.path(stage) / STAGE_FILE).read_text()))

    def run(self, stage: str, work: Callable[[Path], dict[str, Any]]) -> StageRecord:
        """Run `work(scratch_dir)` unless `stage` is done; returns the stage's record either way."""
        if self.done(stage):
            log.debug("stage %s: already done, skipped", stage)
            record = self.result(stage)
            if self.progress is not None:
                self.progress.done(stage, None, record.result)
            return record
        final = self.path(stage)
        scratch = final.with_name(f".{final.name}.partial")
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)  # a directory without its stage.json never finished
        scratch.mkdir(parents=True)
        log.debug("stage %s: started", stage)
        if self.progress is not None:
            self.progress.started(stage)
        start = time.perf_counter()
        result = work(scratch)
        record = StageRecord(stage, round(time.perf_counter() - start, 2), result)
        write_json_atomic(scratch / STAGE_FILE, asdict(record))
        os.replace(scratch, final)
        write_json_atomic(self.root / "latest", {"stage": stage, "at": time.time()})
        log.debug("stage %s: done in %.1fs", stage, record.seconds)
        if self.progress is not None:
            self.progress.done(stage, record.seconds, result)
        return record

    def report(self) -> dict[str, Any]:
        """The run's report as its last invocation left it; {} before the first one ends."""
        path = self.root / REPORT_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def write_report(self, report: dict[str, Any]) -> None:
        write_json_atomic(self.root / REPORT_FILE, report)

    def latest(self) -> str | None:
        pointer = self.root / "latest"
        return json.loads(pointer.read_text())["stage"] if pointer.is_file() else None

    def timings(self) -> dict[str, float]:
        """Seconds of every finished stage, in the order they finished."""
        records = sorted(self.root.glob(f"**/{STAGE_FILE}"), key=lambda p: p.stat().st_mtime)
        return {str(p.parent.relative_to(self.root)): json.loads(p.read_text())["seconds"] for p in records}


def timing_table(timings: dict[str, float]) -> str:
    """A plain-text table of stage timings with each stage's share of the total."""
    total = sum(timings.values()) or 1.0
    width = max([len(stage) for stage in timings] + [5])
    lines = [f"{'stage':<{width}}  seconds  share"]
    lines += [f"{stage:<{width}}  {seconds:7.1f}  {seconds / total:5.1%}" for stage, seconds in timings.items()]
    lines.append(f"{'total':<{width}}  {total:7.1f}  100.0%")
    return "\n".join(lines)

