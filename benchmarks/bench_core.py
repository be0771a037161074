"""Figure 1: reconcile decisions per second for 10, 100 and 1,000 tags.

Drives the pure core (``werfop.core.reconcile.reconcile``) on a bundle that is Synced
on the highest tag, built with ``tests/support/world.py``:

- steady, shared: a due poll, nothing changed, the snapshot is the repository's shared
  ``TagList`` with this bundle's digest attached by ``attrs.evolve`` (exactly what
  ``runtime.observe`` hands the core on every poll);
- steady, rebuilt: as above, but a new, equal ``TagList`` every pass (what
  ``tests/support/world.py`` does): pays hashing and comparing the tag tuple;
- no poll due: ``snapshot=None`` (a pass woken by a Job or a watch event);
- on change: a new tag appears (a new ``TagList``); the core re-sorts, selects it and
  renders a ``CreateJob``. Tags seen before stay parsed (``parse_version`` memo), as in
  the operator;
- on change, cold: every parse memo cleared before each call (the prior-art "cold" case;
  the time includes clearing the memos).

Anchor (docs/prior-art performance-and-reliability.md, D1 and E1): p99 <= 50 us at 100
tags cold, <= 5 us cached, on a CI core; this machine measured 432 us at 100 tags for a
model reconcile without caches.

Usage: .venv/bin/python benchmarks/bench_core.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import time
import weakref
from datetime import timedelta

import attrs
from common import header, percentile, rss_mib, table

from support.world import T0, FixedClock, World, digest_of, make_spec
from werfop.core import semver, versions
from werfop.core.actions import CreateJob, WriteStatus
from werfop.core.model import Bundle, TagList
from werfop.core.names import FINALIZER
from werfop.core.reconcile import is_poll_due, reconcile


def tag_names(count: int) -> list[str]:
    """``count`` distinct release tags, 0.0.0, 0.0.1, ... (the highest is last)."""
    return [f"{i // 100}.{(i // 10) % 10}.{i % 10}" for i in range(count)]


def synced_bundle(count: int) -> tuple[World, Bundle, TagList]:
    """A bundle Synced on the highest of ``count`` tags, at its next due poll."""
    world = World(spec=make_spec(poll_interval=timedelta(minutes=5)))
    world.finalizers = (FINALIZER,)
    world.tags = {tag: digest_of(tag) for tag in tag_names(count)}
    world.step()
    world.finish_jobs()
    world.advance(timedelta(seconds=30))
    world.settle()
    assert world.status.phase == "Synced", world.status
    assert world.status.next_poll_time is not None
    world.now = world.status.next_poll_time
    bundle = world.bundle()
    assert is_poll_due(bundle, world.now)
    shared = TagList(
        repository=world.spec.registry.url,
        tags=tuple(sorted(world.tags)),
        etag='"e1"',
        at=world.now,
    )
    return world, bundle, shared


def measure(call, seconds: float) -> list[float]:
    """Per-call durations in microseconds, calling ``call`` for about ``seconds``."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + seconds
    gc.collect()
    while time.perf_counter() < deadline:
        for _ in range(50):
            start = clock()
            call()
            samples.append((clock() - start) / 1000)
    return samples


def cases(count: int, seconds: float) -> list[tuple[str, list[float], str]]:
    world, bundle, shared = synced_bundle(count)
    applied = world.status.last_applied_tag
    assert applied is not None
    digest = world.tags[applied]
    at = FixedClock(world.now)
    out = []

    def steady_shared() -> object:
        snapshot = attrs.evolve(shared, digests=((applied, digest),))
        return reconcile(bundle, snapshot, at)

    def steady_rebuilt() -> object:
        snapshot = TagList(
            repository=shared.repository,
            tags=tuple(sorted(world.tags)),
            digests=((applied, digest),),
            etag=shared.etag,
            at=world.now,
        )
        return reconcile(bundle, snapshot, at)

    def idle() -> object:
        return reconcile(bundle, None, at)

    plan = steady_shared()
    kinds = "+".join(type(a).__name__ for a in plan.actions)  # type: ignore[attr-defined]
    assert all(isinstance(a, WriteStatus) for a in plan.actions), kinds  # type: ignore[attr-defined]
    out.append(("steady, shared TagList", measure(steady_shared, seconds), kinds))
    out.append(("steady, rebuilt TagList", measure(steady_rebuilt, seconds), kinds))
    idle_plan = reconcile(bundle, None, at)
    out.append(("no poll due", measure(idle, seconds), f"{len(idle_plan.actions)} actions"))

    # On change: each call sees a repository with one more (new, highest) tag.
    base = tuple(sorted(world.tags))
    counter = iter(range(10**9))

    def changed_snapshot() -> tuple[TagList, str]:
        new = f"{100 + next(counter)}.0.0"
        snapshot = TagList(
            repository=shared.repository,
            tags=(*base, new),
            digests=((new, digest_of(new)),),
            etag=None,
            at=world.now,
        )
        return snapshot, new

    def on_change() -> object:
        snapshot, _ = changed_snapshot()
        return reconcile(bundle, snapshot, at)

    def on_change_cold() -> object:
        snapshot, _ = changed_snapshot()
        semver.parse_version.cache_clear()
        semver.parse_constraint.cache_clear()
        return reconcile(bundle, snapshot, at)  # a new TagList: its selection memo is empty

    plan = on_change()
    created = [a for a in plan.actions if isinstance(a, CreateJob)]  # type: ignore[attr-defined]
    assert len(created) == 1, plan
    kinds = "+".join(sorted({type(a).__name__ for a in plan.actions}))  # type: ignore[attr-defined]
    # The snapshot is built inside the timed call; it costs a tuple copy (~1 us/100 tags).
    out.append(("on change (new tag)", measure(on_change, seconds), kinds))
    out.append(("on change, cold memos", measure(on_change_cold, seconds), kinds))
    return out


def memo_retention(lists: int, tags: int) -> tuple[int, int, int, float]:
    """What the selection memos keep after ``lists`` distinct tag lists of ``tags`` tags
    were selected from, each through per-bundle ``attrs.evolve`` copies (as the observer
    hands them out), and then dropped (a long-running operator whose repositories change:
    the observer keeps only the current list of each). The sorted view and selections
    live on the ``TagList`` (P6), so they should die with it: counted through weak
    references to every list, plus the RSS still held."""
    semver.parse_version.cache_clear()
    gc.collect()
    before = rss_mib()
    base = tag_names(tags)
    policies = [versions.Policy(), versions.Policy(constraint=">=1.0.0")]
    at = FixedClock(T0).now()
    alive = []
    for i in range(lists):
        shared = TagList(repository="ghcr.io/acme/shop", tags=(*base, f"{100 + i}.0.0"), at=at)
        for policy in policies:
            versions.select(attrs.evolve(shared, digests=(("1.0.0", "sha256:0"),)), policy)
        alive.append(weakref.ref(shared))
        del shared
    semver.parse_version.cache_clear()  # tags seen once: not the memo under test
    gc.collect()
    kept = [ref() for ref in alive]
    kept_lists = [snapshot for snapshot in kept if snapshot is not None]
    views = sum(1 for snapshot in kept_lists if "sorted" in snapshot._memo)
    selections = sum(len(snapshot._memo) - ("sorted" in snapshot._memo) for snapshot in kept_lists)
    del kept, kept_lists
    return (lists, views, selections, rss_mib() - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.3 s per case instead of 2 s")
    args = parser.parse_args()
    seconds = 0.3 if args.quick else 2.0
    header("Figure 1: reconcile() decisions per second (pure core)")
    rows = []
    for count in (10, 100, 1000):
        for name, samples, actions in cases(count, seconds):
            mean = sum(samples) / len(samples)
            rows.append(
                (
                    name,
                    count,
                    1e6 / mean,
                    percentile(samples, 0.5),
                    percentile(samples, 0.99),
                    len(samples),
                    actions,
                )
            )
    print(
        table(
            ("case", "tags", "decisions/s", "p50 us", "p99 us", "calls", "plan"),
            rows,
        )
    )
    print()
    print(
        "Memo retention: distinct 1,000-tag lists selected from (2 policies each) and "
        "dropped, and what the memos still keep"
    )
    counts = (100, 1024) if args.quick else (100, 1024, 4096)
    print(
        table(
            ("tag lists", "sorted views kept", "selections kept", "RSS kept, MiB"),
            [memo_retention(count, 1000) for count in counts],
        )
    )


if __name__ == "__main__":
    main()
