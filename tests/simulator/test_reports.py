"""The streaming reports of ``werfop simulate`` write what the whole-document encoders
would: JSON byte for byte, flat events and nested ones alike."""

import io
import json

from werfop.simulate import JsonReport, Result


def _result() -> Result:
    return Result(
        events=[],
        bundles={"default/app": {"status": {"phase": "Synced", "versionHistory": []}}},
        registry={"ghcr.io/acme/app": {"requests": 3}},
        repositories={},
        jobs_run={},
        passes=0,
        api={"PUT werfbundles/status": 2, "POST jobs": 1},
    )


def _streamed(events: list[dict]) -> str:
    out = io.StringIO()
    report = JsonReport(out)
    for event in events:
        report.event(event)
    report.finish(_result())
    return out.getvalue()


def _whole(events: list[dict]) -> str:
    result = _result()
    document = {
        "events": events,
        "bundles": result.bundles,
        "registry": result.registry,
        "api": result.api,
        "run": result.run,
    }
    return json.dumps(document, indent=2) + "\n"


def test_flat_events_with_every_scalar_type():
    events = [
        {"time": "t", "bundle": "default/app", "type": "Polled", "selected": None, "tags": 3},
        {"type": "RegistryUnavailable", "retryIn": 1.5, "ok": True, "text": 'a\nb "\u00e9" \\'},
        {"type": "Odd", "big": float("inf"), "negative": -7},
    ]
    assert _whole(events) == _streamed(events)


def test_nested_events_take_the_encoder():
    events = [{"type": "Nested", "list": [1, {"a": None}], "empty": {}, "tuple": (1, 2)}]
    assert _whole(events) == _streamed(events)


def test_no_events():
    assert _whole([]) == _streamed([])
