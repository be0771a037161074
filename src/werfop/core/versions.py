"""Tag selection: filters, semver constraints, the downgrade guard, with reasons.

Role: given a repository's tags and a ``Policy``, choose the tag to deploy and explain
the tags it passed over. The same function serves ``reconcile``, ``werfop resolve`` and
any tool that imports ``werfop.core``.
Must not: look at digests or time (``reconcile`` applies ``minAge``), or raise: a bad
constraint or regular expression selects nothing and says so (fail closed).

Tag filters are RE2 (the ``google-re2`` package), as Go's regexp in Flux: matching is
linear in the tag's length whatever the pattern, so no tenant's pattern can stall the
operator. A pattern RE2 cannot run (backreferences, lookaround) is a spec error; there is
no fallback to Python's backtracking ``re``.

Cost: the parsed, sorted view of a ``TagList`` and each (tag list, policy) answer are
memoised on the ``TagList`` itself (its private ``_memo``, shared by the copies
``attrs.evolve`` makes), so a steady-state pass over a shared snapshot costs the same for
10 tags or 10,000, and the memo dies with the tag list: nothing outlives the observer's
previous list of a repository.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import attrs
import re2

from werfop.core.model import Rejection, TagList
from werfop.core.semver import (
    Constraint,
    ConstraintError,
    Version,
    parse_constraint,
    parse_version,
)

MAX_REJECTIONS = 10

# Stable reason strings, shown in status.selection.rejected[].reason.
OUTSIDE_CONSTRAINT = "outside constraint"
PRERELEASE = "prerelease"
FILTERED = "filtered"
DOWNGRADE = "downgrade"
TOO_YOUNG = "too young"
NOT_SEMVER = "not semver"


@attrs.frozen(kw_only=True)
class Policy:
    """Everything selection depends on besides the tags."""

    constraint: str | None = None
    tag: str | None = None
    include: str | None = None
    exclude: str | None = None
    allow_downgrade: bool = False
    last_applied: str | None = None


@attrs.frozen(kw_only=True)
class Selection:
    """The answer: the chosen tag (or None), how many tags were seen, and why others lost.

    ``error`` names the spec field when the policy itself is unusable.
    """

    selected: str | None
    considered: int
    rejected: tuple[Rejection, ...] = ()
    error: str | None = None


@attrs.frozen
class _Sorted:
    versions: tuple[tuple[Version, str], ...]  # highest first
    not_semver: tuple[str, ...]


def _sort_key(item: tuple[Version, str]) -> tuple[object, ...]:
    version, tag = item
    # Highest version first; on equal versions prefer the tag without "v" or build metadata.
    return (version.key, -len(tag), tag)


def sorted_versions(tags: tuple[str, ...]) -> _Sorted:
    """Parse and sort tags, highest version first; non-semver tags kept aside in order."""
    parsed: list[tuple[Version, str]] = []
    rest: list[str] = []
    for tag in tags:
        version = parse_version(tag)
        if version is None:
            rest.append(tag)
        else:
            parsed.append((version, tag))
    parsed.sort(key=_sort_key, reverse=True)
    return _Sorted(versions=tuple(parsed), not_semver=tuple(rest))


# A TagList's memo: its sorted view under this key, its selections under their Policy.
_SORTED = "sorted"
# Selections kept per TagList (distinct policies: constraint, filters, last applied tag);
# past this the memo starts over rather than grow without bound.
MAX_SELECTIONS_PER_LIST = 4096


def sorted_for(snapshot: TagList) -> _Sorted:
    """The sorted view of ``snapshot``, memoised on it (and its ``attrs.evolve`` copies)."""
    memo = snapshot._memo
    view = memo.get(_SORTED)
    if view is None:
        view = memo[_SORTED] = sorted_versions(snapshot.tags)
    return view  # type: ignore[return-value]


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported once, in the status


class PatternError(ValueError):
    """A tag filter RE2 cannot compile; the message says why."""


@lru_cache(maxsize=256)
def compile_tag_filter(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (linear-time matching); raises ``PatternError``.

    Every tag filter goes through here: the operator, ``werfop resolve``, the simulator
    and ``werfop validate`` share it.
    """
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else "unsupported"
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise PatternError(f"{reason} (RE2 syntax: no backreferences or lookaround)") from None


def policy_error(policy: Policy) -> str | None:
    """The first problem with the policy itself, naming the spec field; None if usable."""
    if policy.constraint and policy.tag:
        return "spec.registry: tag and versionConstraint are mutually exclusive"
    for field_name, pattern in (("include", policy.include), ("exclude", policy.exclude)):
        if pattern is None:
            continue
        try:
            compile_tag_filter(pattern)
        except PatternError as error:
            return f"spec.registry.tagFilter.{field_name}: invalid regular expression: {error}"
    if policy.constraint:
        try:
            parse_constraint(policy.constraint)
        except ConstraintError as error:
            return f"spec.registry.versionConstraint: {error}"
    return None


def _filtered(policy: Policy, tag: str) -> bool:
    if policy.include is not None and compile_tag_filter(policy.include).search(tag) is None:
        return True
    exclude = policy.exclude
    return exclude is not None and compile_tag_filter(exclude).search(tag) is not None


def select(tags: TagList | tuple[str, ...], policy: Policy) -> Selection:
    """Choose the tag to deploy from ``tags`` under ``policy``.

    Semver mode (no ``policy.tag``): the highest semver tag that passes the filters and
    the constraint (or, without a constraint, the highest release; prereleases only when
    the constraint names one), never lower than ``last_applied`` unless
    ``allow_downgrade``. Tag mode: ``policy.tag`` if the repository has it.
    """
    if isinstance(tags, TagList):
        return _select_cached(tags, policy)
    return _select(sorted_versions(tags), len(tags), tags, policy)


def _select_cached(snapshot: TagList, policy: Policy) -> Selection:
    memo = snapshot._memo
    found = memo.get(policy)
    if found is None:
        found = _select(sorted_for(snapshot), len(snapshot.tags), snapshot.tags, policy)
        if len(memo) > MAX_SELECTIONS_PER_LIST:
            memo.clear()
        memo[policy] = found
    return found  # type: ignore[return-value]


def _select(view: _Sorted, considered: int, raw: tuple[str, ...], policy: Policy) -> Selection:
    error = policy_error(policy)
    if error is not None:
        return Selection(selected=None, considered=considered, error=error)
    if policy.tag is not None:
        return _select_exact(raw, policy)

    constraint = parse_constraint(policy.constraint) if policy.constraint else None
    floor = None
    if policy.last_applied and not policy.allow_downgrade:
        floor = parse_version(policy.last_applied)
    rejected: list[Rejection] = []

    def reject(tag: str, reason: str) -> None:
        if len(rejected) < MAX_REJECTIONS:
            rejected.append(Rejection(tag=tag, reason=reason))

    selected = None
    for version, tag in view.versions:
        if _filtered(policy, tag):
            reject(tag, FILTERED)
        elif constraint is None and version.prerelease:
            reject(tag, PRERELEASE)
        elif constraint is not None and not constraint.allows(version):
            is_prerelease_only = version.prerelease and _allows_release_of(constraint, version)
            reject(tag, PRERELEASE if is_prerelease_only else OUTSIDE_CONSTRAINT)
        elif floor is not None and version < floor:
            reject(tag, DOWNGRADE)
        else:
            selected = tag
            break
    for tag in view.not_semver:
        if len(rejected) >= MAX_REJECTIONS:
            break
        reject(tag, NOT_SEMVER)
    return Selection(selected=selected, considered=considered, rejected=tuple(rejected))


def _allows_release_of(constraint: Constraint, version: Version) -> bool:
    """Would the constraint take this version were it not a prerelease? (for the reason)"""
    release = Version(major=version.major, minor=version.minor, patch=version.patch)
    return constraint.allows(release)


def _select_exact(raw: tuple[str, ...], policy: Policy) -> Selection:
    assert policy.tag is not None
    if policy.tag not in raw:
        return Selection(selected=None, considered=len(raw))
    if _filtered(policy, policy.tag):
        return Selection(
            selected=None,
            considered=len(raw),
            rejected=(Rejection(tag=policy.tag, reason=FILTERED),),
        )
    return Selection(selected=policy.tag, considered=len(raw))


def matches(tag: str, policy: Policy) -> bool:
    """True when ``tag`` alone would be acceptable under the policy (ignoring downgrades)."""
    if policy_error(policy) is not None or _filtered(policy, tag):
        return False
    if policy.tag is not None:
        return tag == policy.tag
    version = parse_version(tag)
    if version is None:
        return False
    if not policy.constraint:
        return not version.prerelease
    return parse_constraint(policy.constraint).allows(version)
