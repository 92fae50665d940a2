"""Myerson payments for a single-parameter allocation curve x(b): P(b) = b x(b) - int_0^b x(z) dz."""
from __future__ import annotations

from collections.abc import Callable


def integrate(f: Callable[[float], float], lo: float, hi: float, steps: int = 2000) -> float:
    """Composite Simpson's rule on [lo, hi] with an even number of steps."""
    if hi == lo:
        return 0.0
    steps += steps % 2
    h = (hi - lo) / steps
    inner = sum((4 if k % 2 else 2) * f(lo + k * h) for k in range(1, steps))
    return h / 3 * (f(lo) + inner + f(hi))


def myerson_payment(allocation: Callable[[float], float], bid: float, steps: int = 2000) -> float:
    """Expected payment of a bidder whose allocation (probability or share) at bid z is allocation(z)."""
    return bid * allocation(bid) - integrate(allocation, 0.0, bid, steps)
