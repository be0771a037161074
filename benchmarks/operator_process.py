"""``werfop run`` for benchmarks: the real operator wiring with a ``ScriptedRegistry``.

Role: run ``werfop.operator.run(args)`` itself (KubernetesApi, informers, workers,
metrics, endpoints, signal handling) with one substitution: the ``HttpxRegistry`` it
constructs is a ``ScriptedRegistry`` on the system clock, holding ``--repos``
repositories (``scenarios.repository``) with ``--initial-tag``. The registry economy the
operator builds is captured so that a push can invalidate it, as a registry webhook
would. Not part of ``src/``: benchmark wiring only.

Control (one command per line on stdin; answers on stdout):
- ``push TAG``: push TAG to every repository now and invalidate the economy's cache;
  answers ``pushed TAG``;
- ``push-only TAG``: push TAG to every repository now, nothing else (a registry
  notification to ``POST /hooks/registry`` is then what tells the operator);
- ``stats``: answers one JSON line with peak RSS and registry request counts;
- ``sample``: starts a stack sampler over the operator's threads (``common.StackSampler``);
  ``report`` stops it and answers its report, as one JSON string;
- ``allocations``: with ``PYTHONTRACEMALLOC`` set, answers one JSON line: the memory
  tracemalloc traces, MiB, and the 15 source lines holding the most.

Usage: operator_process.py [werfop run arguments] [--repos 10] [--initial-tag 1.0.0]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading

import scenarios
from common import StackSampler

import werfop.operator as operator
from werfop.adapters.clock import SystemClock
from werfop.adapters.scripted_registry import ScriptedRegistry
from werfop.runtime.registry_economy import RegistryEconomy


def allocations(top: int) -> dict[str, object]:
    """What tracemalloc traces now (MiB) and the ``top`` lines holding the most."""
    import tracemalloc

    if not tracemalloc.is_tracing():
        return {"error": "not tracing: set PYTHONTRACEMALLOC=1"}
    snapshot = tracemalloc.take_snapshot()
    lines = snapshot.statistics("lineno")
    return {
        "traced_mib": round(sum(s.size for s in lines) / 2**20, 1),
        "top": [
            [
                f"{s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}",
                round(s.size / 2**20, 2),
                s.count,
            ]
            for s in lines[:top]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    operator.add_arguments(parser)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--initial-tag", default="1.0.0")
    args = parser.parse_args()

    registry = ScriptedRegistry(SystemClock())
    urls = [scenarios.repository(r) for r in range(args.repos)]
    for url in urls:
        registry.push(url, args.initial_tag)
    economies: list[RegistryEconomy] = []

    class CapturedEconomy(RegistryEconomy):
        def __init__(self, *given, **options) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*given, **options)
            economies.append(self)

    operator.HttpxRegistry = lambda clock: registry  # type: ignore[assignment,misc]
    operator.RegistryEconomy = CapturedEconomy  # type: ignore[misc]

    samplers: list[StackSampler] = []

    def control() -> None:
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command in ("push", "push-only"):
                for url in urls:
                    registry.push(url, argument)
                    for economy in economies if command == "push" else ():
                        economy.invalidate(url)
                print(f"pushed {argument}", flush=True)
            elif command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                stats = economies[0].stats() if economies else None
                print(
                    json.dumps(
                        {
                            "maxrss_mib": usage.ru_maxrss / 1024,
                            "cpu_s": usage.ru_utime + usage.ru_stime,
                            "registry_requests": registry.total_requests(),
                            "cache_hits": stats.cache_hits if stats else None,
                        }
                    ),
                    flush=True,
                )
            elif command == "sample":
                samplers.append(StackSampler("werfop"))
                samplers[-1].start()
                print("sampling", flush=True)
            elif command == "allocations":
                print(json.dumps(allocations(15)), flush=True)
            elif command == "report":
                sampler = samplers.pop()
                sampler.stop.set()
                print(json.dumps(sampler.report(20)), flush=True)

    threading.Thread(target=control, name="bench-control", daemon=True).start()
    return operator.run(args)


if __name__ == "__main__":
    sys.exit(main())
