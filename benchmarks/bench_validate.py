"""``werfop validate`` as a pre-commit hook pays for it: the whole command (interpreter
start, imports, loading, checks) on examples/ and on 300 generated bundles, each with a
values ConfigMap and a cross-namespace target with its Namespace and ServiceAccount (so
every reference is checked, none is a warning), spread over 10 files.

Prints the median and the spread of ``--runs`` wall times, and the in-process time of
``werfop.validate.validate`` alone (without the interpreter and imports).

Usage: .venv/bin/python benchmarks/bench_validate.py [--runs 5] [--bundles 300]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WERFOP = [sys.executable, "-m", "werfop.main"]


def write_bundles(folder: Path, count: int, files: int = 10) -> None:
    per_file = -(-count // files)
    for f in range(files):
        documents: list[dict] = []
        for i in range(f * per_file, min(count, (f + 1) * per_file)):
            name = f"app-{i:04d}"
            documents += [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": f"{name}-prod",
                        "annotations": {"werf.io/accept-bundles-from": "apps"},
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "werf", "namespace": f"{name}-prod"},
                },
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"{name}-values", "namespace": "apps"},
                    "data": {"values.yaml": f"replicas: 2\nhost: {name}.example.com\n"},
                },
                {
                    "apiVersion": "werf.io/v1alpha1",
                    "kind": "WerfBundle",
                    "metadata": {"name": name, "namespace": "apps"},
                    "spec": {
                        "registry": {
                            "url": f"ghcr.io/acme/app-{i % 20:02d}",
                            "versionConstraint": ">=1.0.0 <2.0.0",
                            "tagFilter": {"exclude": "-rc\\.[0-9]+$"},
                            "pollInterval": "5m",
                        },
                        "converge": {
                            "targetNamespace": f"{name}-prod",
                            "serviceAccountName": "werf",
                            "valuesFrom": [{"configMapRef": {"name": f"{name}-values"}}],
                            "values": {"tls": True},
                        },
                    },
                },
            ]
        (folder / f"bundles-{f:02d}.yaml").write_text(yaml.safe_dump_all(documents))


def timed(command: list[str], runs: int) -> tuple[list[float], int, str]:
    times = []
    code, err = 0, ""
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - started)
        code, err = done.returncode, (done.stderr.strip().splitlines() or [""])[-1]
    return times, code, err


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundles", type=int, default=300)
    args = parser.parse_args()
    baseline, _, _ = timed([sys.executable, "-c", "pass"], args.runs)
    print(f"python -c pass (interpreter start alone): median {statistics.median(baseline):.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_bundles(folder, args.bundles)
        for label, path in (
            ("examples/", str(ROOT / "examples")),
            (f"{args.bundles} bundles", tmp),
        ):
            times, code, summary = timed([*WERFOP, "validate", path], args.runs)
            print(
                f"werfop validate {label}: median {statistics.median(times):.3f} s "
                f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs); exit {code}; "
                f"{summary.removeprefix('werfop validate: ')}"
            )
        sys.path.insert(0, str(ROOT / "src"))
        from werfop.validate import validate

        started = time.perf_counter()
        report = validate([tmp])
        elapsed = time.perf_counter() - started
        print(
            f"validate() in process, {args.bundles} bundles: {elapsed:.3f} s "
            f"({report.objects} objects, {len(report.errors)} errors)"
        )


if __name__ == "__main__":
    main()
