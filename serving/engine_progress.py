"""Is the engine behind a replica alive? Read from the replies it gives, not from a probe queued behind them.

Under a burst a probe waits in the same queue as the requests, as long as they do, so a load balancer
would time out on a replica that is working flat out. A replica that keeps answering is alive without
a probe: while calls are in flight, the engine is `busy` if a reply came back (or the busy spell began)
within the timeout, and `stuck` if nothing came back for longer. Only when nothing is in flight
(`idle`) is a probe worth sending: it runs at once.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

EngineState = Literal["idle", "busy", "stuck"]


@dataclass
class EngineProgress:
    clock: Callable[[], float] = time.monotonic
    in_flight: int = 0
    last_event: float = field(default=0.0)  # the latest reply, or the start of the current busy spell

    @contextmanager
    def call(self) -> Iterator[None]:
        """Wrap one call to the engine (its reply, or its error, counts as progress)."""
        if self.in_flight == 0:
            self.last_event = self.clock()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self.last_event = self.clock()

    def silent_for(self) -> float:
        """Seconds since the engine last showed progress."""
        return self.clock() - self.last_event

    def state(self, timeout_s: float) -> EngineState:
        if self.in_flight == 0:
            return "idle"
        return "busy" if self.silent_for() <= timeout_s else "stuck"
