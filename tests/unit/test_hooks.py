"""POST /hooks/registry: authentication, bounds, parsing and rate limits."""

import hashlib
import hmac
import json

import pytest

from werfop.runtime.hooks import MAX_BODY, RegistryHook, parse

SECRET = b"hook-secret-canary-91f2"


def _hook(pushed=None, now=None):
    pushed = pushed if pushed is not None else []
    clock = now or (lambda: 0.0)
    return RegistryHook(
        lambda: SECRET, lambda url: pushed.append(url) or 1, monotonic=clock
    ), pushed


def _signed(body: bytes) -> dict[str, str]:
    return {"X-Werfop-Signature": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()}


ENVELOPE = json.dumps(
    {
        "events": [
            {
                "action": "push",
                "target": {"repository": "acme/shop", "tag": "1.2.0"},
                "request": {"host": "registry.local:5000"},
            },
            {"action": "pull", "target": {"repository": "acme/other"}, "request": {"host": "x"}},
        ]
    }
).encode()


def test_a_signed_distribution_notification_wakes_the_repository():
    hook, pushed = _hook()
    answer = hook.handle(_signed(ENVELOPE), ENVELOPE, "10.0.0.1", len(ENVELOPE))
    assert (202, ["registry.local:5000/acme/shop"]) == (answer.status, pushed)


def test_a_generic_body_with_a_bearer_token_is_accepted():
    hook, pushed = _hook()
    body = b'{"repository": "oci://ghcr.io/acme/shop", "tag": "2.0.0"}'
    answer = hook.handle({"Authorization": "Bearer " + SECRET.decode()}, body, "s", len(body))
    assert (202, ["ghcr.io/acme/shop"]) == (answer.status, pushed)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Werfop-Signature": "sha256=00"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + SECRET.decode()},
    ],
)
def test_bad_or_missing_credentials_get_401_and_wake_nothing(headers):
    hook, pushed = _hook()
    answer = hook.handle(headers, ENVELOPE, "s", len(ENVELOPE))
    assert (401, []) == (answer.status, pushed)
    assert SECRET.decode() not in answer.text


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"events": "x"}',
        b'{"repository": 3}',
        b'{"events": [{"action": "push", "target": {}}]}',
    ],
)
def test_malformed_bodies_get_400(body):
    hook, _ = _hook()
    assert 400 == hook.handle(_signed(body), body, "s", len(body)).status


def test_oversized_bodies_get_413_before_anything_else():
    hook, pushed = _hook()
    assert 413 == hook.handle({}, None, "s", MAX_BODY + 1).status
    assert [] == pushed


def test_each_source_is_rate_limited():
    moments = iter([0.0] * 202 + [10.0])
    hook, _ = _hook(now=lambda: next(moments))
    statuses = [
        hook.handle(_signed(ENVELOPE), ENVELOPE, "a", len(ENVELOPE)).status for _ in range(201)
    ]
    assert [202] * 200 + [429] == statuses
    assert (
        202 == hook.handle(_signed(ENVELOPE), ENVELOPE, "b", len(ENVELOPE)).status
    )  # another source
    assert 202 == hook.handle(_signed(ENVELOPE), ENVELOPE, "a", len(ENVELOPE)).status  # refilled


def test_parse_ignores_non_push_events():
    assert {"r/a"} == parse(
        json.dumps(
            {
                "events": [
                    {
                        "action": "push",
                        "target": {"repository": "a", "tag": "1"},
                        "request": {"host": "r"},
                    },
                    {"action": "delete", "target": {"repository": "b"}, "request": {"host": "r"}},
                ]
            }
        ).encode()
    )


def test_blob_uploads_are_not_pushes_of_anything_deployable():
    blob = {
        "action": "push",
        "request": {"host": "r"},
        "target": {
            "repository": "a",
            "mediaType": "application/octet-stream",
            "digest": "sha256:1",
        },
    }
    manifest = {
        "action": "push",
        "request": {"host": "r"},
        "target": {
            "repository": "b",
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "tag": "1.0.0",
        },
    }
    assert {"r/b"} == parse(json.dumps({"events": [blob, manifest]}).encode())
