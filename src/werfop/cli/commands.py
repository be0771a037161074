"""The day-2 subcommands' arguments and handlers.

Role: ``add_commands`` adds ``get``, ``status`` (alias ``explain``), ``reconcile``,
``redeploy``, ``retry``, ``rollback``, ``suspend``, ``resume``, ``version`` and
``completion`` to the ``werfop`` parser, each with a ``day2`` default that
``werfop.main`` calls. Handlers connect (``werfop.kubeconfig``: ``--kubeconfig``,
``--context``, the context's namespace unless ``-n``), read or patch through
``bundles``, wait through ``wait``, and print through ``table`` and ``explain``.

Exit codes: 0 done (with ``--wait``: settled and not Failed); 1 the bundle ended
Failed, the poll ``reconcile --wait`` asked for failed, the wait timed out, the bundle
or the cluster configuration is missing, a lever was pulled on a suspended bundle, or
the API server refused or could not be reached (one line on stderr, no traceback); 2
usage (argparse's, a bad ``--timeout``, a rollback to a version the history does not
hold).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from werfop import __version__
from werfop.cli import levers
from werfop.cli.completion import SHELLS, completion_script
from werfop.core import names
from werfop.core.durations import parse_duration
from werfop.core.errors import ConflictError, NotFoundError, WerfopError
from werfop.kubeconfig import ConfigurationError, connect

Obj = dict[str, Any]
DEFAULT_TIMEOUT = "5m"


class UsageError(Exception):
    """Bad usage the parser cannot see; exit 2 with this line."""


class Failure(Exception):
    """The command did not achieve its end; exit 1 with this line."""


def add_commands(parser: argparse.ArgumentParser, sub: Any) -> None:
    """Add the day-2 subcommands to ``sub`` (the subparsers of ``parser``, which the
    completion scripts describe whole)."""
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("--kubeconfig", help="kubeconfig file (default: as kubectl)")
    cluster.add_argument("--context", help="kubeconfig context (default: the current one)")
    cluster.add_argument(
        "-n", "--namespace", help="the bundle's namespace (default: the context's, or default)"
    )
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument(
        "--wait",
        action="store_true",
        help="wait until the operator has acted and the bundle settled; exit 1 if it is Failed",
    )
    wait.add_argument(
        "--timeout",
        default=DEFAULT_TIMEOUT,
        help=f"how long --wait waits (default {DEFAULT_TIMEOUT})",
    )

    get = sub.add_parser("get", parents=[cluster], help="list WerfBundles as a table")
    get.add_argument("name", nargs="?", metavar="NAME", help="only this bundle")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    get.set_defaults(day2=_get)

    status = sub.add_parser(
        "status",
        aliases=["explain"],
        parents=[cluster],
        help="why a WerfBundle is where it is: conditions, selection, Jobs, Events, history",
    )
    status.add_argument("name", metavar="NAME")
    status.add_argument(
        "--log-lines",
        type=int,
        default=20,
        help="lines of the last Job's captured log to show (default 20; 0: none)",
    )
    status.set_defaults(day2=_status)

    for command, annotation, what in (
        ("reconcile", names.RECONCILE_AT, "poll the registry now"),
        ("redeploy", names.REDEPLOY_AT, "apply the current version again"),
        ("retry", names.RETRY, "fresh attempts for a version that ran out of them"),
    ):
        lever = sub.add_parser(command, parents=[cluster, wait], help=f"{what} (sets {annotation})")
        lever.add_argument("name", metavar="NAME")
        lever.set_defaults(day2=_annotate, annotation=annotation)

    rollback = sub.add_parser(
        "rollback",
        parents=[cluster, wait],
        help=f"deploy and hold a version from status.versionHistory ({names.ROLLBACK_TO})",
    )
    rollback.add_argument("name", metavar="NAME")
    target = rollback.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="VERSION", help="a tag of status.versionHistory")
    target.add_argument(
        "--clear",
        action="store_true",
        help="remove the hold and poll now (normal selection resumes)",
    )
    rollback.add_argument(
        "--force", action="store_true", help="set --to even if the history does not hold it"
    )
    rollback.set_defaults(day2=_rollback)

    for command, suspend in (("suspend", True), ("resume", False)):
        toggle = sub.add_parser(
            command,
            parents=[cluster, wait],
            help=f"set spec.suspend to {str(suspend).lower()}",
        )
        toggle.add_argument("name", metavar="NAME")
        toggle.set_defaults(day2=_suspend, suspend=suspend)

    version = sub.add_parser(
        "version", parents=[cluster], help="the client's version, and the cluster's if reachable"
    )
    version.add_argument("--client", action="store_true", help="the client's only")
    version.set_defaults(day2=_version)

    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(day2=lambda args, out: _completion(parser, args, out))


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the day-2 handler ``args.day2``; the exit code. Every expected failure is one
    line on ``err``, never a traceback."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args.day2(args, out)
    except UsageError as error:
        print(f"werfop {args.command}: {error}", file=err)
        return 2
    except (Failure, ConfigurationError, WerfopError) as error:
        print(str(error), file=err)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


# -- connecting ----------------------------------------------------------------------


class Session:
    """One connection: the bundles client and the namespace the command means."""

    def __init__(self, args: argparse.Namespace) -> None:
        from werfop.adapters.kubernetes import KubernetesApi
        from werfop.cli.bundles import Bundles

        connection = connect(args.kubeconfig, args.context)
        self.bundles = Bundles(KubernetesApi(connection.api))
        self.namespace: str = args.namespace or connection.namespace


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    """An annotation value that is new every time: RFC 3339 in UTC, microseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _timeout(args: argparse.Namespace) -> timedelta:
    parsed = parse_duration(args.timeout)
    if parsed is None or parsed <= timedelta(0):
        raise UsageError(f"--timeout: {args.timeout!r} is not a duration such as 90s or 5m")
    return parsed


# -- get, status -------------------------------------------------------------------------


def _get(args: argparse.Namespace, out: TextIO) -> None:
    from werfop.cli.table import bundle_table

    if args.all_namespaces and args.name:
        raise UsageError("a NAME and -A/--all-namespaces do not go together")
    session = Session(args)
    if args.name:
        found = [session.bundles.get(session.namespace, args.name)]
    else:
        found = session.bundles.list_bundles(None if args.all_namespaces else session.namespace)
    if not found:
        where = "any namespace" if args.all_namespaces else f"namespace {session.namespace}"
        print(f"no werfbundles found in {where}", file=sys.stderr)
        return
    out.write(bundle_table(found, _now(), namespaced=args.all_namespaces))


def _status(args: argparse.Namespace, out: TextIO) -> None:
    from werfop.cli.explain import explain

    session = Session(args)
    bundle = session.bundles.get(session.namespace, args.name)
    try:
        events = session.bundles.events(bundle)
    except WerfopError as error:  # e.g. a user who may read bundles but not Events
        events = []
        print(f"(Events not shown: {error})", file=sys.stderr)
    out.write(explain(bundle, events, _now(), log_lines=args.log_lines))


# -- levers ------------------------------------------------------------------------------


def _refuse_suspended(bundle: Obj, key: str) -> None:
    if levers.is_suspended(bundle):
        name = key.split("/", 1)[1]
        raise Failure(
            f"werfbundle {key} is suspended (spec.suspend): nothing would act on this; "
            f"resume it first (werfop resume {name})"
        )


def _annotate(args: argparse.Namespace, out: TextIO) -> None:
    timeout = _timeout(args)
    session = Session(args)
    key = f"{session.namespace}/{args.name}"
    bundle = session.bundles.get(session.namespace, args.name)
    _refuse_suspended(bundle, key)
    value = _stamp(_now())
    session.bundles.patch(
        session.namespace, args.name, levers.annotation_patch(args.annotation, value)
    )
    before = ((bundle["metadata"].get("annotations") or {}).get(args.annotation)) or "unset"
    print(f"werfbundle {key} annotated: {args.annotation}={value} (was {before})", file=out)
    if args.wait:
        field = levers.HANDLED_FIELD[args.annotation]
        settled = _wait(
            session,
            args.name,
            levers.handled_annotation(args.annotation, value),
            timeout,
            f"status.{field}={value}",
            out,
        )
        if args.annotation == names.RECONCILE_AT:
            _refuse_failed_poll(settled, key)


def _refuse_failed_poll(bundle: Obj, key: str) -> None:
    """The poll a reconcile asked for failed: fewer failures in a row than make the
    bundle Failed leave its phase as it was, so say it here."""
    failure = levers.poll_failure(bundle)
    if failure is not None:
        raise Failure(f"werfbundle {key}: the requested poll failed: {failure}")


def _rollback(args: argparse.Namespace, out: TextIO) -> None:
    timeout = _timeout(args)
    if args.force and args.clear:
        raise UsageError("--force goes with --to")
    session = Session(args)
    key = f"{session.namespace}/{args.name}"
    if args.clear:
        bundle = session.bundles.get(session.namespace, args.name)
        _refuse_suspended(bundle, key)
        value = _stamp(_now())
        patch = levers.annotation_patch(names.ROLLBACK_TO, None)
        patch["metadata"]["annotations"][names.RECONCILE_AT] = value
        session.bundles.patch(session.namespace, args.name, patch)
        print(
            f"werfbundle {key}: removed {names.ROLLBACK_TO}, "
            f"annotated {names.RECONCILE_AT}={value} (normal selection resumes now)",
            file=out,
        )
        if args.wait:
            handled = levers.handled_annotation(names.RECONCILE_AT, value)
            what = f"status.lastHandledReconcileAt={value}"
            _refuse_failed_poll(_wait(session, args.name, handled, timeout, what, out), key)
        return
    tag = args.to
    for _ in range(5):  # checked against the history of the version patched
        bundle = session.bundles.get(session.namespace, args.name)
        _refuse_suspended(bundle, key)
        known = levers.history_tags(bundle)
        if tag not in known and not args.force:
            listed = ", ".join(known) if known else "none"
            raise UsageError(
                f"werfbundle {key}: version {tag!r} is not in status.versionHistory "
                f"(it holds: {listed}); the operator would refuse it (RollbackUnavailable). "
                f"Use --force to set it anyway"
            )
        patch = levers.annotation_patch(names.ROLLBACK_TO, tag)
        patch["metadata"]["resourceVersion"] = bundle["metadata"]["resourceVersion"]
        try:
            session.bundles.patch(session.namespace, args.name, patch)
            break
        except ConflictError:
            continue  # the operator wrote in between: check the fresh history again
    else:
        raise Failure(f"werfbundle {key}: it kept changing under the patch; try again")
    before = (bundle["metadata"].get("annotations") or {}).get(names.ROLLBACK_TO) or "unset"
    note = "" if tag in known else " (not in status.versionHistory: forced)"
    print(f"werfbundle {key} annotated: {names.ROLLBACK_TO}={tag} (was {before}){note}", file=out)
    if args.wait:
        _wait(session, args.name, levers.handled_rollback(tag), timeout, f"tag {tag} held", out)


def _suspend(args: argparse.Namespace, out: TextIO) -> None:
    timeout = _timeout(args)
    session = Session(args)
    key = f"{session.namespace}/{args.name}"
    bundle = session.bundles.get(session.namespace, args.name)
    word = "suspended" if args.suspend else "resumed"
    if levers.is_suspended(bundle) == args.suspend:
        state = "already suspended" if args.suspend else "not suspended"
        print(f"werfbundle {key} is {state} (spec.suspend: {_bool(args.suspend)})", file=out)
        return
    changed = session.bundles.patch(
        session.namespace, args.name, levers.suspend_patch(args.suspend)
    )
    print(
        f"werfbundle {key} {word} (spec.suspend: {_bool(not args.suspend)} -> "
        f"{_bool(args.suspend)})",
        file=out,
    )
    if args.wait:
        generation = int(changed["metadata"].get("generation") or 0)
        handled = levers.handled_generation(generation)
        _wait(session, args.name, handled, timeout, f"observedGeneration {generation}", out)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _wait(
    session: Session,
    name: str,
    handled: levers.Handled,
    timeout: timedelta,
    what: str,
    out: TextIO,
) -> Obj:
    """Wait as ``--wait`` promises; the settled bundle, or ``Failure``."""
    from werfop.cli.wait import wait_for

    key = f"{session.namespace}/{name}"
    print(f"waiting for {what} and a settled status (timeout {go_duration(timeout)})", file=out)

    def report(line: str) -> None:
        print(line, file=out, flush=True)

    done, last = wait_for(
        lambda: session.bundles.get(session.namespace, name), handled, timeout, report=report
    )
    if not done:
        state = levers.summary(last) if last is not None else "not read"
        raise Failure(
            f"werfbundle {key}: timed out after {go_duration(timeout)} waiting for {what} "
            f"and a settled status; now {state}"
        )
    assert last is not None
    if levers.is_failed(last):
        raise Failure(f"werfbundle {key} {levers.summary(last)}")
    print(f"werfbundle {key} {levers.summary(last)}", file=out)
    return last


def go_duration(delta: timedelta) -> str:
    """``5m0s``-style text for a timeout, as Go prints durations."""
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{secs}s"


# -- version, completion -----------------------------------------------------------------


def _version(args: argparse.Namespace, out: TextIO) -> None:
    print(f"client: werfop {__version__}", file=out)
    if args.client:
        return
    try:
        session = Session(args)
        kubernetes = session.bundles.server_version()
    except (ConfigurationError, WerfopError) as error:
        print(f"server: not reachable ({error})", file=out)
        return
    try:
        served = session.bundles.crd_versions()
        crd = ", ".join(served) + " (* storage)" if served else "not served"
    except NotFoundError:
        crd = "not installed"
    except WerfopError as error:  # e.g. a user who may not read CRDs
        crd = f"unknown ({error})"
    print(f"server: Kubernetes {kubernetes}; werfbundles.werf.io {crd}", file=out)


def _completion(parser: argparse.ArgumentParser, args: argparse.Namespace, out: TextIO) -> None:
    out.write(completion_script(parser, args.shell))


__all__ = ["add_commands", "run"]
