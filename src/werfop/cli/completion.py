"""``werfop completion bash|zsh``: shell completion scripts generated from the parser.

Role: hand the whole ``werfop`` parser to ``shtab``, which writes a static script:
every subcommand, option and choice the parser knows, so the script never drifts from
the CLI, and a TAB never starts Python (argcomplete would run ``werfop``, and import
the Kubernetes client, on every key press). Bundle names are not completed (a static
script cannot list them).
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh")


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (one of ``SHELLS``)."""
    import shtab

    script: str = shtab.complete(parser, shell=shell)
    return script if script.endswith("\n") else script + "\n"
