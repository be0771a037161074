"""Kubernetes label selectors, evaluated client-side (caches and the in-memory cluster).

Equality-based (``a=b``, ``a==b``, ``a!=b``), existence (``a``, ``!a``) and set-based
(``a in (x,y)``, ``a notin (x,y)``) terms, comma-joined, all of which must hold.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


@lru_cache(maxsize=1024)
def _terms(selector: str) -> tuple[str, ...]:
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return tuple(t.strip() for t in terms if t.strip())


def matches_selector(labels: dict[str, str], selector: str) -> bool:
    for term in _terms(selector):
        set_term = _SET_TERM.match(term)
        if set_term:
            key, op, values = set_term.groups()
            choices = {v.strip() for v in values.split(",") if v.strip()}
            inside = labels.get(key) in choices
            if (op == "in") != inside:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


@lru_cache(maxsize=1024)
def equality_terms(selector: str) -> tuple[tuple[str, str], ...] | None:
    """The selector as (key, value) pairs when it has equality terms only (``a=b``,
    ``a==b``), so that an index of labels answers it exactly; None otherwise."""
    pairs = []
    for term in _terms(selector):
        if _SET_TERM.match(term) or "!=" in term or "=" not in term:
            return None
        key, value = term.replace("==", "=").split("=", 1)
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)
