"""Push-trigger latency: tag pushed to the real distribution registry -> Job created.

The registry (Debian docker-registry) is configured to send its push notifications to
the operator's POST /hooks/registry; `werfop run` runs as a subprocess against the
Kubernetes API test server; a Job-controller stand-in ends each Job at once. The
bundle polls every 24h, so every deploy here is caused by a notification.

    .venv/bin/python benchmarks/bench_push_latency.py [--pushes N] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi.jobcontroller import JobController  # noqa: E402
from kubeapi.server import running_kube_api  # noqa: E402
from support.operator import Operator, bundle, free_port, wait_for, werf_jobs  # noqa: E402
from support.registry.process import start_registry  # noqa: E402

TOKEN = "bench-hook-token"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="10 pushes")
    args = parser.parse_args()
    pushes = 10 if args.quick else args.pushes
    with tempfile.TemporaryDirectory() as folder, running_kube_api() as api:
        tmp = Path(folder)
        health = free_port()
        registry = start_registry(
            tmp / "registry", "plain", notify=(f"http://127.0.0.1:{health}/hooks/registry", TOKEN)
        )
        controller = JobController(api, lambda job: ("succeeded", "ok\n"), poll_interval=0.05)
        controller.start()
        operator = None
        try:
            api.create(
                "secrets",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "Opaque",
                    "metadata": {"name": "hook", "namespace": "default"},
                    "data": {"token": base64.b64encode(TOKEN.encode()).decode()},
                },
            )
            registry.pusher.push_chart("bench/app", "1.0.0")
            api.create(
                "werfbundles",
                bundle("app", f"{registry.host}/bench/app", registry={"pollInterval": "24h"}),
            )
            kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
            operator = Operator(
                kubeconfig,
                tmp / "operator.log",
                ["--webhook-secret", "default/hook"],
                {},
                health=health,
            ).wait_ready()
            wait_for(lambda: len(werf_jobs(api)) == 1, timeout=30, what="the first Job")
            latencies = []
            for index in range(1, pushes + 1):
                wait_for(
                    lambda: (
                        (api.get("werfbundles", "default", "app") or {})
                        .get("status", {})
                        .get("phase")
                        == "Synced"
                    ),
                    timeout=30,
                    what="Synced",
                )
                registry.pusher.push_chart("bench/app", f"1.{index}.0")
                pushed = time.monotonic()
                # By its tag, not by counting: the operator deletes the Jobs that left
                # the bundle's history (10 deploys), so the count stops growing.
                wait_for(
                    lambda tag=f"1.{index}.0": any(
                        (j["metadata"].get("annotations") or {}).get("werf.io/tag") == tag
                        for j in werf_jobs(api)
                    ),
                    timeout=30,
                    what=f"the Job of 1.{index}.0",
                    interval=0.005,
                )
                latencies.append(time.monotonic() - pushed)
        finally:
            if operator is not None:
                operator.terminate()
            controller.stop()
            registry.stop()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"push -> Job created over {len(latencies)} pushes (notification, 24h poll interval)")
    print(f"  p50 {statistics.median(latencies) * 1000:7.1f} ms")
    print(f"  p95 {p95 * 1000:7.1f} ms")
    print(f"  max {latencies[-1] * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
