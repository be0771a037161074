"""Tag filters are RE2: linear-time matching, the same syntax everywhere (the operator,
``werfop resolve``, the simulator), and a pattern RE2 cannot run is a spec error naming
the field, never a silent fallback to Python's backtracking ``re``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support.world import World, digest_of, make_spec
from werfop.core.model import TagFilter
from werfop.core.versions import Policy, select

EVIL = r"^1\.0\.0(\+(a+)+)?$"  # catastrophic backtracking under Python's re


def evil_tag(length: int) -> str:
    """A valid semver tag the pattern refuses only after trying every split of the a's."""
    return "1.0.0+" + "a" * length + ".b"


@pytest.mark.timeout(10)  # the safety net: backtracking would take longer than the universe
def test_a_pattern_that_backtracks_exponentially_in_python_re_is_linear_here():
    tags = (evil_tag(10_000), "1.0.0")

    selection = select(tags, Policy(include=EVIL))

    assert "1.0.0" == selection.selected
    assert None is selection.error


@pytest.mark.parametrize(
    ("field", "pattern", "why"),
    [
        pytest.param("include", r"^(a)\1$", "invalid escape sequence", id="backreference"),
        pytest.param("include", r"^(?!rc)", "invalid perl operator", id="lookahead"),
        pytest.param("exclude", r"(?<=v)1", "invalid perl operator", id="lookbehind"),
        pytest.param("exclude", r"(unclosed", "missing )", id="syntax"),
    ],
)
def test_a_pattern_re2_cannot_run_is_an_error_naming_the_field(field, pattern, why):
    selection = select(("1.0.0",), Policy(**{field: pattern}))

    assert None is selection.selected
    assert selection.error.startswith(
        f"spec.registry.tagFilter.{field}: invalid regular expression"
    )
    assert why in selection.error
    assert "RE2" in selection.error


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        pytest.param(r"^\d+\.\d+\.\d+$", None, "2.0.0", id="digits"),
        pytest.param(r"^1\.", None, "1.2.0", id="prefix"),
        pytest.param(None, r"^(2|3)\.", "v1.5.0", id="exclude"),
        pytest.param(r"(?i)^V1", None, "v1.5.0", id="flags"),
        pytest.param(r"^(?P<major>1)\.", r"^1\.2", "1.0.0", id="named-group"),
    ],
)
def test_re2_syntax_selects_as_documented(include, exclude, expected):
    tags = ("1.0.0", "1.2.0", "v1.5.0", "2.0.0", "3.0.0-rc.1")

    assert expected == select(tags, Policy(include=include, exclude=exclude)).selected


def test_the_operator_stalls_on_a_lookaround_filter_and_creates_no_job():
    world = World(spec=make_spec(tag_filter=TagFilter(include=r"^(?!0\.)")))
    world.tags = {"1.0.0": digest_of("1.0.0")}

    world.step()

    stalled = world.status.condition("Stalled")
    assert [] == world.created
    assert "True" == stalled.status
    assert "spec.registry.tagFilter.include" in stalled.message


def test_werfop_resolve_exits_2_naming_the_flag_for_a_lookaround_filter():
    made = subprocess.run(
        [sys.executable, "-m", "werfop.main", "resolve", "--tags", "1.0.0", "--include", "^(?!rc)"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert 2 == made.returncode
    assert "--include: invalid regular expression: invalid perl operator" in made.stderr
    assert "Traceback" not in made.stderr


@pytest.mark.timeout(60)
def test_werfop_resolve_answers_the_backtracking_case_at_once():
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "werfop.main",
            "resolve",
            "--output",
            "json",
            "--tags",
            f"{evil_tag(5_000)},1.0.0",
            "--include",
            EVIL,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert 0 == made.returncode, made.stderr
    assert "1.0.0" == json.loads(made.stdout)["selected"]
