"""``werfop resolve``: which tag would a bundle with this version policy deploy?

Offline (``--tags``) it runs the core's selection on the given list; live (a
repository argument) it lists the repository through the same registry adapter the
operator uses and resolves the selected tag's digest. Usage errors (a bad constraint,
filter, tag, last-applied version or repository) exit 2 before any network call, naming
the flag; registry errors exit 1 with a message naming the registry and the cause, never
a credential. When nothing is selected, ``reason`` says why.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from werfop.api.schema import REPOSITORY_PATTERN, TAG_PATTERN
from werfop.core.semver import parse_version
from werfop.core.versions import Policy, Selection, policy_error, select

# The spec fields a policy error names, in the CLI's words.
_FLAGS = (
    ("spec.registry.tagFilter.include", "--include"),
    ("spec.registry.tagFilter.exclude", "--exclude"),
    ("spec.registry.versionConstraint", "--constraint"),
)


def _policy(args: argparse.Namespace) -> Policy:
    return Policy(
        constraint=args.constraint,
        tag=args.tag,
        include=args.include,
        exclude=args.exclude,
        allow_downgrade=args.allow_downgrade,
        last_applied=args.last_applied,
    )


def _print(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def usage_error(args: argparse.Namespace, policy: Policy) -> str | None:
    """The first mistake in the command line, naming the flag; None when usable."""
    if args.constraint and args.tag:
        return "--constraint and --tag are mutually exclusive"
    if (args.tags is None) == (args.repository is None):
        return "give either --tags or a REPOSITORY"
    problem = policy_error(policy)
    if problem is not None:
        for field, flag in _FLAGS:
            if problem.startswith(field + ":"):
                return flag + problem.removeprefix(field)
        return problem
    if args.tag is not None and re.match(TAG_PATTERN, args.tag) is None:
        return f"--tag: {args.tag!r} is not an OCI tag (letters, digits, '.', '_', '-')"
    if args.last_applied is not None and parse_version(args.last_applied) is None:
        return f"--last-applied: {args.last_applied!r} is not a version (like 1.2.3)"
    if args.repository is not None:
        url = args.repository.removeprefix("oci://")
        if re.match(REPOSITORY_PATTERN, url) is None:
            return (
                f"REPOSITORY: {args.repository!r} is not host[:port]/path "
                "(no scheme but oci://, no tag, no digest)"
            )
    return None


def why_nothing(tags: tuple[str, ...], policy: Policy, selection: Selection) -> str | None:
    """Why ``selection`` chose nothing, for people; None when it chose a tag."""
    if selection.selected is not None:
        return None
    if not tags:
        return "the repository has no tags"
    if policy.tag is not None and policy.tag not in tags:
        return f"tag {policy.tag!r} is not among the repository's {len(tags)} tags"
    return f"none of the {len(tags)} tags passes the policy (see rejected)"


def run_cli(args: argparse.Namespace) -> int:
    policy = _policy(args)
    problem = usage_error(args, policy)
    if problem is not None:
        print(f"werfop resolve: {problem}", file=sys.stderr)
        return 2
    if args.tags is not None:
        tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
        selection = select(tags, policy)
        document: dict[str, Any] = {
            "selected": selection.selected,
            "rejected": [{"tag": r.tag, "reason": r.reason} for r in selection.rejected],
        }
        reason = why_nothing(tags, policy, selection)
        if reason is not None:
            document["reason"] = reason
        _print(document)
        return 0
    from werfop.live_resolve import resolve_live

    return resolve_live(args, policy)
