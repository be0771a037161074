"""``werfop resolve REPOSITORY``: list a live repository with the operator's own adapter
and selection, and resolve the selected tag's digest.

Wiring only: ``HttpxRegistry`` for the calls, ``werfop.api.credentials`` for a docker
config file, ``werfop.core.versions.select`` for the choice. Prints
``{"selected", "digest", "rejected", "requests"}``; on a registry failure prints the
reason to stderr (naming the registry, never a credential) and exits 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from werfop.adapters.registry import HttpxRegistry
from werfop.api.credentials import credentials_from_secret
from werfop.core.model import FieldProblem, RegistryUnavailable, Sensitive
from werfop.core.ports import Credentials, Repository
from werfop.core.versions import Policy, select
from werfop.resolve import why_nothing

# The registry adapter speaks to the operator's users (spec fields, Secrets); the CLI
# speaks in its flags. Longer phrases first.
_CLI_WORDS = (
    (
        "the Secret referenced by spec.registry.secretRef",
        "--username/--password-stdin or --docker-config",
    ),
    ("the Secret named by spec.registry.caSecretRef", "--ca-file"),
    (
        "set spec.registry.secretRef to a Secret with credentials",
        "give --username with --password-stdin, or --docker-config",
    ),
    ("spec.registry.secretRef", "--username/--password-stdin or --docker-config"),
    ("spec.registry.caSecretRef", "--ca-file"),
    ("spec.registry.insecure", "--insecure"),
    ("spec.registry.url", "REPOSITORY"),
)


def cli_words(message: str, docker_config: str | None = None) -> str:
    """``message`` with the operator's words (spec fields, Secrets) in the CLI's."""
    for spec_words, flag_words in _CLI_WORDS:
        message = message.replace(spec_words, flag_words)
    if docker_config:
        message = message.replace(f"Secret /{docker_config}", f"--docker-config {docker_config}")
        message = message.replace("the .dockerconfigjson", "the file's")
        message = message.replace(".dockerconfigjson", "the file")
    return message


def _credentials(args: argparse.Namespace, host: str) -> Credentials | str | None:
    if args.password_stdin:
        if not args.username:
            return "--password-stdin needs --username"
        password = sys.stdin.readline().rstrip("\n")
        return Credentials(username=args.username, password=Sensitive(password))
    if args.docker_config:
        try:
            raw = Path(args.docker_config).read_bytes()
        except OSError as error:
            return f"--docker-config: cannot read {args.docker_config}: {error.strerror}"
        secret = {
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"namespace": "", "name": args.docker_config},
            "data": {".dockerconfigjson": base64.b64encode(raw).decode()},
        }
        found = credentials_from_secret(secret, host, path="--docker-config")
        if isinstance(found, FieldProblem):
            return cli_words(found.message, args.docker_config)
        return found
    if args.username:
        return "--username needs --password-stdin"
    return None


def resolve_live(args: argparse.Namespace, policy: Policy) -> int:
    url = args.repository.removeprefix("oci://")
    host = url.split("/", 1)[0]
    credentials = _credentials(args, host)
    if isinstance(credentials, str):
        print(f"werfop resolve: {credentials}", file=sys.stderr)
        return 2
    ca = None
    if args.ca_file:
        try:
            ca = Sensitive(Path(args.ca_file).read_text())
        except OSError as error:
            print(f"werfop resolve: --ca-file: {error.strerror}", file=sys.stderr)
            return 2
    repository = Repository(url=url, insecure=args.insecure, ca_cert=ca, credentials=credentials)
    with HttpxRegistry() as registry:
        listing = registry.list_tags(repository)
        if isinstance(listing, RegistryUnavailable):
            print(
                f"werfop resolve: {listing.reason}: {cli_words(listing.message)}", file=sys.stderr
            )
            return 1
        requests = listing.requests
        selection = select(listing.tags, policy)  # the policy was checked before any call
        digest = None
        if selection.selected is not None:
            answer = registry.resolve_digest(repository, selection.selected)
            if isinstance(answer, RegistryUnavailable):
                print(
                    f"werfop resolve: {answer.reason}: {cli_words(answer.message)}", file=sys.stderr
                )
                return 1
            digest, requests = answer.digest, requests + answer.requests
    document: dict[str, object] = {
        "selected": selection.selected,
        "digest": digest,
        "rejected": [{"tag": r.tag, "reason": r.reason} for r in selection.rejected],
        "requests": requests,
    }
    reason = why_nothing(listing.tags, policy, selection)
    if reason is not None:
        document["reason"] = reason
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0
