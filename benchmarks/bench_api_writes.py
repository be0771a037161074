"""Figure 8: what a fleet costs the API server in steady state.

50 bundles on 3 repositories, polling every 5 minutes for 24 virtual hours, two
releases per repository (at 8 h and 16 h, staggered), Jobs succeed after a minute: the
simulator (the operator's own runtime over ``MemoryCluster``) counts every request the
operator would send to the API server (``simulate.api_requests``: reads served from
the watch caches are not requests). Prints status writes per bundle per day, all
writes, and the requests by verb and resource.

The counts come from ``MemoryCluster.requests``, which older trees have too, so the
script runs unchanged on an older checkout for a before/after comparison
(``PYTHONPATH=<tree>/src .venv/bin/python benchmarks/bench_api_writes.py``).

Usage: .venv/bin/python benchmarks/bench_api_writes.py [--bundles 50] [--repos 3]
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import scenarios
from common import header, table

from werfop.adapters import memory
from werfop.simulate import simulate

_CACHED = {("get", "werfbundles"), ("list", "werfbundles"), ("list", "jobs")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=50)
    parser.add_argument("--repos", type=int, default=3)
    parser.add_argument("--span", default="24h")
    parser.add_argument("--interval", default="5m")
    args = parser.parse_args()
    span = scenarios.parse_span(args.span)
    clusters: list[memory.MemoryCluster] = []
    original = memory.MemoryCluster.__init__

    def capture(self: memory.MemoryCluster, *a: object, **k: object) -> None:
        original(self, *a, **k)  # type: ignore[arg-type]
        clusters.append(self)

    memory.MemoryCluster.__init__ = capture  # type: ignore[method-assign]
    world = scenarios.scenario(args.repos, span, every=span / 3)  # releases at 1/3, 2/3
    result = simulate(
        scenarios.bundles(args.bundles, args.repos, args.interval), world, keep_events=False
    )
    counts = {k: n for k, n in clusters[0].requests.items() if k not in _CACHED}
    days = span / timedelta(days=1)
    status = counts.get(("update", "werfbundles/status"), 0)
    writes = sum(n for (verb, _), n in counts.items() if verb not in ("get", "list"))
    header(
        f"Figure 8: API requests, {args.bundles} bundles on {args.repos} repositories, "
        f"{args.span} at {args.interval}, 2 releases per repository"
    )
    print(
        table(
            ["figure", "value"],
            [
                ["status writes per bundle per day", f"{status / args.bundles / days:.1f}"],
                ["status writes in all", str(status)],
                ["writes in all (POST, PUT, PATCH, DELETE)", str(writes)],
                ["requests in all", str(sum(counts.values()))],
                ["passes", str(result.passes)],
            ],
        )
    )
    print()
    print(
        table(
            ["verb", "resource", "requests"],
            [[verb, resource, str(n)] for (verb, resource), n in sorted(counts.items())],
        )
    )


if __name__ == "__main__":
    main()
