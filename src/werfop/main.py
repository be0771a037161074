"""The ``werfop`` command line: the one place that wires concrete adapters.

Subcommands: ``simulate`` (the runtime over in-memory adapters), ``resolve`` (tag
selection, offline or against a live registry), ``render`` (the Job and inputs Secret
the operator would create), ``crd`` (render the CRD from the schema), ``run`` (the
operator, wired in ``werfop.operator``); the day-2 commands (``get``, ``status``,
``reconcile``, ...) are added and run by ``werfop.cli.commands``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from werfop import __version__

# Subcommands that never talk to a cluster: they skip importing the operator (and the
# kubernetes client, half a second) just to describe ``run``'s flags.
_OFFLINE = frozenset(("simulate", "resolve", "render", "validate", "crd"))


def _parser(operator_flags: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="werfop", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"werfop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="run bundles against a scripted world in virtual time")
    sim.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or folders")
    sim.add_argument("--scenario", help="scenario YAML (registry pushes, changes, Job outcomes)")
    sim.add_argument("--until", help="virtual duration to run (default 24h, or the scenario's)")
    sim.add_argument("--start", help="virtual start time, RFC 3339")
    sim.add_argument("--output", choices=("text", "json"), default="text")
    sim.add_argument("--bundle", action="append", metavar="NS/NAME", help="report only these")
    sim.add_argument("--fail-on", metavar="PHASE[,PHASE]", help="exit 3 if a bundle ends so")
    sim.add_argument("--report", metavar="FILE.html", help="also write an HTML timeline")

    res = sub.add_parser("resolve", help="show which tag a version policy selects")
    res.add_argument("repository", nargs="?", help="OCI repository to list (live mode)")
    res.add_argument("--tags", help="comma-separated tags (offline mode)")
    res.add_argument("--constraint", help="semver constraint")
    res.add_argument("--tag", help="follow this exact tag")
    res.add_argument("--include", help="regular expression tags must match")
    res.add_argument("--exclude", help="regular expression tags must not match")
    res.add_argument("--last-applied", help="the version deployed now (downgrade guard)")
    res.add_argument("--allow-downgrade", action="store_true")
    res.add_argument("--username", help="registry username (live mode)")
    res.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    res.add_argument("--docker-config", help="docker config.json with credentials (live mode)")
    res.add_argument("--insecure", action="store_true", help="plain HTTP (live mode)")
    res.add_argument("--ca-file", help="CA certificate to trust (live mode)")
    res.add_argument("--output", choices=("json",), default="json")

    ren = sub.add_parser(
        "render", help="print the Job and inputs Secret the operator would create (offline)"
    )
    ren.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or folders")
    ren.add_argument("--tag", required=True, help="the tag to deploy (for plan/uninstall: applied)")
    ren.add_argument("--digest", help="the tag's manifest digest, as the operator resolved it")
    ren.add_argument("--kind", choices=("apply", "plan", "uninstall"), default="apply")
    ren.add_argument("--output", choices=("yaml", "json"), default="yaml")

    val = sub.add_parser("validate", help="check WerfBundles and what they use, offline")
    val.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or folders")
    val.add_argument(
        "--no-cross-namespace", action="store_true", help="as werfop run --no-cross-namespace"
    )

    sub.add_parser("crd", help="print the WerfBundle CustomResourceDefinition")

    run = sub.add_parser("run", help="run the operator against a cluster")
    if operator_flags:
        from werfop.operator import add_arguments

        add_arguments(run)

    from werfop.cli.commands import add_commands

    add_commands(parser, sub)  # get, status, reconcile, ... (day-2; werfop.cli)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser(operator_flags=argv[:1] != [] and argv[0] not in _OFFLINE).parse_args(argv)
    if getattr(args, "day2", None) is not None:
        from werfop.cli.commands import run as run_day2

        return run_day2(args)
    if args.command == "simulate":
        from werfop.simulate import run_cli

        return run_cli(
            args.paths,
            args.scenario,
            args.until,
            args.start,
            args.output,
            bundles=args.bundle,
            fail_on=args.fail_on,
            html=args.report,
        )
    if args.command == "resolve":
        from werfop.resolve import run_cli as resolve_cli

        return resolve_cli(args)
    if args.command == "render":
        from werfop.render import run_cli as render_cli

        return render_cli(args.paths, args.tag, args.digest, args.kind, args.output)
    if args.command == "validate":
        from werfop.validate import run_cli as validate_cli

        return validate_cli(args.paths, allow_cross_namespace=not args.no_cross_namespace)
    if args.command == "run":
        from werfop.operator import run

        return run(args)
    if args.command == "crd":
        from werfop.api.crd import render_crd_yaml

        sys.stdout.write(render_crd_yaml())
        return 0
    raise AssertionError(args.command)  # argparse enforces the choices


if __name__ == "__main__":
    sys.exit(main())
