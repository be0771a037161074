"""``werfop simulate --output text``: a readable timeline as the run goes, then a table of
the bundles and one of the repositories.

Role: format only. Every column is aligned whatever the event (the time is padded to
the width of one with milliseconds, the bundle column to the longest bundle, the event
column to the longest known entry name), each duration carries its unit
(``retryIn=29s``), a bundle deleted during the run keeps its row (phase ``Deleted``),
and registry requests are counted per repository, where they are spent (bundles that
follow one repository share its requests).
Must not: decide or count anything the simulation did not report.
Neighbours: ``simulate`` (calls ``event`` and ``finish``), ``timeline`` (phases,
durations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from werfop.report_timeline import final_phase, format_seconds, is_duration_field

if TYPE_CHECKING:
    from werfop.simulate import Result

TIME_WIDTH = len("2026-01-01T00:00:00.000Z")
TYPE_WIDTH = len("DriftCorrectionFailed")  # the longest entry name the core writes today
# Shown last: free text that may hold spaces.
_LAST = ("reason", "message")


def _value(key: str, value: object) -> str:
    if key == "digest" and isinstance(value, str) and len(value) > 19:
        return value[:19]  # sha256: and 12 hex digits, as docker prints them
    if is_duration_field(key) and isinstance(value, int | float) and not isinstance(value, bool):
        return format_seconds(float(value))
    return str(value)


class TextReport:
    """A ``Polled`` line is shown only when the selection changes (the JSON output keeps
    every poll)."""

    def __init__(self, out: TextIO, bundles: list[str] | None = None, *, some: bool = False):
        self.out = out
        self.some = some  # --bundle: the API requests are still the whole run's
        self.selected: dict[str, object] = {}
        self.quiet = 0
        self.bundle_width = max((len(b) for b in bundles or ()), default=24)

    def event(self, event: dict[str, Any]) -> None:
        if event["type"] == "Polled":
            if self.selected.get(event["bundle"], "-") == event.get("selected"):
                self.quiet += 1
                return
            self.selected[event["bundle"]] = event.get("selected")
        fields = [(k, v) for k, v in event.items() if k not in ("time", "bundle", "type")]
        fields.sort(key=lambda item: item[0] in _LAST)  # stable: the core's order otherwise
        details = " ".join(f"{k}={_value(k, v)}" for k, v in fields if v is not None)
        line = (
            f"{event['time']:<{TIME_WIDTH}}  {event['bundle']:<{self.bundle_width}}  "
            f"{event['type']:<{TYPE_WIDTH}}  {details}"
        )
        self.out.write(line.rstrip() + "\n")

    def finish(self, result: Result) -> None:
        writes = sum(n for k, n in result.api.items() if not k.startswith(("GET", "LIST")))
        lines = [
            f"({self.quiet} polls that changed nothing are not shown; --output json lists them)",
            ("API server requests, all bundles: " if self.some else "API server requests: ")
            + f"{sum(result.api.values())} ({writes} writes; "
            "--output json counts them by verb and resource)",
            "",
        ]
        rows = [("BUNDLE", "PHASE", "APPLIED", "JOBS", "REPOSITORY")]
        for key, data in sorted(result.bundles.items()):
            status = data["status"]
            rows.append(
                (
                    key,
                    final_phase(data),
                    str(status.get("lastAppliedTag") or "-"),
                    str(result.jobs_run.get(key, 0)),
                    result.repositories.get(key, "-"),
                )
            )
        lines += _table(rows, right=(3,))
        lines.append("")
        followers: dict[str, int] = {}
        for url in result.repositories.values():
            followers[url] = followers.get(url, 0) + 1
        rows = [("REPOSITORY", "BUNDLES", "REGISTRY REQUESTS", "PUSHES", "OUTAGES")]
        for url, data in sorted(result.registry.items()):
            rows.append(
                (
                    url,
                    str(followers.get(url, 0)),
                    str(data.get("requests", 0)),
                    str(len(data.get("pushes", ()))),
                    str(len(data.get("outages", ()))),
                )
            )
        lines += _table(rows, right=(1, 2, 3, 4))
        self.out.write("\n".join(lines) + "\n")


def _table(rows: Sequence[tuple[str, ...]], right: tuple[int, ...]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
