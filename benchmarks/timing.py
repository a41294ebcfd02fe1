"""Timing that holds up on a shared, busy machine.

Contenders run in alternating batches, so a burst of load from other processes hits them alike, and
each keeps its best batch: the cost of the code itself with the least interference. Ratios between
contenders measured this way barely move from run to run, where back-to-back averages swing by 50%.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_per_call(contenders: dict[str, Callable[[], object]], seconds: float, batch: int = 50
                  ) -> dict[str, float]:
    """Seconds per call of each contender: the best of its batches over about `seconds` of wall time."""
    best = dict.fromkeys(contenders, float("inf"))
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for name, call in contenders.items():
            start = time.perf_counter()
            for _ in range(batch):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / batch)
    return best
