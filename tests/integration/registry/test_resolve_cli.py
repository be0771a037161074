"""``werfop resolve`` offline and against the real registry."""

import json
import subprocess
import sys

import pytest


def _resolve(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "werfop.main", "resolve", *args, "--output", "json"],
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        timeout=60,
    )


def test_offline_resolve_prints_selection_and_reasons():
    done = _resolve("--tags", "1.0.0,v1.2.0,2.0.0-rc.1", "--constraint", "^1")
    assert 0 == done.returncode, done.stderr
    assert {
        "selected": "v1.2.0",
        "rejected": [{"tag": "2.0.0-rc.1", "reason": "outside constraint"}],
    } == json.loads(done.stdout)


def test_live_resolve_lists_the_repository_and_resolves_the_digest(plain_registry, repo_name):
    plain_registry.pusher.push_chart(repo_name, "1.0.0")
    digest = plain_registry.pusher.push_chart(repo_name, "1.4.0")
    plain_registry.pusher.push_chart(repo_name, "2.0.0")
    done = _resolve(f"{plain_registry.host}/{repo_name}", "--constraint", "~1", "--insecure")
    assert 0 == done.returncode, done.stderr
    answer = json.loads(done.stdout)
    assert ("1.4.0", digest, 2) == (answer["selected"], answer["digest"], answer["requests"])
    assert [{"tag": "2.0.0", "reason": "outside constraint"}] == answer["rejected"]


def test_live_resolve_with_basic_auth_from_stdin(basic_registry, repo_name):
    from support.registry.fixtures import CANARIES

    basic_registry.pusher.push_chart(repo_name, "1.0.0")
    done = _resolve(
        f"{basic_registry.host}/{repo_name}",
        "--insecure",
        "--username",
        "reader",
        "--password-stdin",
        stdin=CANARIES["reader_password"] + "\n",
    )
    assert 0 == done.returncode, done.stderr
    assert "1.0.0" == json.loads(done.stdout)["selected"]
    wrong = _resolve(
        f"{basic_registry.host}/{repo_name}",
        "--insecure",
        "--username",
        "reader",
        "--password-stdin",
        stdin=CANARIES["wrong_password"] + "\n",
    )
    assert 1 == wrong.returncode
    assert basic_registry.host in wrong.stderr and "Unauthorized" in wrong.stderr
    assert CANARIES["wrong_password"] not in wrong.stderr + wrong.stdout


@pytest.mark.parametrize("flags", [["--tags", "1.0.0", "--tag", "x", "--constraint", "^1"], []])
def test_resolve_usage_errors_exit_2(flags):
    assert 2 == _resolve(*flags).returncode
