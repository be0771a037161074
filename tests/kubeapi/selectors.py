"""Label and field selectors: parsing the query-string syntax and matching objects against it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from kubeapi import errors

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_TERM = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_BINARY_TERM = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|!=|=|>|<)\s*(?P<value>{_VALUE})$")
_EXISTS_TERM = re.compile(rf"^(?P<neg>!?)\s*(?P<key>{_KEY})$")


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One comma-separated term of a label selector."""

    key: str
    op: str  # one of: =, !=, in, notin, exists, !, >, <
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        return present and _compare_numbers(value, self.op, next(iter(self.values)))


def _compare_numbers(value: str | None, op: str, bound: str) -> bool:
    try:
        number, limit = int(value or ""), int(bound)
    except ValueError:
        return False
    return number > limit if op == ">" else number < limit


def split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse ``a=b,c!=d,e,!f,g in (x,y),h notin (z)``; raise a 400 ApiError when invalid."""
    return [_parse_term(term) for term in split_terms(text or "")]


def _parse_term(term: str) -> Requirement:
    if match := _SET_TERM.match(term):
        values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
        return Requirement(match["key"], match["op"], values)
    if match := _BINARY_TERM.match(term):
        op = "=" if match["op"] == "==" else match["op"]
        if op in (">", "<") and not match["value"].isdigit():
            raise errors.bad_request(f"unable to parse requirement: {term!r}: not an integer")
        return Requirement(match["key"], op, frozenset({match["value"]}))
    if match := _EXISTS_TERM.match(term):
        return Requirement(match["key"], "!" if match["neg"] else "exists")
    raise errors.bad_request(f"unable to parse requirement: found {term!r}, expected selector")


def label_matcher(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    requirements = parse_label_selector(text)

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement.matches(labels) for requirement in requirements)

    return matches


@dataclasses.dataclass(frozen=True)
class FieldRequirement:
    """One term of a field selector: ``metadata.name=x`` or ``status.phase!=Running``."""

    path: str
    negate: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (field_value(obj, self.path) == self.value) != self.negate


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """A dotted field of an object as the string a field selector compares with."""
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None, supported: frozenset[str]) -> list[FieldRequirement]:
    """Parse ``metadata.name=x,status.phase!=y``; unsupported fields give the real 400 error."""
    requirements = []
    for term in split_terms(text or ""):
        match = re.match(r"^(?P<path>[A-Za-z0-9_.]+)\s*(?P<op>==|!=|=)\s*(?P<value>.*)$", term)
        if not match:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        if match["path"] not in supported:
            raise errors.bad_request(f"field label not supported: {match['path']}")
        requirements.append(FieldRequirement(match["path"], match["op"] == "!=", match["value"]))
    return requirements


def field_matcher(
    text: str | None, supported: frozenset[str]
) -> Callable[[Mapping[str, Any]], bool]:
    requirements = parse_field_selector(text, supported)
    return lambda obj: all(requirement.matches(obj) for requirement in requirements)
