"""In-process call decisions per second, single-hop and three-hop, on one core.

Target (issue 6): at least 100,000 single-hop decisions per second. Run:
    .venv/bin/python -m bench.bench_engine
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from callsettings.engine import Call, Presence, Subscriber, decide, follow
from callsettings.settings import CallForwarding, Voicemail, apply_patch

TARGET_SINGLE_HOP_PER_SECOND = 100_000


def _person(ext: str, forward_to: str | None) -> Subscriber:
    fwd = {"callForwarding": {"always": {"enabled": True, "destination": forward_to}}}
    return Subscriber(
        id=f"id-{ext}",
        name=f"Person {ext}",
        extension=ext,
        forwarding=apply_patch(CallForwarding(), fwd if forward_to else {}),
        voicemail=apply_patch(Voicemail(), {"enabled": True, "sendBusyCalls": {"enabled": True}}),
    )


def _rate(work: Callable[[], object], seconds: float = 1.0, repeats: int = 5) -> float:
    """Return the median calls per second over `repeats` timed runs."""
    rates = []
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(1000):
                work()
            count += 1000
        rates.append(count / elapsed)
    return statistics.median(rates)


def main() -> None:
    a, b, c = _person("1001", "1002"), _person("1002", "1003"), _person("1003", None)
    index = {p.extension: p for p in (a, b, c)}
    lookup = index.get
    single_call = Call("1003", "1001")
    single = _rate(lambda: decide(single_call, c, Presence.IDLE, lookup))
    chain_call = Call("1001")
    three = _rate(lambda: follow(chain_call, a, lambda p: Presence.IDLE, lookup))
    verdict = "PASS" if single >= TARGET_SINGLE_HOP_PER_SECOND else "FAIL"
    print(
        f"single-hop decisions/s: {single:,.0f}  (target {TARGET_SINGLE_HOP_PER_SECOND:,}: "
        f"{verdict})"
    )
    print(f"three-hop chains/s:     {three:,.0f}  ({three * 3:,.0f} decisions/s)")


if __name__ == "__main__":
    main()
