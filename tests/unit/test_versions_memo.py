"""The selection memo lives on the ``TagList`` (P6): shared by its ``attrs.evolve``
copies, never shared with a different list, and gone with the last of them."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime

import attrs

from werfop.core import versions
from werfop.core.model import TagList
from werfop.core.versions import Policy, select

AT = datetime(2026, 1, 1, tzinfo=UTC)
TAGS = ("1.0.0", "1.1.0", "2.0.0-rc.1", "latest")


def tag_list(*tags: str) -> TagList:
    return TagList(repository="r/x", tags=tags or TAGS, at=AT)


def test_the_memo_is_out_of_equality_hash_and_repr() -> None:
    first, second = tag_list(), tag_list()
    select(first, Policy())
    assert first == second
    assert hash(first) == hash(second)
    assert "memo" not in repr(first)


def test_evolved_copies_share_the_sorted_view_and_the_selections() -> None:
    shared = tag_list()
    copy = attrs.evolve(shared, digests=(("1.1.0", "sha256:a"),))
    answer = select(copy, Policy())
    assert "1.1.0" == answer.selected
    assert versions.sorted_for(copy) is versions.sorted_for(shared)
    assert answer is select(attrs.evolve(shared, digests=()), Policy())


def test_each_policy_has_its_own_answer() -> None:
    snapshot = tag_list()
    assert "1.1.0" == select(snapshot, Policy()).selected
    assert "1.0.0" == select(snapshot, Policy(constraint="~1.0")).selected
    assert "2.0.0-rc.1" == select(snapshot, Policy(constraint=">=2.0.0-0")).selected
    assert "1.1.0" == select(snapshot, Policy()).selected


def test_a_new_list_is_selected_from_afresh() -> None:
    policy = Policy()
    assert "1.1.0" == select(tag_list(), policy).selected
    assert "1.2.0" == select(tag_list(*TAGS, "1.2.0"), policy).selected


def test_the_memo_dies_with_the_list() -> None:
    snapshot = tag_list(*(f"1.0.{i}" for i in range(50)))
    select(attrs.evolve(snapshot, digests=()), Policy())
    view = weakref.ref(versions.sorted_for(snapshot))
    del snapshot
    gc.collect()
    assert view() is None


def test_the_memo_starts_over_past_its_bound(monkeypatch) -> None:
    monkeypatch.setattr(versions, "MAX_SELECTIONS_PER_LIST", 3)
    snapshot = tag_list()
    for i in range(6):
        select(snapshot, Policy(last_applied=f"0.0.{i}"))
    assert len(snapshot._memo) <= 3 + 1  # the selections and the sorted view
    assert "1.1.0" == select(snapshot, Policy(last_applied="0.0.0")).selected
