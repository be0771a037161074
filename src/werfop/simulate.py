"""``werfop simulate``: the operator's own runtime over in-memory adapters and virtual time.

Role: load manifests and a scenario, build the in-memory world (``MemoryCluster``,
``ScriptedRegistry``, ``ManualClock``), run the runtime the operator runs (built by the
same ``runtime.bootstrap.build``, with the simulator's default options), jumping from
one due moment to the next, and report a timeline and final statuses.
Must not: contain decision logic. If the simulator needed logic the operator does not
share, the design would be wrong.
Neighbours: ``report_text`` and ``report_html`` format what the run reported (the JSON
report stays here, streamed), ``timeline`` reads its entries for both, ``validate`` and
``render`` reuse the loading.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import attrs
import yaml

from werfop.adapters.memory import ManualClock, MemoryCluster, merge_patch
from werfop.adapters.scripted_registry import Delete, Outage, Push, ScriptedRegistry
from werfop.api.codec import decode_bundle, format_time, parse_time
from werfop.core import names
from werfop.core.durations import parse_duration
from werfop.core.model import Bundle
from werfop.core.timeline import Entry
from werfop.report_timeline import PHASES, final_phase
from werfop.runtime import bootstrap

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT_UNTIL = timedelta(hours=24)
KINDS = ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "WerfBundle")
MAX_PASSES_PER_INSTANT = 10_000
SCENARIO_AS_MANIFEST = "this is a scenario: pass it with --scenario"
# libyaml's parser with the same safe constructor where PyYAML was built with it (its
# wheels are): ten times faster on large folders, which a pre-commit hook reads.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InputError(Exception):
    """Invalid manifests or scenario: exit code 2. ``problems`` are full sentences that
    name the file, the document and the field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@attrs.frozen(kw_only=True)
class JobRule:
    result: str
    after: timedelta
    bundle: str | None = None
    tag: str | None = None
    attempt: int | None = None
    kind: str | None = None  # apply, plan (drift check) or uninstall
    exit_code: int | None = None

    def matches(self, bundle: str, tag: str, attempt: int, kind: str) -> bool:
        return (
            (self.bundle is None or self.bundle in (bundle, bundle.split("/", 1)[1]))
            and (self.tag is None or self.tag == tag)
            and (self.attempt is None or self.attempt == attempt)
            and (self.kind is None or self.kind == kind)
        )


@attrs.frozen(kw_only=True)
class Change:
    at: datetime
    kind: str
    namespace: str
    name: str
    patch: dict[str, Any] | None
    delete: bool = False
    notify: str | None = None  # a registry notification for this repository
    where: str = ""  # "<scenario file>: changes[<index>]", for problems


@attrs.frozen(kw_only=True)
class Scenario:
    start: datetime = DEFAULT_START
    until: timedelta = DEFAULT_UNTIL
    registry_events: tuple[tuple[str, datetime, Any], ...] = ()
    changes: tuple[Change, ...] = ()
    default_job: JobRule = JobRule(result="succeeded", after=timedelta(minutes=1))
    job_rules: tuple[JobRule, ...] = ()


# --- loading --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Problem:
    """One problem with the manifests, where an editor finds it: the file, the document
    counted from 1 (None: the whole file), the field path (None: the whole document)."""

    file: str
    document: int | None
    field: str | None
    message: str
    name: str | None = None  # the object's metadata.name, when known
    mark: tuple[int, int] | None = None  # (line, column) of a YAML error, 1-based

    def sentence(self) -> str:
        """The simulator's form: ``file document N (name): field: message``, or
        ``file:line:column: message`` for a YAML error."""
        if self.mark is not None:
            return f"{self.file}:{self.mark[0]}:{self.mark[1]}: {self.message}"
        where = self.file if self.document is None else f"{self.file} document {self.document}"
        if self.name is not None:
            where += f" ({self.name})"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def line(self, label: str = "") -> str:
        """``werfop validate``'s form: ``file:document:field: message``, ``-`` for a part
        that does not apply (a YAML error is placed by line and column in the message)."""
        document = "-" if self.document is None else str(self.document)
        message = self.message
        if self.mark is not None:
            message += f" (line {self.mark[0]}, column {self.mark[1]})"
        return f"{self.file}:{document}:{self.field or '-'}: {label}{message}"


def load_manifests(
    paths: Iterable[str], scenario: str | None = None, note: Callable[[str], None] | None = None
) -> list[tuple[str, int, dict[str, Any]]]:
    """Every document from the YAML files and folders, with its file and its index as
    editors count (the first document is 1). A scenario found in a folder is skipped and
    ``note`` says so (silently when it is the ``scenario`` given); a scenario named as a
    manifest PATH is an error that says to use ``--scenario``."""
    documents, problems = read_manifests(paths, scenario, note)
    if problems:
        raise InputError([p.sentence() for p in problems])
    return documents


def read_manifests(
    paths: Iterable[str], scenario: str | None = None, note: Callable[[str], None] | None = None
) -> tuple[list[tuple[str, int, dict[str, Any]]], list[Problem]]:
    """``load_manifests`` without raising: the documents read and every problem found
    (the documents of a file before its YAML error are kept)."""
    problems: list[Problem] = []
    documents: list[tuple[str, int, dict[str, Any]]] = []
    files: list[tuple[Path, bool]] = []  # (file, named on the command line)
    for given in paths:
        path = Path(given)
        if path.is_dir():
            # the folder's own files only: examples/features/* are scenarios of their own
            files += sorted((p, False) for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        elif path.is_file():
            files.append((path, True))
        else:
            problems.append(
                Problem(file=given, document=None, field=None, message="no such file or directory")
            )
    for file, named in files:
        loaded: list[Any] = []
        try:
            loaded.extend(yaml.load_all(file.read_text(), Loader=_SafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.append(
                Problem(
                    file=str(file),
                    document=len(loaded) + 1 if isinstance(error, yaml.YAMLError) else None,
                    field=None,
                    message=f"not valid YAML: {_first_line(error)}",
                    mark=_mark(error),
                )
            )
        for index, document in enumerate(loaded, start=1):
            if document is None:
                continue
            if not isinstance(document, dict):
                problems.append(
                    Problem(file=str(file), document=index, field=None, message="must be a mapping")
                )
                continue
            if "kind" not in document and _looks_like_scenario(document):
                if named:
                    problems.append(
                        Problem(
                            file=str(file),
                            document=None,
                            field=None,
                            message=SCENARIO_AS_MANIFEST,
                        )
                    )
                elif note is not None and not _same_file(file, scenario):
                    note(f"{file}: skipped, a scenario (pass it with --scenario to use it)")
                continue
            documents.append((str(file), index, document))
    return documents, problems


def _mark(error: Exception) -> tuple[int, int] | None:
    """(line, column), 1-based as editors show, where YAML says the error is."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return None if mark is None else (mark.line + 1, mark.column + 1)


def _where(file: Path, error: Exception) -> str:
    """``file:line:column`` (1-based, as editors show) where YAML says the error is."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return str(file)
    return f"{file}:{mark.line + 1}:{mark.column + 1}"


def _same_file(file: Path, other: str | None) -> bool:
    return other is not None and Path(other).exists() and file.samefile(other)


def _looks_like_scenario(document: dict[str, Any]) -> bool:
    return bool({"registries", "jobs", "changes", "until", "start"} & set(document))


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def check_objects(documents: list[tuple[str, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The objects of ``documents``, one per document, with the default namespace set;
    raises ``InputError`` naming file, document and field for anything the simulator
    (or the operator's codec) refuses."""
    checked, problems = check_documents(documents)
    if problems:
        raise InputError([p.sentence() for p in problems])
    return [obj for _, _, obj, _ in checked]


def check_documents(
    documents: list[tuple[str, int, dict[str, Any]]],
) -> tuple[list[tuple[str, int, dict[str, Any], Bundle | None]], list[Problem]]:
    """``check_objects`` without raising: (file, document, object, decoded bundle or
    None) for each usable document, and every problem found."""
    problems: list[Problem] = []
    checked: list[tuple[str, int, dict[str, Any], Bundle | None]] = []
    seen: set[tuple[str, str, str]] = set()
    for file, index, doc in documents:
        kind = doc.get("kind")
        if kind not in KINDS:
            message = f"must be one of {', '.join(KINDS)}, not {kind!r}"
            problems.append(Problem(file=file, document=index, field="kind", message=message))
            continue
        doc = json.loads(json.dumps(doc, default=str))
        metadata = doc.setdefault("metadata", {})
        if not isinstance(metadata, dict) or not metadata.get("name"):
            problems.append(
                Problem(file=file, document=index, field="metadata.name", message="is required")
            )
            continue
        if kind != "Namespace":
            metadata.setdefault("namespace", "default")
        key = (kind, metadata.get("namespace", ""), metadata["name"])
        if key in seen:
            problems.append(
                Problem(
                    file=file,
                    document=index,
                    field=None,
                    message=f"{kind} {key[1]}/{key[2]} is defined twice",
                )
            )
            continue
        seen.add(key)
        bundle = None
        if kind == "WerfBundle":
            bundle, found = decode_bundle({**doc, "metadata": {**metadata, "uid": "check"}})
            problems += [
                Problem(
                    file=file,
                    document=index,
                    field=p.path,
                    message=p.message,
                    name=metadata["name"],
                )
                for p in found
            ]
        checked.append((file, index, doc, bundle))
    return checked, problems


def populate(cluster: MemoryCluster, objects: list[dict[str, Any]]) -> None:
    """Store the checked objects, creating each namespace they live in that the files
    do not define (as a cluster would already have it)."""
    namespaces = sorted(
        {o["metadata"]["namespace"] for o in objects if o["kind"] != "Namespace"}
        - {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    )
    for name in namespaces:
        cluster.create(
            "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    for obj in sorted(objects, key=lambda o: KINDS.index(o["kind"])):
        cluster.create(obj["kind"], obj)


def load_scenario(path: str | None, start: datetime | None = None) -> Scenario:
    """The scenario of ``path``; ``start`` (``--start``) replaces its own start, and
    every ``at:`` counts from whichever start applies."""
    if path is None:
        return Scenario() if start is None else Scenario(start=start)
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        where = _where(Path(path), error)
        raise InputError([f"{where}: cannot read the scenario: {_first_line(error)}"]) from None
    if not isinstance(data, dict):
        raise InputError([f"{path}: the scenario must be a mapping"])
    problems: list[str] = []
    _unknown(path, "", data, "", problems)
    override, start = start, DEFAULT_START
    if "start" in data:
        parsed = _time(data["start"])
        if parsed is None:
            problems.append(f"{path}: start: must be an RFC 3339 time")
        else:
            start = parsed
    start = override or start
    until = DEFAULT_UNTIL
    if "until" in data:
        parsed_until = parse_duration(str(data["until"]), allow_days=True)
        if parsed_until is None:
            problems.append(f"{path}: until: must be a duration such as 24h or 7d")
        else:
            until = parsed_until
    events = _registry_events(path, data.get("registries") or {}, start, problems)
    changes = _changes(path, data.get("changes") or [], start, problems)
    default, rules = _job_rules(path, data.get("jobs") or {}, problems)
    if problems:
        raise InputError(problems)
    return Scenario(
        start=start,
        until=until,
        registry_events=tuple(events),
        changes=tuple(changes),
        default_job=default,
        job_rules=tuple(rules),
    )


_KEYS = {
    "": ("start", "until", "registries", "changes", "jobs"),
    "event": ("at", "push", "delete", "outage", "notify"),
    "push": ("tag", "digest"),
    "delete": ("tag",),
    "outage": ("for", "status", "retryAfter"),
    "change": ("at", "object", "patch", "delete"),
    "object": ("kind", "namespace", "name"),
    "jobs": ("default", "rules"),
    "rule": ("result", "after", "bundle", "tag", "attempt", "kind", "exitCode"),
}


def _unknown(
    path: str, where: str, mapping: dict[str, Any], allowed: str, problems: list[str]
) -> None:
    """An unknown key is a mistake, never ignored (a rule with ``bundel: shop`` would
    match every Job): name it, with the closest known key."""
    known = _KEYS[allowed]
    for key in mapping:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        prefix = f"{where}." if where else ""
        problems.append(f"{path}: {prefix}{key}: unknown field{hint}")


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_time(value) if isinstance(value, str) else None


def _at(path: str, where: str, value: Any, start: datetime, problems: list[str]) -> datetime:
    delta = parse_duration(str(value), allow_days=True)
    if delta is None:
        problems.append(f"{path}: {where}.at: must be a duration such as 0s, 2h or 1d")
        return start
    return start + delta


def _registry_events(
    path: str, registries: Any, start: datetime, problems: list[str]
) -> list[tuple[str, datetime, Any]]:
    events: list[tuple[str, datetime, Any]] = []
    if not isinstance(registries, dict):
        problems.append(f"{path}: registries: must be a mapping of repository to events")
        return events
    for repository, items in registries.items():
        repo = str(repository).removeprefix("oci://")
        if items is not None and not isinstance(items, list):
            problems.append(f"{path}: registries[{repository!r}]: must be a list of events")
            continue
        for index, item in enumerate(items or []):
            where = f"registries[{repository!r}][{index}]"
            if not isinstance(item, dict):
                problems.append(f"{path}: {where}: must be a mapping")
                continue
            _unknown(path, where, item, "event", problems)
            at = _at(path, where, item.get("at", "0s"), start, problems)
            event = _registry_event(path, where, item, at, problems)
            if event is not None:
                events.append((repo, at, event))
            if item.get("notify"):  # the registry also sends a push notification
                events.append((repo, at, "notify"))
    return events


def _registry_event(
    path: str, where: str, item: dict[str, Any], at: datetime, problems: list[str]
) -> Any:
    if "push" in item:
        push = item["push"] or {}
        if not isinstance(push, dict) or not push.get("tag"):
            problems.append(f"{path}: {where}.push.tag: is required")
            return None
        if not isinstance(push["tag"], (str, int, float)):
            problems.append(f"{path}: {where}.push.tag: must be a string")
            return None
        _unknown(path, f"{where}.push", push, "push", problems)
        return Push(tag=str(push["tag"]), digest=push.get("digest"))
    if "delete" in item:
        delete = item["delete"] or {}
        if not isinstance(delete, dict) or not delete.get("tag"):
            problems.append(f"{path}: {where}.delete.tag: is required")
            return None
        _unknown(path, f"{where}.delete", delete, "delete", problems)
        return Delete(tag=str(delete["tag"]))
    if "outage" in item:
        outage = item["outage"] or {}
        if not isinstance(outage, dict):
            problems.append(f"{path}: {where}.outage: must be a mapping")
            return None
        _unknown(path, f"{where}.outage", outage, "outage", problems)
        length = parse_duration(str(outage.get("for", "")), allow_days=True)
        status = outage.get("status", 503)
        retry = outage.get("retryAfter")
        retry_after = parse_duration(str(retry), allow_days=True) if retry is not None else None
        if length is None:
            problems.append(f"{path}: {where}.outage.for: must be a duration")
            return None
        if status != "timeout" and not (isinstance(status, int) and 400 <= status <= 599):
            problems.append(f"{path}: {where}.outage.status: must be an HTTP error code or timeout")
            return None
        if retry is not None and retry_after is None:
            problems.append(f"{path}: {where}.outage.retryAfter: must be a duration")
            return None
        return Outage(until=at + length, status=status, retry_after=retry_after)
    problems.append(f"{path}: {where}: must have push, delete or outage")
    return None


def _changes(path: str, items: Any, start: datetime, problems: list[str]) -> list[Change]:
    changes: list[Change] = []
    if not isinstance(items, list):
        problems.append(f"{path}: changes: must be a list")
        return changes
    for index, item in enumerate(items):
        where = f"changes[{index}]"
        if isinstance(item, dict):
            _unknown(path, where, item, "change", problems)
        obj = item.get("object") if isinstance(item, dict) else None
        if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("name"):
            problems.append(f"{path}: {where}.object: needs kind and name")
            continue
        _unknown(path, f"{where}.object", obj, "object", problems)
        patch = item.get("patch")
        if patch is not None and not isinstance(patch, dict):
            problems.append(f"{path}: {where}.patch: must be a mapping (a merge patch)")
            continue
        delete = bool(item.get("delete", False))
        if (patch is None) == (not delete):
            problems.append(f"{path}: {where}: needs exactly one of patch or delete: true")
            continue
        changes.append(
            Change(
                at=_at(path, where, item.get("at", "0s"), start, problems),
                kind=str(obj["kind"]),
                namespace=str(obj.get("namespace", "default")),
                name=str(obj["name"]),
                patch=patch,
                delete=delete,
                where=f"{path}: {where}",
            )
        )
    return sorted(changes, key=lambda c: c.at)


def unmatched_registries(objects: list[dict[str, Any]], scenario: Scenario) -> list[str]:
    """A scripted repository no bundle follows, and a bundle whose repository has no
    script (it will only ever see an empty repository): likely typos."""
    scripted = {repo for repo, _, _ in scenario.registry_events}
    followed: dict[str, list[str]] = {}
    for obj in objects:
        if obj["kind"] == "WerfBundle":
            url = str(obj["spec"]["registry"]["url"]).removeprefix("oci://")
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            followed.setdefault(url, []).append(key)
    found = [
        f"registries[{repo!r}] is scripted but no bundle follows it"
        for repo in sorted(scripted)
        if repo not in followed
    ]
    if scenario.registry_events or scenario.changes:  # a bare run scripts nothing on purpose
        found += [
            f"{', '.join(keys)}: its repository {url} has no script (it stays empty)"
            for url, keys in sorted(followed.items())
            if url not in scripted
        ]
    return found


def check_changes(objects: list[dict[str, Any]], changes: tuple[Change, ...]) -> None:
    """Each change aims at an object of the files (or one an earlier change left), and a
    patch leaves it valid, as the API server would insist; raises ``InputError``."""
    problems: list[str] = []
    current = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }
    for change in changes:
        namespace = "" if change.kind == "Namespace" else change.namespace
        key = (change.kind, namespace, change.name)
        target = f"{change.kind} {namespace + '/' if namespace else ''}{change.name}"
        if key not in current:
            problems.append(
                f"{change.where}.object: {target} is not defined in the files (or was deleted)"
            )
            continue
        if change.delete:
            del current[key]
            continue
        patched = merge_patch(current[key], change.patch or {})
        if change.kind == "WerfBundle":
            _, found = decode_bundle({**patched, "metadata": {**patched["metadata"], "uid": "x"}})
            if found:
                problems += [
                    f"{change.where}.patch: {target} would be invalid: {p.path}: {p.message}"
                    for p in found
                ]
                continue
        current[key] = patched
    if problems:
        raise InputError(problems)


def _job_rule(path: str, where: str, item: Any, problems: list[str]) -> JobRule | None:
    if not isinstance(item, dict):
        problems.append(f"{path}: {where}: must be a mapping")
        return None
    _unknown(path, where, item, "rule", problems)
    result = item.get("result", "succeeded")
    after = parse_duration(str(item.get("after", "1m")), allow_days=True)
    if result not in ("succeeded", "failed"):
        problems.append(f"{path}: {where}.result: must be succeeded or failed")
        return None
    if after is None:
        problems.append(f"{path}: {where}.after: must be a duration")
        return None
    attempt = item.get("attempt")
    exit_code = item.get("exitCode")
    if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
        problems.append(f"{path}: {where}.exitCode: must be an integer")
        return None
    if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
        problems.append(f"{path}: {where}.attempt: must be an integer, not {attempt!r}")
        return None
    for name in ("bundle", "tag", "kind"):
        if item.get(name) is not None and not isinstance(item[name], (str, int, float)):
            problems.append(f"{path}: {where}.{name}: must be a string")
            return None
    return JobRule(
        result=result,
        after=after,
        bundle=item.get("bundle"),
        tag=str(item["tag"]) if item.get("tag") is not None else None,
        attempt=int(attempt) if attempt is not None else None,
        kind=item.get("kind"),
        exit_code=exit_code,
    )


def _job_rules(path: str, jobs: Any, problems: list[str]) -> tuple[JobRule, list[JobRule]]:
    default = JobRule(result="succeeded", after=timedelta(minutes=1))
    if not isinstance(jobs, dict):
        problems.append(f"{path}: jobs: must be a mapping")
        return default, []
    _unknown(path, "jobs", jobs, "jobs", problems)
    if "default" in jobs:
        default = _job_rule(path, "jobs.default", jobs["default"], problems) or default
    if jobs.get("rules") is not None and not isinstance(jobs["rules"], list):
        problems.append(f"{path}: jobs.rules: must be a list")
        return default, []
    rules = [
        rule
        for index, item in enumerate(jobs.get("rules") or [])
        if (rule := _job_rule(path, f"jobs.rules[{index}]", item, problems)) is not None
    ]
    return default, rules


# --- running --------------------------------------------------------------------------------


@attrs.define
class Result:
    events: list[dict[str, Any]]
    # "namespace/name" -> {"status": ...}, and "deletedAt" for a bundle that was deleted
    # during the run (its status is the last one it had)
    bundles: dict[str, dict[str, Any]]
    # repository -> {"requests": n}, with what the scenario did to it when it did
    # anything: "pushes" and "deletions" ({"time", "tag"}), "outages" ({"from",
    # "until", "status"})
    registry: dict[str, dict[str, Any]]
    repositories: dict[str, str]
    jobs_run: dict[str, int]
    passes: int
    # "<VERB> <resource>[/<subresource>]" -> requests the operator made of the API
    # server, verbs as apiserver_request_total names them (watches not counted)
    api: dict[str, int] = attrs.field(factory=dict)
    run: dict[str, str] = attrs.field(factory=dict)  # {"start", "end"} of virtual time

    def only(self, keys: set[str]) -> Result:
        """The result for the bundles ``keys`` only, and the repositories they follow
        (``api`` stays the whole run's: the operator's requests are not per bundle)."""
        repositories = {k: v for k, v in self.repositories.items() if k in keys}
        followed = set(repositories.values())
        return attrs.evolve(
            self,
            events=[e for e in self.events if e["bundle"] in keys],
            bundles={k: v for k, v in self.bundles.items() if k in keys},
            registry={k: v for k, v in self.registry.items() if k in followed},
            repositories=repositories,
            jobs_run={k: v for k, v in self.jobs_run.items() if k in keys},
        )


def simulate(
    objects: list[dict[str, Any]],
    scenario: Scenario,
    *,
    progress: TextIO | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    keep_events: bool = True,
) -> Result:
    """Run the world from ``scenario.start`` to ``start + until``; deterministic.

    Every timeline event is passed to ``on_event`` as it happens; with ``keep_events``
    false, ``Result.events`` stays empty (a week of a thousand bundles is ~1 GiB of
    events: a caller that only counts them need not hold them).
    """
    clock = ManualClock(scenario.start)
    end = scenario.start + scenario.until
    events: list[dict[str, Any]] = []
    jobs_run: dict[str, int] = {}

    def decide_job(job: dict[str, Any]) -> tuple[Any, timedelta, str, int]:
        annotations = job["metadata"].get("annotations") or {}
        bundle = annotations.get(names.ANNOTATION_BUNDLE, "")
        tag = annotations.get(names.ANNOTATION_TAG, "")
        attempt = int(annotations.get(names.ANNOTATION_ATTEMPT, "1"))
        kind = job["metadata"]["labels"].get(names.LABEL_JOB_KIND, "apply")
        if kind == "apply":
            jobs_run[bundle] = jobs_run.get(bundle, 0) + 1
        rule = next(
            (r for r in scenario.job_rules if r.matches(bundle, tag, attempt, kind)),
            scenario.default_job,
        )
        command = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
        code = (
            rule.exit_code
            if rule.exit_code is not None
            else (0 if rule.result == "succeeded" else 1)
        )
        verdict = {0: "Succeeded", 2: "Plan: changes detected"}.get(code, "Error: release failed")
        return rule.result, rule.after, f"$ {command}\n{verdict}\n", code

    def record(key: str, moment: datetime, timeline: tuple[Entry, ...]) -> None:
        for occurrence in timeline:
            event = {"time": format_time(moment), "bundle": key, "type": occurrence.type} | {
                k: v for k, v in occurrence.fields
            }
            if on_event is not None:
                on_event(event)
            if keep_events:
                events.append(event)

    cluster = MemoryCluster(clock, decide_job)
    registry = ScriptedRegistry(clock)
    for obj in objects:
        if obj["kind"] == "WerfBundle":  # every followed repository exists, maybe empty
            registry.create(obj["spec"]["registry"]["url"].removeprefix("oci://"))
    notifications = []
    for repository, at, event in scenario.registry_events:
        if event == "notify":
            notifications.append(
                Change(at=at, kind="", namespace="", name="", patch=None, notify=repository)
            )
        else:
            registry.schedule(repository, at, event)
    runtime = bootstrap.build(
        bootstrap.Options(), cluster, registry, clock, bootstrap.Listeners(on_timeline=record)
    )
    controller = runtime.controller
    populate(cluster, objects)
    watches = [runtime.watch()]
    deleted: dict[str, tuple[datetime, dict[str, Any]]] = {}

    def note_deletion(kind: str, event: Any) -> None:
        if kind != "WerfBundle":
            return
        metadata = event.object["metadata"]
        key = f"{metadata['namespace']}/{metadata['name']}"
        if event.type == "DELETED":
            deleted[key] = (clock.now(), event.object.get("status") or {})
        else:
            deleted.pop(key, None)  # created again

    watches.append(cluster.watch(note_deletion))
    controller.resync()

    changes = sorted([*scenario.changes, *notifications], key=lambda c: c.at)
    started = time.monotonic()
    last_report = started
    same_instant = (clock.now(), 0)
    while True:
        moments = [m for m in (controller.next_due(), cluster.next_completion()) if m is not None]
        if changes:
            moments.append(changes[0].at)
        if not moments or min(moments) > end:
            break
        moment = max(min(moments), clock.now())
        clock.set(moment)
        while changes and changes[0].at <= moment:
            change = changes.pop(0)
            if change.notify is not None:
                controller.registry_pushed(change.notify)
            else:
                _apply_change(cluster, change)
        cluster.advance(moment)
        passes = controller.run_due(moment)
        count = same_instant[1] + passes if same_instant[0] == moment else passes
        same_instant = (moment, count)
        if count > MAX_PASSES_PER_INSTANT:
            raise RuntimeError(f"hot loop: {count} passes at {format_time(moment)}")
        if progress is not None and time.monotonic() - last_report > 2:
            last_report = time.monotonic()
            done = (moment - scenario.start) / scenario.until
            progress.write(f"simulate: {done:6.1%} of virtual time, {controller.passes} passes\n")
    for watch in watches:
        watch.stop()
    clock.set(max(clock.now(), end))
    repositories = {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["spec"]["registry"][
            "url"
        ].removeprefix("oci://")
        for o in objects
        if o["kind"] == "WerfBundle"
    }
    bundles: dict[str, dict[str, Any]] = {
        key: {"status": status, "deletedAt": format_time(at)}
        for key, (at, status) in deleted.items()
    }
    bundles |= {
        f"{b['metadata']['namespace']}/{b['metadata']['name']}": {"status": b.get("status", {})}
        for b in cluster.list_objects("WerfBundle")
    }
    bundles = {
        key: {"repository": repositories.get(key, "")} | data
        for key, data in sorted(bundles.items())
    }
    requests: dict[str, dict[str, Any]] = {
        url: {"requests": registry.requests(url)} for url in sorted(set(repositories.values()))
    }
    for url, script in _scripts(scenario).items():
        if url in requests:
            requests[url] |= script
    return Result(
        events=events,
        bundles=bundles,
        registry=requests,
        repositories=repositories,
        jobs_run=jobs_run,
        passes=controller.passes,
        api=api_requests(cluster.requests),
        run={"start": format_time(scenario.start), "end": format_time(end)},
    )


# MemoryCluster's verbs -> the verbs of the API server's own metric
_VERBS = {
    "get": "GET",
    "list": "LIST",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}


# Reads the operator serves from its watch caches (werfop.adapters.kubernetes): they
# never reach the API server.
_CACHED = frozenset({("get", "werfbundles"), ("list", "werfbundles"), ("list", "jobs")})


def api_requests(counts: dict[tuple[str, str], int]) -> dict[str, int]:
    """``{"PUT werfbundles/status": 140, ...}`` from the in-memory cluster's counts: the
    requests the operator would send to the API server (not its cached reads)."""
    return {
        f"{_VERBS.get(verb, verb.upper())} {resource}": count
        for (verb, resource), count in sorted(counts.items(), key=lambda i: (i[0][1], i[0][0]))
        if (verb, resource) not in _CACHED
    }


def _scripts(scenario: Scenario) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What the scenario does to each repository within the run, for the reports."""
    end = scenario.start + scenario.until
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for repository, at, event in sorted(scenario.registry_events, key=lambda e: e[1]):
        if at > end:
            continue
        script = found.setdefault(repository, {})
        if isinstance(event, Push):
            push = {"time": format_time(at), "tag": event.tag}
            if event.digest is not None:
                push["digest"] = event.digest
            script.setdefault("pushes", []).append(push)
        elif isinstance(event, Delete):
            script.setdefault("deletions", []).append({"time": format_time(at), "tag": event.tag})
        elif isinstance(event, Outage):
            outage = {"from": format_time(at), "until": format_time(event.until)}
            script.setdefault("outages", []).append(outage | {"status": event.status})
    return found


def _apply_change(cluster: MemoryCluster, change: Change) -> None:
    namespace = "" if change.kind == "Namespace" else change.namespace
    current = cluster.get(change.kind, namespace, change.name)
    if change.delete:
        if current is not None:
            cluster.delete(change.kind, namespace, change.name)
        return
    if current is None:
        return  # deleted by the operator meanwhile (check_changes saw it in the files)
    cluster.patch(change.kind, namespace, change.name, change.patch or {})


# --- output ---------------------------------------------------------------------------------


_FLAT = frozenset((str, int, float, bool, type(None)))
_dumps = json.JSONEncoder().encode  # scalars: the C encoder


class JsonReport:
    """``--output json``, written as the run goes: the timeline events stream out one
    by one and the final statuses follow at the end, so a week of a thousand bundles
    (millions of events) never sits in memory. The bytes are those of
    ``json.dumps({"events": [...], "bundles": ..., "registry": ..., "run": ...},
    indent=2)``."""

    def __init__(self, out: TextIO):
        self.out = out
        self.count = 0
        self.encoder = json.JSONEncoder(indent=2)  # one for the run: dumps() makes one a call
        out.write('{\n  "events": [')

    def event(self, event: dict[str, Any]) -> None:
        if all(type(value) in _FLAT for value in event.values()):
            # What the encoder writes for a flat event, without its per-level generators
            # (a million events' worth of garbage set off a full collection of the
            # simulated world every few seconds).
            items = ",\n      ".join(f"{_dumps(k)}: {_dumps(v)}" for k, v in event.items())
            text = "{\n      " + items + "\n    }"
        else:
            text = self.encoder.encode(event).replace("\n", "\n    ")  # strings escape \n
        self.out.write(("\n    " if self.count == 0 else ",\n    ") + text)
        self.count += 1

    def finish(self, result: Result) -> None:
        self.out.write("\n  ]" if self.count else "]")
        sections = (
            ("bundles", result.bundles),
            ("registry", result.registry),
            ("api", result.api),
            ("run", result.run),
        )
        for key, value in sections:
            self.out.write(f',\n  "{key}": ' + self.encoder.encode(value).replace("\n", "\n  "))
        self.out.write("\n}\n")


def _phases(text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PHASES]
    if unknown or not names:
        raise InputError(
            [
                f"--fail-on: {', '.join(map(repr, unknown)) or repr(text)} is not a phase; "
                f"phases: {', '.join(PHASES)}"
            ]
        )
    return frozenset(names)


def _selected(wanted: list[str] | None, objects: list[dict[str, Any]]) -> set[str] | None:
    if not wanted:
        return None
    keys = {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}"
        for o in objects
        if o["kind"] == "WerfBundle"
    }
    problems = []
    for key in wanted:
        if key not in keys:
            close = difflib.get_close_matches(key, sorted(keys), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"--bundle: no WerfBundle {key!r} in the files{hint}; write NS/NAME")
    if problems:
        raise InputError(problems)
    return set(wanted)


class _Sink:
    """Takes every event of the run: drops those of bundles not asked for, hands the
    rest to the stdout report, and keeps what the HTML report needs (every event but
    the polls that changed nothing)."""

    def __init__(self, report: Any, selected: set[str] | None, keep: bool):
        self.report = report
        self.selected = selected
        self.kept: list[dict[str, Any]] | None = [] if keep else None
        self.polled: dict[str, object] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        if self.selected is not None and event["bundle"] not in self.selected:
            return
        self.report.event(event)
        if self.kept is None:
            return
        if event["type"] == "Polled":
            if self.polled.get(event["bundle"], "-") == event.get("selected"):
                return
            self.polled[event["bundle"]] = event.get("selected")
        self.kept.append(event)


def run_cli(
    paths: list[str],
    scenario_path: str | None,
    until: str | None,
    start: str | None,
    output: str,
    *,
    bundles: list[str] | None = None,
    fail_on: str | None = None,
    html: str | None = None,
) -> int:
    """Exit 0: done; 2: invalid input; 3: a bundle ended in a ``fail_on`` phase (the
    report is complete all the same); 141: the reader went away."""
    from werfop.report_text import TextReport

    try:
        failing = _phases(fail_on)
        if html is not None and not Path(html).parent.is_dir():
            raise InputError([f"--report: the folder of {html!r} does not exist"])
        moment = None
        if start is not None:
            moment = parse_time(start)
            if moment is None:
                raise InputError([f"--start: {start!r} is not an RFC 3339 time"])
        scenario = load_scenario(scenario_path, moment)
        if until is not None:
            parsed = parse_duration(until, allow_days=True)
            if parsed is None:
                raise InputError([f"--until: {until!r} is not a duration such as 24h or 7d"])
            scenario = attrs.evolve(scenario, until=parsed)
        notes: list[str] = []
        objects = check_objects(load_manifests(paths, scenario_path, notes.append))
        check_changes(objects, scenario.changes)
        notes += unmatched_registries(objects, scenario)
        selected = _selected(bundles, objects)
    except InputError as error:
        for problem in error.problems:
            print(f"werfop simulate: {problem}", file=sys.stderr)
        return 2
    for text in notes:  # worth a look, but the run means what it says: exit 0
        print(f"werfop simulate: warning: {text}", file=sys.stderr)
    progress = sys.stderr if sys.stderr.isatty() else None
    keys = sorted(
        f"{o['metadata']['namespace']}/{o['metadata']['name']}"
        for o in objects
        if o["kind"] == "WerfBundle"
        and (
            selected is None
            or "/".join((o["metadata"]["namespace"], o["metadata"]["name"])) in selected
        )
    )
    report: JsonReport | TextReport = (
        JsonReport(sys.stdout)
        if output == "json"
        else TextReport(sys.stdout, keys, some=selected is not None)
    )
    sink = _Sink(report, selected, keep=html is not None)
    try:
        result = simulate(objects, scenario, progress=progress, on_event=sink, keep_events=False)
        if selected is not None:
            result = result.only(selected)
        report.finish(result)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as other filters do, and keep
        # the interpreter's final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a filter killed by it
    if html is not None:
        from werfop.report_html import render_html

        assert sink.kept is not None
        page = render_html(document(result, sink.kept))
        Path(html).write_text(page, encoding="utf-8")
        print(f"werfop simulate: wrote {html} ({len(page.encode()) // 1024} KiB)", file=sys.stderr)
    ended = sorted(
        (key, final_phase(data))
        for key, data in result.bundles.items()
        if final_phase(data) in failing
    )
    for key, phase in ended:
        print(f"werfop simulate: --fail-on: {key} ended {phase}", file=sys.stderr)
    return 3 if ended else 0


def document(result: Result, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report's document, with ``events`` (the JSON report streams its own)."""
    return {
        "events": events,
        "bundles": result.bundles,
        "registry": result.registry,
        "run": result.run,
    }
