"""Semantic versions and constraints, in the dialect of Masterminds/semver v3 (as Flux uses).

Role: parse tags into ``Version`` and constraint strings into ``Constraint``; answer
``Constraint.allows(version)``. Pure and total: parse failures are ``None`` (tags) or a
``ConstraintError`` whose message says what is wrong (constraints).

Must not: know about tags filters, registries or bundles (``versions.py`` does that).

Dialect, as Masterminds accepts it:
- versions: an optional ``v``, one to three numeric parts (``1``, ``1.2``, ``1.2.3``;
  missing parts are zero; zero-padded parts such as ``2025.01.09`` compare as numbers),
  an optional ``-prerelease`` (numeric identifiers without leading zeros) and ``+build``;
- constraints: ``||`` separates alternatives; inside one, comparisons are joined by
  spaces or commas and must all hold; operators ``=``, ``!=``, ``>``, ``<``, ``>=``,
  ``<=``, ``=<``, ``=>``, ``~``, ``~>``, ``^``; wildcards ``x``, ``X``, ``*``; hyphen
  ranges ``1.2 - 1.4.5``, also beside other comparisons;
- ``~0.0.0`` means ``>=0.0.0 <0.1.0``, like every other tilde (Masterminds lets it mean
  any version, a special case we do not copy);
- a prerelease version can match an alternative only when one of that alternative's
  comparisons names a prerelease (``>=1.0.0-0``, ``>=1.0.0-0 <2.0.0``). Masterminds asks
  this of every comparison, which makes ``>=1.0.0-0 <2.0.0`` exclude all prereleases; we
  follow the intent users write down (and npm's rule) instead. See docs/versions.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import attrs

# Numeric parts may be zero-padded (2025.01.09: Masterminds' lenient parser and Flux take
# them, compared as numbers); a numeric prerelease identifier may not (semver 2.0 §9:
# 1.2.3-rc.01 is not a version, as in Flux).
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_PRE = rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
_BUILD = r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
_VERSION_RE = re.compile(rf"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?{_PRE}{_BUILD}$")
_PART = r"(?:\d+|[xX*])"
_CONSTRAINT_VERSION_RE = re.compile(rf"^v?({_PART})(?:\.({_PART}))?(?:\.({_PART}))?{_PRE}{_BUILD}$")
_OPERATORS = ("!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^")
# A hyphen range anywhere in an alternative (Masterminds rewrites each in place):
# "1.0.0 - 2.0.0 <=1.5" and "1.0.0 - 2.0.0, <=1.5" are both ">=1.0.0 <=2.0.0 <=1.5".
_HYPHEN_RE = re.compile(r"([^\s,|]+)\s+-\s+([^\s,|]+)")
_MAX_CONSTRAINT_LENGTH = 1024


class ConstraintError(ValueError):
    """A constraint string that does not parse; the message says which part and why."""


def _prerelease_key(pre: str) -> tuple[tuple[int, int | str], ...]:
    # Numeric identifiers sort numerically and before alphanumeric ones (semver 2.0 §11).
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))


@attrs.frozen(order=False)
class Version:
    """A parsed semantic version; build metadata is kept but never compared."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""
    # Sort key: a release sorts after all of its prereleases. Computed once (sorting a
    # long tag list compares versions O(n log n) times); not part of equality or hash.
    key: tuple[int, int, int, int, tuple[tuple[int, int | str], ...]] = attrs.field(
        init=False, eq=False, repr=False
    )

    @key.default
    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        if self.prerelease:
            return (self.major, self.minor, self.patch, 0, _prerelease_key(self.prerelease))
        return (self.major, self.minor, self.patch, 1, ())

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text


@lru_cache(maxsize=65536)
def parse_version(tag: str) -> Version | None:
    """Parse a tag as Masterminds' lenient ``NewVersion`` does; ``None`` if it is not semver."""
    match = _VERSION_RE.match(tag)
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    return Version(
        major=int(major),
        minor=int(minor or 0),
        patch=int(patch or 0),
        prerelease=pre or "",
        build=build or "",
    )


Check = Callable[[Version], bool]


@attrs.frozen
class _Comparison:
    text: str
    check: Check = attrs.field(eq=False, repr=False)
    names_prerelease: bool


@attrs.frozen
class Constraint:
    """A parsed constraint: any of ``alternatives`` holds when all its comparisons hold."""

    text: str
    alternatives: tuple[tuple[_Comparison, ...], ...] = attrs.field(repr=False)

    def allows(self, version: Version) -> bool:
        """True when ``version`` satisfies the constraint."""
        for group in self.alternatives:
            if version.prerelease and not any(c.names_prerelease for c in group):
                continue
            if all(c.check(version) for c in group):
                return True
        return False


def _lower(major: int, minor: int, patch: int, pre: str = "") -> Version:
    return Version(major=major, minor=minor, patch=patch, prerelease=pre)


def _range(low: Version | None, high: Version | None) -> Check:
    """low <= v < high, either bound optional; prerelease-aware through Version ordering."""

    def check(v: Version) -> bool:
        if low is not None and v < low:
            return False
        return not (high is not None and v >= high)

    return check


def _parse_partial(text: str, where: str) -> tuple[list[int | None], str]:
    """Parse ``1``, ``1.2``, ``1.x``, ``1.2.3-rc.1``; missing or wildcard parts are None."""
    match = _CONSTRAINT_VERSION_RE.match(text)
    if match is None:
        raise ConstraintError(f"{where}: {text!r} is not a version")
    parts: list[int | None] = []
    wildcard_seen = False
    for part in match.groups()[:3]:
        if part is None or part in "xX*":
            wildcard_seen = True
            parts.append(None)
        else:
            if wildcard_seen:
                raise ConstraintError(f"{where}: {text!r} has a number after a wildcard")
            parts.append(int(part))
    return parts, match.group(4) or ""


def _comparison(text: str, where: str) -> _Comparison:
    op = ""
    body = text
    for candidate in _OPERATORS:
        if text.startswith(candidate):
            op, body = candidate, text[len(candidate) :].strip()
            break
    if not body:
        raise ConstraintError(f"{where}: operator {op!r} has no version")
    if body in ("*", "x", "X"):
        parts: list[int | None] = [None, None, None]
        pre = ""
    else:
        parts, pre = _parse_partial(body, where)
    major, minor, patch = parts
    pinned = [p for p in parts if p is not None]
    n = len(pinned)

    def exact_low() -> Version:
        return _lower(major or 0, minor or 0, patch or 0, pre)

    def next_up(level: int) -> Version | None:
        # The first version above the pinned prefix of length `level`.
        if level == 0:
            return None
        if level == 1:
            return _lower((major or 0) + 1, 0, 0, "0")
        if level == 2:
            return _lower(major or 0, (minor or 0) + 1, 0, "0")
        return _lower(major or 0, minor or 0, (patch or 0) + 1, "0")

    check: Check
    if op in ("", "="):
        if n == 3:
            target = exact_low()
            check = lambda v: v.key == target.key  # noqa: E731
        else:
            check = _range(exact_low() if n else None, next_up(n))
    elif op == "!=":
        if n == 3:
            target = exact_low()
            check = lambda v: v.key != target.key  # noqa: E731
        elif n == 2 and pre:
            # "!=4.1-alpha" excludes that prerelease of 4.1.x only (Masterminds), not 4.1.x.
            check = lambda v: (v.major, v.minor, v.prerelease) != (major, minor, pre)  # noqa: E731
        else:
            inside = _range(exact_low() if n else None, next_up(n))
            check = lambda v: not inside(v)  # noqa: E731
    elif op in (">", ">="):
        if op == ">" and n < 3:
            # ">1.2" means above every 1.2.x.
            bound = next_up(n)
            check = (lambda v: False) if bound is None else _range(bound, None)
        elif op == ">":
            target = exact_low()
            check = lambda v: v > target  # noqa: E731
        else:
            check = _range(exact_low(), None)
    elif op in ("<", "<="):
        if op == "<=" and n < 3:
            check = _range(None, next_up(n))
        elif op == "<=":
            target = exact_low()
            check = lambda v: v <= target  # noqa: E731
        else:
            check = _range(None, exact_low() if n else _lower(0, 0, 0, "0"))
    elif op in ("=>", "=<"):
        return _comparison((">=" if op == "=>" else "<=") + body, where)
    elif op in ("~", "~>"):
        # ~1.2.3 := >=1.2.3 <1.3.0; ~1.2 := >=1.2.0 <1.3.0; ~1 := >=1.0.0 <2.0.0
        check = _range(exact_low(), next_up(1 if n == 1 else 2) if n else None)
    elif op == "^":
        # ^ pins the left-most non-zero part given.
        if n == 0:
            check = _range(None, None)
        elif (major or 0) > 0 or n == 1:
            check = _range(exact_low(), next_up(1))
        elif n == 2 or (minor or 0) > 0:
            check = _range(exact_low(), next_up(2))
        else:
            check = _range(exact_low(), next_up(3))
    else:  # pragma: no cover - the operator table is closed
        raise ConstraintError(f"{where}: unknown operator {op!r}")
    return _Comparison(text=text, check=check, names_prerelease=bool(pre))


def _split_and(group: str) -> list[str]:
    """Split one alternative into comparisons; ``>= 1.2`` (a space after the operator) joins."""
    tokens = [t for t in re.split(r"[\s,]+", group.strip()) if t]
    out: list[str] = []
    pending = ""
    for token in tokens:
        if token in _OPERATORS:
            pending += token
            continue
        out.append(pending + token)
        pending = ""
    if pending:
        out.append(pending)
    return out


@lru_cache(maxsize=4096)
def parse_constraint(text: str) -> Constraint:
    """Parse a constraint string; raise ``ConstraintError`` with a precise message."""
    if not text.strip():
        raise ConstraintError("the constraint is empty")
    if len(text) > _MAX_CONSTRAINT_LENGTH:
        raise ConstraintError(f"the constraint is longer than {_MAX_CONSTRAINT_LENGTH} characters")
    alternatives: list[tuple[_Comparison, ...]] = []
    for index, group in enumerate(text.split("||")):
        where = f"alternative {index + 1}"
        if not group.strip():
            raise ConstraintError(f"{where} is empty")
        group = _HYPHEN_RE.sub(r">=\1 <=\2", group)
        alternatives.append(tuple(_comparison(part, where) for part in _split_and(group)))
    return Constraint(text=text, alternatives=tuple(alternatives))
