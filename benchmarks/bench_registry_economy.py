"""Figure 3: registry economy: requests made versus one request per bundle poll.

Runs ``werfop.simulate.simulate()`` with N bundles over R repositories for a virtual
day (a new release per repository every few hours, staggered) and reads:

- registry requests: what ``ScriptedRegistry`` answered (``Result.registry``), versus
  one request per bundle poll (what Flux's OCIRepository and the Go predecessor do:
  the ``Polled`` events in the JSON-like event list);
- detection latency: for every push after the start and every bundle following that
  repository, the time from the push to the bundle's first ``Polled`` event whose
  ``selected`` is the new tag (max, p95, p50, and how many exceed one poll interval).

Target: at least 50x fewer requests, and no bundle seeing a new tag later than one poll
interval after the push.

Usage: .venv/bin/python benchmarks/bench_registry_economy.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from datetime import timedelta

import scenarios
from common import header, percentile, table

from werfop.adapters.scripted_registry import Push, ScriptedRegistry
from werfop.api.codec import parse_time
from werfop.simulate import Result, simulate

CALLS: Counter[str] = Counter()


def count_calls() -> None:
    """Count ``ScriptedRegistry`` calls by kind (tag list, digest) for the split."""
    for name in ("list_tags", "resolve_digest"):
        method = getattr(ScriptedRegistry, name)

        def counted(self, *args, _method=method, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            CALLS[_name] += 1
            return _method(self, *args, **kwargs)

        setattr(ScriptedRegistry, name, counted)


def run(bundles: int, repos: int, span: timedelta, every: timedelta) -> tuple[Result, float]:
    started = time.perf_counter()
    result = simulate(scenarios.bundles(bundles, repos), scenarios.scenario(repos, span, every))
    return result, time.perf_counter() - started


def latencies(result: Result, repos: int, span: timedelta, every: timedelta) -> list[float]:
    """Seconds from each later push to each follower's first Polled with the new tag."""
    polled: dict[str, list[tuple[float, str | None]]] = defaultdict(list)
    for event in result.events:
        if event["type"] == "Polled":
            moment = parse_time(event["time"])
            assert moment is not None
            offset = (moment - scenarios.START).total_seconds()
            polled[event["bundle"]].append((offset, event.get("selected")))
    followers: dict[str, list[str]] = defaultdict(list)
    for key, url in result.repositories.items():
        followers[url].append(key)
    out = []
    for url, at, event in scenarios.pushes(repos, span, every):
        if at == scenarios.START or not isinstance(event, Push):
            continue
        pushed = (at - scenarios.START).total_seconds()
        for key in followers[url]:
            seen = next((t for t, tag in polled[key] if t >= pushed and tag == event.tag), None)
            out.append(float("inf") if seen is None else seen - pushed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 bundles for 12 h")
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--span", default="24h")
    parser.add_argument("--push-every", default="3h")
    args = parser.parse_args()
    if args.quick:
        args.bundles, args.span = 500, "12h"
    span, every = scenarios.parse_span(args.span), scenarios.parse_span(args.push_every)
    header(
        f"Figure 3: registry economy, {args.bundles} bundles over {args.repos} repositories, "
        f"{args.span} virtual, poll 5m, a release per repository every {args.push_every}"
    )
    count_calls()
    result, wall = run(args.bundles, args.repos, span, every)
    requests = sum(v["requests"] for v in result.registry.values())
    polls = sum(1 for e in result.events if e["type"] == "Polled")
    delays = latencies(result, args.repos, span, every)
    finite = [d for d in delays if d != float("inf")]
    interval = 300.0
    rows = [
        ("bundle polls (Polled events)", polls),
        ("registry requests made", requests),
        ("  per repository (mean)", requests / args.repos),
        ("  tag lists / digest look-ups", f"{CALLS['list_tags']:,} / {CALLS['resolve_digest']:,}"),
        ("requests at one per poll (Flux, predecessor)", polls),
        ("reduction", f"{polls / max(requests, 1):.1f}x (target >= 50x)"),
        ("(bundle, push) pairs measured", len(delays)),
        ("detection latency p50, s", percentile(finite, 0.5)),
        ("detection latency p95, s", percentile(finite, 0.95)),
        ("detection latency max, s", max(finite, default=float("nan"))),
        ("pairs later than 300 s (one interval)", sum(1 for d in delays if d > interval)),
        ("pairs later than 330 s (interval +10%)", sum(1 for d in delays if d > interval * 1.1)),
        ("pairs never seeing the tag", sum(1 for d in delays if d == float("inf"))),
        ("wall time, s", wall),
    ]
    print(table(("figure", "value"), rows))


if __name__ == "__main__":
    main()
