"""Read-only JSON: the in-memory cluster's stored objects, shared instead of copied.

Role: ``freeze`` turns JSON-like data (dicts, lists, scalars) into ``FrozenDict`` and
``FrozenList``, subclasses of ``dict`` and ``list`` that read, compare, iterate and
serialise (``json.dumps``) exactly like them but refuse every in-place change with a
``TypeError``. ``MemoryCluster`` stores objects frozen, so a read can hand out the
stored object itself (no deep copy per read, per listener, per returned write) and a
caller that tried to change what it read fails loudly instead of corrupting the store.
A frozen part is never copied again: ``freeze`` returns it as is, so a write that
replaces the status shares the unchanged spec and metadata with the previous version.
``thaw`` (or ``copy.deepcopy``) gives back plain, mutable data.
Must not: know about Kubernetes; it is containers only.
Neighbours: ``adapters.memory`` (the only user in ``src``).
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: an object read from the in-memory cluster is "
        "shared; copy it first (werfop.adapters.frozen.thaw or copy.deepcopy)"
    )


class _Thaws:
    """What both frozen containers do alike: a deep copy is a plain, mutable copy, and
    pickling carries the plain data (refrozen on the way back)."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (freeze, (thaw(self),))


class FrozenDict(_Thaws, dict[str, Any]):
    """A ``dict`` that cannot be changed in place (see the module docstring)."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse  # type: ignore[assignment]
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)


class FrozenList(_Thaws, list[Any]):
    """A ``list`` that cannot be changed in place (see the module docstring)."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse  # type: ignore[assignment]
    __imul__ = _refuse  # type: ignore[assignment]
    append = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    clear = _refuse
    sort = _refuse  # type: ignore[assignment]
    reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)


def freeze(value: Any) -> Any:
    """``value`` as read-only data: dicts and lists are copied into frozen ones (deeply),
    frozen parts are shared as they are, anything else (scalars) is returned."""
    kind = type(value)
    if kind is FrozenDict or kind is FrozenList:
        return value
    # A plain container is copied at once (in C), then its few non-scalar values are
    # replaced by their frozen copies: most values are scalars, taken as they are.
    if kind is dict:
        out = FrozenDict(value)
        for key, item in value.items():
            if type(item) not in _SCALARS:
                _set_item(out, key, freeze(item))
        return out
    if kind is list:
        frozen = FrozenList(value)
        for index, item in enumerate(value):
            if type(item) not in _SCALARS:
                _set_index(frozen, index, freeze(item))
        return frozen
    # Scalars (most of the leaves) are taken as they are without a call per leaf.
    if isinstance(value, dict):
        return FrozenDict({k: v if type(v) in _SCALARS else freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList([v if type(v) in _SCALARS else freeze(v) for v in value])
    return value


_SCALARS = frozenset((str, int, float, bool, type(None)))
# The plain setters, for filling in a frozen container while ``freeze`` builds it.
_set_item = dict.__setitem__
_set_index = list.__setitem__


def thaw(value: Any) -> Any:
    """A deep, plain and mutable copy of JSON-like data (frozen or not): several times
    faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value
