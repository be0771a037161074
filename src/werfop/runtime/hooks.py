"""``POST /hooks/registry``: registry push notifications as hints to poll now.

Role: authenticate (HMAC-SHA256 of the body in ``X-Werfop-Signature: sha256=<hex>``,
or ``Authorization: Bearer <token>``, against a shared secret), bound the body
(413 above 1 MiB), parse the distribution registry's notification envelope
(``events[].action == "push"``, ``target.repository``, ``target.tag``,
``request.host``) or a generic ``{"repository", "tag"}``, rate-limit per source
(429; generous, since a registry sends one notification per blob and manifest), and
wake the bundles that follow each repository. A notification is a hint:
the poll it causes still asks the registry.
Must not: trust the body as data, or log the secret or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

MAX_BODY = 1024 * 1024
log = logging.getLogger("werfop.hooks")


@attrs.frozen
class Answer:
    status: int
    text: str


class RegistryHook:
    def __init__(
        self,
        secret: Callable[[], bytes | None],
        on_push: Callable[[str], int],
        *,
        rate: float = 50.0,
        burst: float = 200.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.secret = secret
        self.on_push = on_push
        self.rate = rate
        self.burst = burst
        self.monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _allow(self, source: str) -> bool:
        now = self.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(source, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[source] = (tokens, now)
                return False
            self._buckets[source] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget idle sources
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return True

    def _authentic(self, headers: dict[str, str], body: bytes) -> bool:
        secret = self.secret()
        if not secret:
            return False
        signature = headers.get("x-werfop-signature", "")
        if signature.startswith("sha256="):
            expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.removeprefix("sha256="))
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            return hmac.compare_digest(secret, authorization.removeprefix("Bearer ").encode())
        return False

    def handle(
        self, headers: dict[str, str], body: bytes | None, source: str, length: int
    ) -> Answer:
        """Answer one request. ``body`` is None when it was not read (too large)."""
        headers = {k.lower(): v for k, v in headers.items()}
        if length > MAX_BODY or body is None:
            return Answer(413, "the body is larger than 1 MiB")
        if not self._allow(source):
            return Answer(429, "too many notifications from this source")
        if not self._authentic(headers, body):
            return Answer(401, "missing or wrong signature or token")
        repositories = parse(body)
        if repositories is None:
            return Answer(400, "the body is neither a registry notification nor {repository, tag}")
        woken = sum(self.on_push(url) for url in sorted(repositories))
        log.info(
            "RegistryNotification",
            extra={
                "repositories": ",".join(sorted(repositories)),
                "woken": woken,
                "source": source,
            },
        )
        return Answer(202, f"{len(repositories)} repositories, {woken} bundles to poll")


def _is_manifest(target: dict[str, Any]) -> bool:
    media_type = str(target.get("mediaType", ""))
    return bool(target.get("tag")) or "manifest" in media_type or "index" in media_type


def parse(body: bytes) -> set[str] | None:
    """The repositories a notification names (host/path), or None when malformed."""
    try:
        document: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    if "events" in document:
        events = document["events"]
        if not isinstance(events, list):
            return None
        found = set()
        for event in events:
            if not isinstance(event, dict):
                return None
            if event.get("action") != "push":
                continue
            target = event.get("target") or {}
            host = (event.get("request") or {}).get("host")
            repository = target.get("repository") if isinstance(target, dict) else None
            if not isinstance(repository, str) or not isinstance(host, str) or not host:
                return None
            if _is_manifest(target):  # a blob upload changes nothing a tag points at
                found.add(f"{host}/{repository}")
        return found
    repository = document.get("repository")
    if not isinstance(repository, str) or "/" not in repository:
        return None
    return {repository.removeprefix("oci://")}
