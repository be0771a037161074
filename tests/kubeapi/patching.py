"""The three PATCH flavours of the Kubernetes API, applied to plain JSON-like dicts.

* JSON merge patch (RFC 7386): dicts merge recursively, ``null`` deletes, lists are replaced.
* Strategic merge patch: a merge patch where some lists of built-in types merge by a key
  (``containers`` by ``name``, ``ownerReferences`` by ``uid``, ``metadata.finalizers`` as a set)
  and the ``$patch``/``$deleteFromPrimitiveList``/``$setElementOrder``/``$retainKeys``
  directives are understood. Custom resources do not support it (the server answers 415).
* JSON patch (RFC 6902): the ops ``add``, ``remove``, ``replace``, ``move``, ``copy``, ``test``.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "secrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "ownerReferences": "uid",
    "conditions": "type",
}
PRIMITIVE_SETS = {("metadata", "finalizers")}
DELETE_FROM_LIST = "$deleteFromPrimitiveList/"
IGNORED_DIRECTIVE_PREFIXES = ("$setElementOrder/", "$retainKeys")


class PatchError(Exception):
    """The patch cannot be applied (a 422 for JSON patch, a 400 for malformed patches)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch and return the result (inputs are not modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Apply a strategic merge patch for the built-in types this server knows."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    plain = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _strip_directives(plain)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in plain.items():
        if key.startswith(DELETE_FROM_LIST):
            field = key[len(DELETE_FROM_LIST) :]
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif key.startswith(IGNORED_DIRECTIVE_PREFIXES):
            continue
        elif value is None:
            result.pop(key, None)
        else:
            merged = _merge_field(result.get(key), value, (*path, key))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def _merge_field(original: Any, value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return strategic_merge_patch(original, value, path)
    if not isinstance(value, list):
        return copy.deepcopy(value)
    if path[-2:] in PRIMITIVE_SETS:
        current = list(original or [])
        return current + [item for item in value if item not in current]
    merge_key = MERGE_KEYS.get(path[-1])
    if merge_key is None or not all(isinstance(item, dict) for item in value):
        return _strip_directives(value)
    return _merge_list_by_key(list(original or []), value, merge_key, path)


def _merge_list_by_key(
    original: list[Any], patch: list[dict[str, Any]], key: str, path: tuple[str, ...]
) -> list[Any]:
    if any(item.get("$patch") == "replace" for item in patch):
        return [_strip_directives(item) for item in patch if item.get("$patch") != "replace"]
    result = copy.deepcopy(original)
    for item in patch:
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge_patch(result[index], item, path)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(item) for item in value]
    return copy.deepcopy(value)


def json_patch(document: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch and return the result (the input is not modified)."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        result = _apply_operation(result, operation)
    return result


def _apply_operation(doc: Any, operation: Any) -> Any:
    if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
        raise PatchError(f"invalid JSON patch operation: {operation!r}")
    op, path = operation["op"], operation["path"]
    if op == "test":
        if _get(doc, path) != operation.get("value"):
            raise PatchError(f"testing value {path} failed")
        return doc
    if op == "remove":
        return _remove(doc, path)
    if op in ("add", "replace"):
        if "value" not in operation:
            raise PatchError(f"missing value for the {op} operation at {path}")
        if op == "replace":
            _get(doc, path)  # the target must exist
            doc = _remove(doc, path)
        return _add(doc, path, copy.deepcopy(operation["value"]))
    if op in ("move", "copy"):
        source = operation.get("from")
        if not isinstance(source, str):
            raise PatchError(f"missing from for the {op} operation at {path}")
        value = copy.deepcopy(_get(doc, source))
        if op == "move":
            doc = _remove(doc, source)
        return _add(doc, path, value)
    raise PatchError(f"unsupported JSON patch operation: {op!r}")


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer: {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _child(container: Any, token: str, pointer: str) -> Any:
    if isinstance(container, dict) and token in container:
        return container[token]
    if isinstance(container, list) and token.isdigit() and int(token) < len(container):
        return container[int(token)]
    raise PatchError(f"doc is missing path: {pointer!r}")


def _get(doc: Any, pointer: str) -> Any:
    current = doc
    for token in _tokens(pointer):
        current = _child(current, token, pointer)
    return current


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("the whole document cannot be the target here")
    parent = doc
    for token in tokens[:-1]:
        parent = _child(parent, token, pointer)
    return parent, tokens[-1]


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        index = len(parent) if token == "-" else _list_index(token, len(parent) + 1, pointer)
        parent.insert(index, value)
    else:
        raise PatchError(f"doc is missing path: {pointer!r}")
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict) and token in parent:
        del parent[token]
    elif isinstance(parent, list):
        del parent[_list_index(token, len(parent), pointer)]
    else:
        raise PatchError(f"unable to remove nonexistent key: {token}: missing value")
    return doc


def _list_index(token: str, bound: int, pointer: str) -> int:
    if not token.isdigit() or int(token) >= bound:
        raise PatchError(f"index out of range or invalid: {pointer!r}")
    return int(token)
