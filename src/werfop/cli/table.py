"""``werfop get``: WerfBundles as a table, as ``flux get`` and ``kubectl get`` print one.

Role: rows from raw WerfBundle JSON (NAME, PHASE, DESIRED, APPLIED, READY, MESSAGE, AGE;
NAMESPACE first with ``-A``) and a plain text table (columns left-aligned, three spaces
apart, no trailing blanks). Pure: the caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from werfop.cli.age import age_since
from werfop.cli.levers import condition, status_of
from werfop.core import names

HEADERS = ("NAME", "PHASE", "DESIRED", "APPLIED", "READY", "MESSAGE", "AGE")


def bundle_row(bundle: dict[str, Any], now: datetime, *, namespaced: bool) -> list[str]:
    """One bundle's cells; with ``namespaced`` its namespace comes first."""
    meta, status = bundle.get("metadata") or {}, status_of(bundle)
    ready = condition(bundle, names.READY)
    message = " ".join(str(ready.get("message") or "").split())  # one line
    row = [
        str(meta.get("name", "")),
        str(status.get("phase") or ""),
        str(status.get("desiredTag") or ""),
        str(status.get("lastAppliedTag") or ""),
        str(ready.get("status") or ""),
        message,
        age_since(meta.get("creationTimestamp"), now),
    ]
    return [str(meta.get("namespace", "")), *row] if namespaced else row


def bundle_table(bundles: Sequence[dict[str, Any]], now: datetime, *, namespaced: bool) -> str:
    """The table ``werfop get`` prints (headers included), ending with a newline."""
    headers = ["NAMESPACE", *HEADERS] if namespaced else list(HEADERS)
    rows = [bundle_row(b, now, namespaced=namespaced) for b in bundles]
    return render_table(headers, rows)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
