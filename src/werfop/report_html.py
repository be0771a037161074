"""``werfop simulate --report FILE.html``: one self-contained page with a lane per bundle
over the simulated time.

Role: turn the JSON report's document (``simulate.document``: the events, the final
statuses, the registry script and the run's span) into a page that works offline and
as a CI artifact: nothing is loaded from elsewhere. ``timeline.lanes`` reads the events
(phases, Jobs, other entries) exactly as the text report does; this module packs them
as compact JSON (times in seconds from the start) and an inline script of its own draws
SVG from it: phases as coloured spans, each Job as a bar labelled with its tag and
cause, registry outages shaded, pushes as ticks, hover and click for the details, a
filter and collapsed lanes for hundreds of bundles.

Why no charting library: the drawing is rectangles on a time axis. The libraries that
fit (vis-timeline 549 KB minified standalone, d3 281 KB, frappe-gantt 48 KB but one bar
per row, no lanes of spans) would be most of the page for a demo of three bundles; the
drawing code here is ~200 lines and the page grows with the data only.

Must not: compute anything the JSON report does not hold, or reference a URL.
Neighbours: ``simulate`` (writes the document), ``timeline``.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from importlib.resources import files
from typing import Any

from werfop.api.codec import parse_time
from werfop.report_timeline import PHASES, Lane, format_seconds, is_duration_field, lanes

RESULTS = ("succeeded", "failed", "running")
KINDS = ("apply", "plan", "uninstall")
COMPACT_ABOVE = 20  # more bundles than this: lanes start collapsed


def render_html(document: dict[str, Any]) -> str:
    """The page for ``document`` (the JSON report's shape, ``run`` included)."""
    start = parse_time(document["run"]["start"])
    end = parse_time(document["run"]["end"])
    assert start is not None and end is not None
    data = {
        "start": document["run"]["start"],
        "span": _offset(end, start),
        "phases": list(PHASES),
        "results": list(RESULTS),
        "kinds": list(KINDS),
        "compact": len(document["bundles"]) > COMPACT_ABOVE,
        "repos": {
            url: _repository(entry, start) for url, entry in sorted(document["registry"].items())
        },
        "lanes": [_lane(lane, document["bundles"][lane.bundle], start) for lane in lanes(document)],
    }
    packed = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    packed = packed.replace("</", "<\\/")  # never closes the script element
    resources = files("werfop") / "report_assets"
    title = f"werfop simulate: {len(data['lanes'])} bundles from {document['run']['start']}"
    return (
        (resources / "page.html")
        .read_text(encoding="utf-8")
        .replace("/*STYLE*/", (resources / "page.css").read_text(encoding="utf-8"))
        .replace("/*SCRIPT*/", (resources / "page.js").read_text(encoding="utf-8"))
        .replace("TITLE", html.escape(title))
        .replace("/*DATA*/", packed)
    )


def _offset(moment: datetime, start: datetime) -> float:
    seconds = (moment - start).total_seconds()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def _at(text: Any, start: datetime) -> float:
    moment = parse_time(text)
    assert moment is not None, text
    return _offset(moment, start)


def _repository(entry: dict[str, Any], start: datetime) -> dict[str, Any]:
    return {
        "requests": entry.get("requests", 0),
        "pushes": [[_at(p["time"], start), p["tag"]] for p in entry.get("pushes", ())],
        "deletions": [[_at(d["time"], start), d["tag"]] for d in entry.get("deletions", ())],
        "outages": [
            [_at(o["from"], start), _at(o["until"], start), str(o.get("status", ""))]
            for o in entry.get("outages", ())
        ],
    }


def _details(fields: Any, shown: tuple[str, ...] = ()) -> str:
    """``k=v`` for the fields not ``shown`` otherwise; a digest as docker prints it (the
    JSON report has it whole), durations with their unit."""
    return " ".join(f"{k}={_value(k, v)}" for k, v in fields if v is not None and k not in shown)


def _value(key: str, value: Any) -> str:
    if key == "digest" and isinstance(value, str) and len(value) > 19:
        return value[:19]
    if is_duration_field(key) and _number(value):
        return format_seconds(float(value))
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lane(lane: Lane, data: dict[str, Any], start: datetime) -> dict[str, Any]:
    status = data.get("status") or {}
    return {
        "b": lane.bundle,
        "p": lane.phase,
        "r": data.get("repository", ""),
        "a": status.get("lastAppliedTag") or "",
        "m": next(
            (
                str(c.get("message") or "")
                for c in status.get("conditions") or ()
                if isinstance(c, dict) and c.get("type") == "Ready"
            ),
            "",
        ),
        "s": [
            [_offset(s.start, start), _offset(s.end, start), PHASES.index(s.phase), s.message or ""]
            for s in lane.spans
        ],
        "j": [
            [
                _offset(j.start, start),
                None if j.end is None else _offset(j.end, start),
                RESULTS.index(j.result),
                KINDS.index(j.kind) if j.kind in KINDS else 0,
                j.tag or "",
                j.cause or "",
                j.name,
                _details(j.fields, shown=("tag", "cause")),
            ]
            for j in lane.jobs
        ],
        "e": [
            [
                _at(e["time"], start),
                e["type"],
                _details((k, v) for k, v in e.items() if k not in ("time", "bundle", "type")),
            ]
            for e in lane.markers
        ],
    }
