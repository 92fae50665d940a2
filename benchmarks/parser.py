"""Throughput of the mention parser on typical and hostile answers (pure Python, one core).

Run: .venv/bin/python benchmarks/parser.py [--seconds 2]
Writes nothing by itself; paste the printed table into docs/BENCHMARKS.md with the command.
"""
from __future__ import annotations

import argparse
import time

from auction import Ad, parse_answer, render_mention

ADS = [Ad(f"Ad-{k}", f"Product number {k} deluxe edition") for k in range(100)]
TYPICAL = (
    "For a first marathon, build mileage slowly and pick cushioned shoes such as "
    f"{render_mention(ADS[3])}. Hydrate well; a bottle like {render_mention(ADS[41])} helps on long runs. "
) * 3
HOSTILE = ("@" * 300 + "[" * 300 + "Product number 7 deluxe edition" + "]" * 300 + " ") * 5


def rate(text: str, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        parse_answer(text, ADS)
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print("| input | chars | candidates | parses/s |\n|---|---|---|---|")
    for name, text in [("typical answer, 6 ads", TYPICAL), ("hostile @/[ ] flood", HOSTILE)]:
        print(f"| {name} | {len(text)} | {len(ADS)} | {rate(text, args.seconds):,.0f} |")


if __name__ == "__main__":
    main()
