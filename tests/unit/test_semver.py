"""The constraint dialect, case by case (Masterminds/semver v3 semantics, see docs)."""

import attrs
import pytest

from werfop.core.semver import ConstraintError, parse_constraint, parse_version

CASES = [
    # (constraint, version, allowed)
    (">=1.2.0 <2.0.0", "1.2.0", True),
    (">=1.2.0 <2.0.0", "1.9.9", True),
    (">=1.2.0 <2.0.0", "2.0.0", False),
    (">=1.2.0, <2.0.0", "1.5.0", True),
    (">= 1.2.0", "1.2.0", True),
    ("^1.2", "1.2.0", True),
    ("^1.2", "1.99.0", True),
    ("^1.2", "2.0.0", False),
    ("^1.2", "1.1.9", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.4", False),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2", "1.2.0", True),
    ("~1", "1.9.0", True),
    ("~1", "2.0.0", False),
    ("1.x", "1.7.3", True),
    ("1.x", "2.0.0", False),
    ("1.2.*", "1.2.7", True),
    ("1.2.*", "1.3.0", False),
    ("*", "9.9.9", True),
    (">=1.0 || 3.x", "3.4.0", True),
    (">=1.0 <2 || 3.x", "2.5.0", False),
    ("!=1.3.0", "1.3.0", False),
    ("!=1.3.0", "1.3.1", True),
    ("=1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False),
    ("1.2", "1.2.9", True),
    (">1.2", "1.2.9", False),
    (">1.2", "1.3.0", True),
    ("<=1.2", "1.2.9", True),
    ("<1.2", "1.2.0", False),
    ("1.0.0 - 1.4.5", "1.4.5", True),
    ("1.0.0 - 1.4.5", "1.4.6", False),
    # prereleases: only when the alternative names one
    (">=1.0.0", "1.1.0-rc.1", False),
    (">=1.0.0-0", "1.1.0-rc.1", True),
    (">=1.0.0-0 <2.0.0", "1.5.0-beta", True),
    ("^1.2", "1.3.0-rc.1", False),
    (">=1.0.0-rc.2", "1.0.0-rc.10", True),
    (">=1.0.0-rc.2", "1.0.0-rc.1", False),
    # leading v in the tag is tolerated
    ("^1.0", "v1.4.0", True),
]


@pytest.mark.parametrize(
    ("constraint", "tag", "allowed"), [pytest.param(*c, id=f"{c[0]} ? {c[1]}") for c in CASES]
)
def test_constraint_allows(constraint, tag, allowed):
    version = parse_version(tag)
    assert version is not None
    assert allowed == parse_constraint(constraint).allows(version)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.2.3", (1, 2, 3, "")),
        ("v1.2.3", (1, 2, 3, "")),
        ("1.2", (1, 2, 0, "")),
        ("1", (1, 0, 0, "")),
        ("1.2.3-rc.1+build.5", (1, 2, 3, "rc.1")),
        pytest.param("01.1.1", (1, 1, 1, ""), id="zero-padded-major"),
        pytest.param("v2025.07.03", (2025, 7, 3, ""), id="date-tag"),
        pytest.param("1.2.3-0a.01b", (1, 2, 3, "0a.01b"), id="alphanumeric-ids-may-start-with-0"),
    ],
)
def test_versions_parse_leniently(tag, expected):
    v = parse_version(tag)
    assert expected == (v.major, v.minor, v.patch, v.prerelease)


@pytest.mark.parametrize(
    "tag", ["latest", "main", "1.2.3.4", "1.2.3-", "sha-abc", "", "1.2.3-rc.01", "1.2.3-01"]
)
def test_non_semver_tags_do_not_parse(tag):
    assert parse_version(tag) is None


def test_prerelease_ordering_follows_semver_spec():
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    parsed = [parse_version(t) for t in ordered]
    assert parsed == sorted(parsed)


@pytest.mark.parametrize("text", ["", "   ", ">=", "foo", ">=1.2.x.4", "1.x.3", "||", ">=1 ||"])
def test_bad_constraints_raise_with_a_message(text):
    with pytest.raises(ConstraintError) as error:
        parse_constraint(text)
    assert str(error.value)


def test_the_sort_key_is_computed_once_and_left_out_of_equality():
    version = parse_version("1.2.3-rc.1+build.5")
    assert version is not None
    assert (1, 2, 3, 0, ((1, "rc"), (0, 1))) == version.key
    assert version.key is version.key
    assert parse_version("1.2.3-rc.1+build.5") == attrs.evolve(version, build="build.5")
    assert "key" not in repr(version)


@pytest.mark.parametrize(
    ("constraint", "tag", "allowed"),
    [
        # Date-style tags: zero-padded parts compare as numbers, in tags and constraints.
        pytest.param(">=2025.01.01", "v2025.07.03", True, id="date-constraint"),
        pytest.param(">=2025.08.01", "v2025.07.03", False, id="date-constraint-below"),
        pytest.param("^2025", "2025.11.20", True, id="date-caret"),
        # A hyphen range beside another comparison, with a space or a comma.
        pytest.param("1.0.0 - 2.0.0 <=1.5.0", "1.4.0", True, id="hyphen-and-space"),
        pytest.param("1.0.0 - 2.0.0 <=1.5.0", "1.6.0", False, id="hyphen-and-space-above"),
        pytest.param("1.0.0 - 2.0.0, <=1.5.0", "1.6.0", False, id="hyphen-and-comma"),
        pytest.param("<0.5 || 1.0.0 - 2.0.0", "1.5.0", True, id="hyphen-in-alternative"),
        # "!=4.1-alpha" excludes that prerelease only (Masterminds), not all of 4.1.x.
        pytest.param("!=4.1-alpha", "4.1.2", True, id="not-prerelease-keeps-release"),
        pytest.param("!=4.1-alpha", "4.1.0", True, id="not-prerelease-keeps-4.1.0"),
        pytest.param(
            "!=4.1-alpha, >=4.1.0-0", "4.1.0-alpha", False, id="not-prerelease-excludes-it"
        ),
        pytest.param(
            "!=4.1-alpha, >=4.1.0-0", "4.1.0-beta", True, id="not-prerelease-keeps-others"
        ),
        # ~0.0.0 is >=0.0.0 <0.1.0 like every tilde (Masterminds: any version); documented.
        pytest.param("~0.0.0", "0.0.5", True, id="tilde-zero-inside"),
        pytest.param("~0.0.0", "0.1.0", False, id="tilde-zero-outside"),
    ],
)
def test_where_werfop_follows_masterminds_and_flux(constraint, tag, allowed):
    version = parse_version(tag)
    assert version is not None
    assert allowed == parse_constraint(constraint).allows(version)


def test_date_tags_from_january_are_candidates():
    from werfop.core.versions import Policy, select

    assert "v2025.11.20" == select(("v2025.07.03", "v2025.11.20"), Policy()).selected
    assert (
        "v2025.07.03"
        == select(("v2025.07.03", "v2025.11.20"), Policy(constraint="<2025.08")).selected
    )


def test_a_prerelease_with_a_leading_zero_is_not_semver_and_not_selected():
    from werfop.core.versions import Policy, select

    selection = select(("1.2.3-rc.01", "1.2.3-rc.1"), Policy(constraint="=1.2.3-rc.1"))

    assert "1.2.3-rc.1" == selection.selected
    assert ("1.2.3-rc.01", "not semver") in [(r.tag, r.reason) for r in selection.rejected]
