"""Hypothesis drives the CLI entry points with generated mistakes: whatever the input,
the exit code is a documented one (0, or 2 for bad input; ``resolve`` never reaches the
network here), stderr names what is wrong when it is not 0, and no output contains a
traceback."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from werfop.main import main

BUNDLE = """\
apiVersion: werf.io/v1alpha1
kind: WerfBundle
metadata: {name: shop, namespace: default}
spec:
  registry: {url: ghcr.io/acme/shop, versionConstraint: "^1"}
"""

words = st.sampled_from(
    [
        "",
        "1.0.0",
        "^1",
        ">=banana",
        "(?!x)",
        "(",
        "a+",
        "v1.2",
        "latest",
        "bad:tag",
        "1h",
        "oops",
        "-1",
        "1.0.0-rc.01",
        "~0.0.0",
        "!=4.1-alpha",
        "2025.01.01",
    ]
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 600), words),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "at",
                    "push",
                    "tag",
                    "digest",
                    "outage",
                    "for",
                    "status",
                    "result",
                    "after",
                    "bundle",
                    "bundel",
                    "attempt",
                    "exitCode",
                    "kind",
                    "object",
                    "name",
                    "patch",
                    "delete",
                    "rules",
                    "default",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
scenarios = st.dictionaries(
    st.sampled_from(["start", "until", "registries", "registires", "changes", "jobs"]),
    values,
    max_size=4,
)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=80)
@given(
    tags=st.lists(words, max_size=4),
    constraint=st.one_of(st.none(), words),
    tag=st.one_of(st.none(), words),
    include=st.one_of(st.none(), words),
    last=st.one_of(st.none(), words),
)
def test_resolve_offline_answers_0_or_2_and_never_a_traceback(tags, constraint, tag, include, last):
    argv = ["resolve", "--tags", ",".join(tags)]
    for flag, value in (
        ("--constraint", constraint),
        ("--tag", tag),
        ("--include", include),
        ("--last-applied", last),
    ):
        if value is not None:
            argv += [flag, value]

    code, out, err = run(argv)

    assert code in (0, 2), (argv, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert err.startswith("werfop resolve: ") or "usage:" in err


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios)
def test_simulate_takes_any_scenario_with_0_or_2_and_never_a_traceback(scenario):
    with tempfile.TemporaryDirectory() as folder:
        bundle, path = Path(folder) / "bundle.yaml", Path(folder) / "scenario.yaml"
        bundle.write_text(BUNDLE)
        path.write_text(yaml.safe_dump(scenario))

        code, out, err = run(["simulate", str(bundle), "--scenario", str(path), "--until", "10m"])

    assert code in (0, 2), err
    assert "Traceback" not in out + err
    if code == 2:
        assert str(path) in err or "scenario" in err
