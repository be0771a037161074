"""The day-2 commands without a cluster: usage errors exit 2, a missing configuration
is one line and exit 1, ``version --client`` and the completion scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from werfop import __version__
from werfop.main import main


@pytest.fixture
def no_cluster(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["get", "shop", "-A"], "werfop get: a NAME and -A", id="name-with-all"),
        pytest.param(
            ["reconcile", "shop", "--wait", "--timeout", "soon"],
            "werfop reconcile: --timeout: 'soon' is not a duration",
            id="bad-timeout",
        ),
        pytest.param(["rollback", "shop"], "one of the arguments --to --clear", id="no-target"),
        pytest.param(["rollback", "shop", "--clear", "--force"], "--force goes with --to", id="f"),
        pytest.param(["status"], "the following arguments are required: NAME", id="no-name"),
        pytest.param(["completion", "fish"], "invalid choice: 'fish'", id="shell"),
    ],
)
def test_usage_errors_exit_2_with_one_message(no_cluster, capsys, argv, message):
    assert 2 == exit_code(argv)
    assert message in capsys.readouterr().err


def exit_code(argv: list[str]) -> int:
    """``main``'s exit code, also when argparse exits on its own."""
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


@pytest.mark.parametrize("command", ["get", "status shop", "reconcile shop --wait", "suspend shop"])
def test_no_configuration_is_one_line_and_exit_1(no_cluster, capsys, command):
    code = main(command.split())

    captured = capsys.readouterr()
    assert 1 == code
    assert [
        "no cluster configuration: not in a pod, no --kubeconfig, $KUBECONFIG names no file "
        "and ~/.kube/config does not exist"
    ] == captured.err.splitlines()
    assert "" == captured.out


def test_version_client_needs_no_cluster(no_cluster, capsys):
    assert 0 == main(["version", "--client"])
    assert f"client: werfop {__version__}\n" == capsys.readouterr().out


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_know_every_day2_command_and_the_shell_accepts_them(shell, tmp_path):
    script = subprocess.run(
        [sys.executable, "-m", "werfop.main", "completion", shell],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for word in ("reconcile", "rollback", "--all-namespaces", "--to", "explain", "simulate"):
        assert word in script
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is missing: scripts/ensure-system-deps.sh (make test) installs it")
    path = tmp_path / f"werfop.{shell}"
    path.write_text(script)
    checked = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert (0, "") == (checked.returncode, checked.stderr)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("werfop re", "resolve render reconcile redeploy retry resume", id="commands"),
        pytest.param("werfop rollback --t", "--timeout --to", id="options"),
        pytest.param("werfop completion ", "bash zsh", id="choices"),
    ],
)
def test_bash_completes_commands_options_and_choices(line, expected, tmp_path):
    path = tmp_path / "werfop.bash"
    path.write_text(
        subprocess.run(
            [sys.executable, "-m", "werfop.main", "completion", "bash"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    words = line.split(" ")
    program = (
        f"source {path}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT={len(line)}; "
        '_shtab_werfop; echo "${COMPREPLY[@]}"'
    )
    completed = subprocess.run(["bash", "-c", program], capture_output=True, text=True)

    assert expected == completed.stdout.strip()
