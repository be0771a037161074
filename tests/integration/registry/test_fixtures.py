"""The registry fixtures themselves: a missing binary fails loudly, processes stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.registry.fixtures import require_registry_binary
from support.registry.process import INSTALL_HINT, start_registry


def test_missing_registry_binary_fails_with_the_install_hint(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as failure:
        require_registry_binary(tmp_path / "docker-registry")

    assert INSTALL_HINT == str(failure.value)
    assert "make test" in INSTALL_HINT


def test_a_stopped_registry_leaves_no_process(tmp_path: Path) -> None:
    require_registry_binary()
    running = start_registry(tmp_path, "plain")

    running.stop()

    assert running.process.returncode is not None
