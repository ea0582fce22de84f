"""The harness waits for the services (and PostgreSQL) to be idle before it measures the next
scenario."""

from __future__ import annotations

import pytest
from bench.run import QUIET_CPU_SHARE, wait_until_quiet


class _Workers:
    """CPU seconds a service's workers report, one reading after another."""

    def __init__(self, readings: list[float]) -> None:
        self._readings = iter(readings)
        self._last = 0.0

    def cpu_seconds(self) -> float:
        self._last = next(self._readings, self._last)
        return self._last


def _wait(*services: _Workers, timeout: float = 60.0) -> float:
    slept: list[float] = []
    waited = wait_until_quiet(
        lambda: sum(s.cpu_seconds() for s in services),
        interval=0.5,
        timeout=timeout,
        sleep=slept.append,
    )
    assert waited == sum(slept)
    return waited


@pytest.mark.parametrize(
    ("busy", "quiet", "waited"),
    [
        # CPU seconds of two services at each reading: busy while the total grows by more
        # than QUIET_CPU_SHARE of a core per half second.
        ([0.0, 0.0], [0.0, 0.0], 0.5),  # idle from the start: one interval
        ([0.0, 0.5, 1.0], [0.0, 0.0, 0.0], 1.5),  # one service busy for two intervals
        ([0.0, 0.0, 0.0], [0.0, 0.3, 0.3], 1.0),  # the other, for one
    ],
)
def test_the_harness_waits_while_any_service_works(
    busy: list[float], quiet: list[float], waited: float
) -> None:
    assert _wait(_Workers(busy), _Workers(quiet)) == waited


def test_a_little_background_work_counts_as_idle() -> None:
    trickle = QUIET_CPU_SHARE * 0.5 / 2  # half the share, every interval
    assert _wait(_Workers([0.0, trickle, 2 * trickle])) == 0.5


def test_it_gives_up_after_the_timeout() -> None:
    forever = _Workers([float(n) for n in range(100)])
    assert _wait(forever, timeout=3.0) == 3.0
