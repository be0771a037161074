"""Selector parsing and patch algorithms, checked directly without HTTP."""

from __future__ import annotations

import pytest

from kubeapi import errors, patching, selectors

LABELS = {"app": "web", "tier": "front", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app = web", True),
        ("app=api", False),
        ("app!=api", True),
        ("missing!=x", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app in (api, web)", True),
        ("app notin (api,web)", False),
        ("missing notin (x)", True),
        ("missing in (x)", False),
        ("replicas>2", True),
        ("replicas<3", False),
        ("app=web,tier in (front,back),!missing", True),
        ("app=web,tier=back", False),
        ("example.com/team=a", False),
    ],
)
def test_label_selector_matches_like_kubernetes(selector, expected):
    assert expected == selectors.label_matcher(selector)({"metadata": {"labels": LABELS}})


@pytest.mark.parametrize("selector", ["app in web", "a=b=c", "=x", "a in (x", "app>x"])
def test_malformed_label_selectors_are_rejected_with_400(selector):
    with pytest.raises(errors.ApiError) as caught:
        selectors.parse_label_selector(selector)

    assert 400 == caught.value.code


def test_field_selector_reads_nested_fields_and_negates():
    obj = {"metadata": {"name": "p"}, "status": {"phase": "Running"}}
    supported = frozenset({"metadata.name", "status.phase"})

    assert selectors.field_matcher("status.phase=Running,metadata.name!=q", supported)(obj)
    assert not selectors.field_matcher("status.phase==Pending", supported)(obj)


def test_merge_patch_follows_rfc_7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "l": [3]}

    assert {"a": "z", "c": {"d": "e"}, "l": [3]} == patching.merge_patch(target, patch)
    assert {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]} == target


def test_strategic_merge_patch_directives():
    target = {
        "spec": {
            "containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}],
            "volumes": [{"name": "v"}],
        },
        "metadata": {"labels": {"x": "1", "y": "2"}},
    }
    patch = {
        "spec": {
            "containers": [{"name": "a", "$patch": "delete"}, {"name": "c"}],
            "volumes": [{"$patch": "replace"}, {"name": "w"}],
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
        },
        "metadata": {"labels": {"$patch": "replace", "z": "3"}},
    }

    assert {
        "spec": {
            "containers": [{"name": "b", "image": "1"}, {"name": "c"}],
            "volumes": [{"name": "w"}],
        },
        "metadata": {"labels": {"z": "3"}},
    } == patching.strategic_merge_patch(target, patch)


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ({"op": "add", "path": "/l/1", "value": 9}, {"a": {"b": 1}, "l": [1, 9, 2]}),
        ({"op": "add", "path": "/l/-", "value": 9}, {"a": {"b": 1}, "l": [1, 2, 9]}),
        ({"op": "remove", "path": "/a/b"}, {"a": {}, "l": [1, 2]}),
        ({"op": "replace", "path": "/l/0", "value": 0}, {"a": {"b": 1}, "l": [0, 2]}),
        ({"op": "move", "from": "/a/b", "path": "/c"}, {"a": {}, "c": 1, "l": [1, 2]}),
        ({"op": "copy", "from": "/a", "path": "/c"}, {"a": {"b": 1}, "c": {"b": 1}, "l": [1, 2]}),
        ({"op": "add", "path": "/a~1b", "value": 1}, {"a": {"b": 1}, "a/b": 1, "l": [1, 2]}),
        ({"op": "test", "path": "/a/b", "value": 1}, {"a": {"b": 1}, "l": [1, 2]}),
    ],
)
def test_json_patch_operations(operation, expected):
    assert expected == patching.json_patch({"a": {"b": 1}, "l": [1, 2]}, [operation])


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "test", "path": "/a/b", "value": 2},
        {"op": "remove", "path": "/missing"},
        {"op": "replace", "path": "/missing", "value": 1},
        {"op": "add", "path": "/l/5", "value": 1},
        {"op": "frobnicate", "path": "/a"},
    ],
)
def test_json_patch_failures_raise(operation):
    with pytest.raises(patching.PatchError):
        patching.json_patch({"a": {"b": 1}, "l": [1, 2]}, [operation])
