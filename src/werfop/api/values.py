"""Helm values documents at the edge: parse the YAML a ConfigMap or Secret holds.

Role: turn one document's text into a mapping, or a problem naming the field of the
bundle that pointed at it. Never echoes the document (it may be secret).
"""

from __future__ import annotations

from typing import Any

import yaml

from werfop.core.model import FieldProblem

MAX_DOCUMENT_BYTES = 1024 * 1024


def load_values(text: str, path: str, source: str) -> dict[str, Any] | FieldProblem:
    """The mapping in ``text``; an empty document is an empty mapping."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        return FieldProblem(path=path, message=f"{source} is larger than 1 MiB")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return FieldProblem(path=path, message=f"{source} is not valid YAML{where}")
    if document is None:
        return {}
    if not isinstance(document, dict):
        return FieldProblem(
            path=path, message=f"{source} must hold a YAML mapping, not a {type(document).__name__}"
        )
    return document
