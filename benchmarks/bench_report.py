"""The HTML report (``werfop simulate --report``): its size and the time to write it, for
the demo (examples/, 3 bundles, a day) and for N generated bundles over a span
(``scenarios.py``: 300 bundles on 20 repositories, a release per repository every 2 h,
polls every 5 min, Jobs succeed after a minute).

Prints the events the page holds (every entry but the polls that changed nothing, as
``simulate --report`` keeps them), the page's size, and the time to render and write it
(the simulation itself is timed apart: it runs whether or not a report is asked for).

Usage: .venv/bin/python benchmarks/bench_report.py [--bundles 300] [--span 24h] [--every 2h]
       [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import scenarios  # noqa: E402

from werfop.report_html import render_html  # noqa: E402
from werfop.simulate import (  # noqa: E402
    _Sink,
    check_objects,
    document,
    load_manifests,
    load_scenario,
    simulate,
)


class _Nothing:
    def event(self, event: dict) -> None:
        pass


def measure(label: str, objects: list, scenario, keep: Path | None) -> None:
    sink = _Sink(_Nothing(), None, keep=True)
    started = time.perf_counter()
    result = simulate(objects, scenario, on_event=sink, keep_events=False)
    simulated = time.perf_counter() - started
    assert sink.kept is not None
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        page = render_html(document(result, sink.kept))
        out = Path(tmp) / "report.html"
        out.write_text(page, encoding="utf-8")
        written = time.perf_counter() - started
        size = out.stat().st_size
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"report-{len(result.bundles)}.html").write_text(page, encoding="utf-8")
    jobs = sum(1 for e in sink.kept if e["type"] == "JobCreated")
    print(
        f"{label}: {len(result.bundles)} bundles, {len(sink.kept)} events kept "
        f"({jobs} Jobs); simulation {simulated:.2f} s; report {size / 1024:.0f} KiB "
        f"({size:,} bytes) rendered and written in {written:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=300)
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--span", default="24h")
    parser.add_argument("--every", default="2h")
    parser.add_argument("--keep", type=Path, help="also keep the pages in this folder")
    args = parser.parse_args()
    examples = ROOT / "examples"
    measure(
        "demo (examples/)",
        check_objects(load_manifests([str(examples)], str(examples / "scenario.yaml"))),
        load_scenario(str(examples / "scenario.yaml")),
        args.keep,
    )
    span, every = scenarios.parse_span(args.span), scenarios.parse_span(args.every)
    measure(
        f"{args.bundles} bundles x {args.span} (release every {args.every} per repository)",
        check_objects(
            [
                ("generated", i + 1, b)
                for i, b in enumerate(scenarios.bundles(args.bundles, args.repos))
            ]
        ),
        scenarios.scenario(args.repos, span, every),
        args.keep,
    )


if __name__ == "__main__":
    main()
