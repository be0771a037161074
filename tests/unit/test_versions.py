"""Tag selection with reasons: the table users read in status.selection."""

from datetime import UTC, datetime

import pytest

from werfop.core.model import Rejection, TagList
from werfop.core.versions import Policy, select

TAGS = ("1.0.0", "v1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0", "latest", "sha-1234")


@pytest.mark.parametrize(
    ("policy", "selected"),
    [
        pytest.param(Policy(), "2.0.0", id="no constraint: highest release"),
        pytest.param(Policy(constraint="^1.0"), "1.10.0", id="semver, not lexical order"),
        pytest.param(Policy(constraint=">=2.0.0-0"), "2.0.0", id="release beats its rc"),
        pytest.param(Policy(constraint=">=2.0.0-0 <2.0.0"), "2.0.0-rc.1", id="prerelease named"),
        pytest.param(Policy(constraint="~1.2"), "v1.2.0", id="v prefix tolerated"),
        pytest.param(Policy(constraint="^3"), None, id="nothing matches"),
        pytest.param(Policy(tag="latest"), "latest", id="exact mutable tag"),
        pytest.param(Policy(tag="main"), None, id="followed tag absent"),
        pytest.param(Policy(include=r"^1\."), "1.10.0", id="include filter"),
        pytest.param(Policy(exclude=r"^2\."), "1.10.0", id="exclude filter"),
        pytest.param(Policy(last_applied="2.0.0"), "2.0.0", id="same as applied"),
    ],
)
def test_select(policy, selected):
    assert selected == select(TAGS, policy).selected


def test_rejections_explain_every_tag_passed_over():
    selection = select(TAGS, Policy(constraint="^1.0", exclude="^1\\.10"))
    assert "v1.2.0" == selection.selected
    assert (
        Rejection(tag="2.0.0", reason="outside constraint"),
        Rejection(tag="2.0.0-rc.1", reason="outside constraint"),
        Rejection(tag="1.10.0", reason="filtered"),
        Rejection(tag="latest", reason="not semver"),
        Rejection(tag="sha-1234", reason="not semver"),
    ) == selection.rejected
    assert len(TAGS) == selection.considered


def test_prerelease_without_constraint_is_rejected_as_prerelease():
    selection = select(("1.0.0", "1.1.0-rc.1"), Policy())
    assert "1.0.0" == selection.selected
    assert (Rejection(tag="1.1.0-rc.1", reason="prerelease"),) == selection.rejected


def test_downgrade_is_refused_unless_allowed():
    tags = ("1.0.0", "1.1.0")  # 1.2.0 was applied, then deleted
    assert None is select(tags, Policy(last_applied="1.2.0")).selected
    assert (
        Rejection(tag="1.1.0", reason="downgrade"),
        Rejection(tag="1.0.0", reason="downgrade"),
    ) == (select(tags, Policy(last_applied="1.2.0")).rejected)
    assert "1.1.0" == select(tags, Policy(last_applied="1.2.0", allow_downgrade=True)).selected


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (Policy(include="(unclosed"), "spec.registry.tagFilter.include"),
        (Policy(exclude="*bad"), "spec.registry.tagFilter.exclude"),
        (Policy(constraint=">=banana"), "spec.registry.versionConstraint"),
        (Policy(constraint="^1", tag="latest"), "spec.registry"),
    ],
)
def test_bad_policy_selects_nothing_and_names_the_field(policy, field):
    selection = select(TAGS, policy)
    assert None is selection.selected
    assert selection.error.startswith(field + ":")


def test_rejections_are_capped_at_ten():
    tags = tuple(f"tag-{i}" for i in range(50)) + ("1.0.0",)
    assert 10 == len(select(tags, Policy()).rejected)


def test_tag_list_selection_equals_plain_selection():
    snapshot = TagList(repository="r/x", tags=TAGS, at=datetime(2026, 1, 1, tzinfo=UTC))
    policy = Policy(constraint="^1.0")
    assert select(TAGS, policy) == select(snapshot, policy)
