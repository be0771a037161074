"""Which of werfop's modules a bundle goes through from its watch event to its Job.

Runs ``werfop simulate`` on one bundle (examples/shop.yaml and what it refers to) and
records, with ``sys.setprofile``, the module of every werfop function called inside the
controller's handling of the bundle: ``Controller.on_event`` for the bundle's ADDED
event, then each ``Controller.process`` pass until the pass that creates its first Job
(passes that write only the finalizer or a status count too: they are on the way).
Only the four layers count (``core``, ``api``, ``runtime``, ``adapters``): the wiring
that drives the controller and receives its timeline (``simulate`` and its report
modules here; ``operator`` and ``runtime/workers`` in the operator) is left out. The
adapter the events come from and the Job goes to (``adapters/memory`` here,
``adapters/kubernetes`` in the operator) is in it.

Usage: .venv/bin/python scripts/modules_on_path.py [--verbose]
Run it with PYTHONPATH=<another tree>/src to count another revision.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import werfop

ROOT = Path(werfop.__file__).resolve().parent
LAYERS = ("core", "api", "runtime", "adapters")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def module_of(filename: str) -> str | None:
    path = Path(filename).resolve()
    try:
        relative = path.relative_to(ROOT)
    except ValueError:
        return None
    if relative.parts[0] not in LAYERS:
        return None
    return str(relative.with_suffix(""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print each module's functions")
    args = parser.parse_args()
    seen: dict[str, set[str]] = {}
    state = {"depth": 0, "done": False, "job": False}

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        if state["done"] or event not in ("call", "return"):
            return
        code = frame.f_code
        module = module_of(code.co_filename)
        if module is None:
            return
        entry = module == "runtime/controller" and code.co_name in ("on_event", "process")
        if event == "call":
            if entry:
                state["depth"] += 1
            if state["depth"] > 0:
                seen.setdefault(module, set()).add(code.co_name)
                if module.startswith("adapters/") and code.co_name == "create_job":
                    state["job"] = True
        elif entry:
            state["depth"] -= 1
            if state["depth"] == 0 and state["job"]:
                state["done"] = True

    with tempfile.TemporaryDirectory() as folder:
        manifests = Path(folder) / "shop.yaml"
        manifests.write_text((EXAMPLES / "shop.yaml").read_text())
        scenario = Path(folder) / "scenario.yaml"
        scenario.write_text(
            "until: 10m\nregistries:\n  ghcr.io/acme/shop:\n    - {at: 0s, push: {tag: 1.0.0}}\n"
        )
        devnull = open(os.devnull, "w")
        stdout, sys.stdout = sys.stdout, devnull
        sys.setprofile(profile)
        try:
            _run(manifests, scenario)
        finally:
            sys.setprofile(None)
            sys.stdout = stdout
            devnull.close()
    if not state["job"]:
        print("no Job was created: nothing to count", file=sys.stderr)
        return 1
    print(f"{len(seen)} modules from the watch event to the Job ({ROOT}):")
    for module in sorted(seen):
        functions = ", ".join(sorted(seen[module])) if args.verbose else ""
        print(f"  {module}" + (f": {functions}" if functions else ""))
    return 0


def _run(manifests: Path, scenario: Path) -> None:
    from werfop import main as cli

    try:
        cli.main(["simulate", str(manifests), "--scenario", str(scenario)])
    except SystemExit:
        pass


if __name__ == "__main__":
    sys.exit(main())
