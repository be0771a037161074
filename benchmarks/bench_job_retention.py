"""Supplement to figures 4 and 5: the cost of retained Jobs in the operator's Job cache.

The operator's Job informer caches every werfop Job in the cluster, and each pass lists
the bundle's Jobs from that cache (``KubernetesApi.list_jobs`` -> ``Cache.select``).
This script fills a ``werfop.adapters.kubernetes.Cache`` with K Jobs rendered by the core
(as the API server returns them) and measures one ``select`` for one bundle, and the
RSS the cache costs.

K: 1,000 (one Job per bundle); 11,000 = 1,000 bundles x (the 10 deploy Jobs
``status.versionHistory`` names + a drift check), the most a bundle keeps since the core
deletes the Jobs the history no longer names; and 56,000 = a deploy every 3 h kept for
``ttlSecondsAfterFinished = logRetentionDays`` (7 days), what a week held before that.

Usage: .venv/bin/python benchmarks/bench_job_retention.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import gc
import time

from common import header, percentile, rss_mib, table

from support.world import World, digest_of, make_spec
from werfop.adapters.kubernetes import JOB_FIELDS, Cache
from werfop.core.actions import CreateJob
from werfop.core.jobspec import label_value
from werfop.core.names import LABEL_BUNDLE_UID


def job_manifest() -> dict:
    """One deploy Job as the core renders it, plus the fields the API server adds."""
    world = World(spec=make_spec())
    world.tags = {"1.0.0": digest_of("1.0.0")}
    plan = world.step()
    job = next(a.job for a in plan.actions if isinstance(a, CreateJob))
    job = copy.deepcopy(job)
    job["metadata"].update(
        uid="0" * 36, resourceVersion="1", creationTimestamp="2026-01-01T00:00:00Z"
    )
    job["status"] = {
        "startTime": "2026-01-01T00:00:00Z",
        "completionTime": "2026-01-01T00:01:00Z",
        "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True"}],
    }
    return job


def fill(count: int, bundles: int, template: dict) -> Cache:
    cache = Cache(keep=JOB_FIELDS)  # as KubernetesApi.jobs
    for i in range(count):  # one at a time, as watch events come: each full copy is freed
        job = copy.deepcopy(template)
        uid = f"uid-{i % bundles:05d}"
        job["metadata"]["name"] = f"app-{i % bundles:04d}-{i:06d}"
        job["metadata"]["labels"][LABEL_BUNDLE_UID] = label_value(uid)
        cache.put(job)
    cache.synced = True
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K up to 11,000")
    args = parser.parse_args()
    sizes = (1000, 11_000) if args.quick else (1000, 11_000, 56_000)
    header("Retained Jobs: one pass's Job listing from the operator's cache")
    template = job_manifest()
    rows = []
    for count in sizes:
        gc.collect()
        before = rss_mib()
        cache = fill(count, 1000, template)
        gc.collect()
        cached = rss_mib() - before
        selector = f"{LABEL_BUNDLE_UID}={label_value('uid-00042')}"
        timings = []
        for _ in range(5 if count > 11_000 else 20):
            started = time.perf_counter()
            found = cache.select(selector)
            timings.append((time.perf_counter() - started) * 1000)
        per_pass = percentile(timings, 0.5)
        rows.append(
            (
                count,
                len(found),
                per_pass,
                1000 / per_pass,
                per_pass * 1000 / 1000,
                cached,
                cached * 1024 / count,
            )
        )
        del cache
    print(
        table(
            (
                "Jobs cached",
                "Jobs per bundle",
                "select ms",
                "passes/s (this alone)",
                "s per 1,000-bundle cycle",
                "cache MiB",
                "KiB per Job",
            ),
            rows,
        )
    )


if __name__ == "__main__":
    main()
