"""``werfop resolve``: which tag would a bundle with this version policy deploy?

Offline (``--tags``) it runs the core's selection on the given list; live (a
repository argument) it lists the repository through the same registry adapter the
operator uses and resolves the selected tag's digest. Errors exit 1 with a message
naming the registry and the cause, never a credential.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from werfop.core.versions import Policy, select


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


def run_cli(args: argparse.Namespace) -> int:
    if args.constraint and args.tag:
        print("werfop resolve: --constraint and --tag are mutually exclusive", file=sys.stderr)
        return 2
    if (args.tags is None) == (args.repository is None):
        print("werfop resolve: give either --tags or a REPOSITORY", file=sys.stderr)
        return 2
    policy = _policy(args)
    if args.tags is not None:
        tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
        selection = select(tags, policy)
        if selection.error:
            print(f"werfop resolve: {selection.error}", file=sys.stderr)
            return 2
        _print(
            {
                "selected": selection.selected,
                "rejected": [{"tag": r.tag, "reason": r.reason} for r in selection.rejected],
            }
        )
        return 0
    from werfop.live_resolve import resolve_live

    return resolve_live(args, policy)
