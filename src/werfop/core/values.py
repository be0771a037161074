"""Helm values: deep merge in werfop's documented order, and the hash that identifies them.

Role: merge already-parsed values documents (JSON-like objects) and hash the result, so
a change of content, not of formatting, redeploys. Must not: read ConfigMaps or parse
YAML (``werfop.api.values`` does that at the edge).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge recursively, later wins; lists and scalars are replaced, as Helm does."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def merge_all(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for document in documents:
        merged = deep_merge(merged, document)
    return merged


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def values_hash(merged: Mapping[str, Any], salt: str) -> str:
    """A short hash of the merged values; salted with the bundle uid so equal secrets in
    two bundles do not show equal hashes."""
    text = salt + "\0" + canonical_json(merged)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
