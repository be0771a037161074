"""``BundleStatus.replace``: the core's fast ``attrs.evolve``, which must make the very
status ``attrs.evolve`` makes, leave the original alone and stay frozen."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.statuses import sample_status
from werfop.api.codec import encode_status
from werfop.core.model import BundleStatus

FIELDS = [f.name for f in attrs.fields(BundleStatus)]
BASE = sample_status(polls=3, entries=2)
OTHER = BundleStatus()  # every field differs from BASE's or is its default


@given(st.sets(st.sampled_from(FIELDS)))
def test_replace_makes_what_attrs_evolve_makes(names: set[str]) -> None:
    changes = {name: getattr(OTHER, name) for name in names}
    replaced = BASE.replace(**changes)
    evolved = attrs.evolve(BASE, **changes)
    assert replaced == evolved
    assert hash(replaced) == hash(evolved)
    assert encode_status(replaced) == encode_status(evolved)
    assert BASE == sample_status(polls=3, entries=2)  # the original is untouched


def test_a_replaced_status_is_still_frozen() -> None:
    replaced = BASE.replace(attempts=4)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        replaced.attempts = 5  # type: ignore[misc]
    assert replaced.attempts == 4
    assert BASE.attempts == 0


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no field attempt, phaze"):
        BASE.replace(phaze="Synced", attempt=1)
