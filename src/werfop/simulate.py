"""``werfop simulate``: the operator's own runtime over in-memory adapters and virtual time.

Role: load manifests and a scenario, build the in-memory world (``MemoryCluster``,
``ScriptedRegistry``, ``ManualClock``), run the same ``Controller`` the operator runs,
jumping from one due moment to the next, and report a timeline and final statuses.
Must not: contain decision logic. If the simulator needed logic the operator does not
share, the design would be wrong.
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
from werfop.core import jobspec
from werfop.core.actions import Occurrence
from werfop.core.durations import parse_duration
from werfop.core.model import Bundle
from werfop.runtime.controller import Controller
from werfop.runtime.registry_economy import RegistryEconomy

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT_UNTIL = timedelta(hours=24)
KINDS = ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "WerfBundle")
MAX_PASSES_PER_INSTANT = 10_000
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
                            message="this is a scenario: pass it with --scenario",
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
    bundles: dict[str, dict[str, Any]]
    registry: dict[str, dict[str, int]]
    repositories: dict[str, str]
    jobs_run: dict[str, int]
    passes: int


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
        bundle = annotations.get(jobspec.ANNOTATION_BUNDLE, "")
        tag = annotations.get(jobspec.ANNOTATION_TAG, "")
        attempt = int(annotations.get(jobspec.ANNOTATION_ATTEMPT, "1"))
        kind = job["metadata"]["labels"].get(jobspec.LABEL_JOB_KIND, "apply")
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

    def record(key: str, moment: datetime, timeline: tuple[Occurrence, ...]) -> None:
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
    economy = RegistryEconomy(registry, clock)
    controller = Controller(cluster, economy, clock, on_timeline=record)
    populate(cluster, objects)
    cluster.listeners.append(controller.on_event)
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
    clock.set(max(clock.now(), end))
    bundles = {
        f"{b['metadata']['namespace']}/{b['metadata']['name']}": {"status": b.get("status", {})}
        for b in cluster.list_objects("WerfBundle")
    }
    repositories = {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["spec"]["registry"][
            "url"
        ].removeprefix("oci://")
        for o in objects
        if o["kind"] == "WerfBundle"
    }
    requests = {
        url: {"requests": registry.requests(url)} for url in sorted(set(repositories.values()))
    }
    return Result(
        events=events,
        bundles=bundles,
        registry=requests,
        repositories=repositories,
        jobs_run=jobs_run,
        passes=controller.passes,
    )


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
    ``json.dumps({"events": [...], "bundles": ..., "registry": ...}, indent=2)``."""

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
        for key, value in (("bundles", result.bundles), ("registry", result.registry)):
            self.out.write(f',\n  "{key}": ' + self.encoder.encode(value).replace("\n", "\n  "))
        self.out.write("\n}\n")


def _short(key: str, value: object) -> object:
    if key == "digest" and isinstance(value, str) and len(value) > 19:
        return value[:19]  # sha256: and 12 hex digits, as docker prints them
    return value


class TextReport:
    """``--output text``, written as the run goes: a readable timeline and, at the end,
    a summary table. A ``Polled`` line is shown only when the selection changes (the
    JSON output keeps every poll)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.selected: dict[str, object] = {}
        self.quiet = 0

    def event(self, event: dict[str, Any]) -> None:
        if event["type"] == "Polled":
            if self.selected.get(event["bundle"], "-") == event.get("selected"):
                self.quiet += 1
                return
            self.selected[event["bundle"]] = event.get("selected")
        details = " ".join(
            f"{k}={_short(k, v)}"
            for k, v in event.items()
            if k not in ("time", "bundle", "type") and v is not None
        )
        line = f"{event['time']}  {event['bundle']:<24} {event['type']:<14} {details}"
        self.out.write(line.rstrip() + "\n")

    def finish(self, result: Result) -> None:
        lines = [
            f"({self.quiet} polls that changed nothing are not shown; --output json lists them)",
            "",
            f"{'BUNDLE':<28} {'PHASE':<10} {'APPLIED':<12} {'JOBS':>4} {'REGISTRY REQUESTS':>18}",
        ]
        for key, data in sorted(result.bundles.items()):
            status = data["status"]
            url = result.repositories.get(key)
            requests = result.registry.get(url, {}).get("requests", 0) if url else 0
            lines.append(
                f"{key:<28} {status.get('phase', '-'):<10} "
                f"{status.get('lastAppliedTag') or '-':<12} "
                f"{result.jobs_run.get(key, 0):>4} {requests:>18}"
            )
        self.out.write("\n".join(lines) + "\n")


def run_cli(
    paths: list[str], scenario_path: str | None, until: str | None, start: str | None, output: str
) -> int:
    try:
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
    except InputError as error:
        for problem in error.problems:
            print(f"werfop simulate: {problem}", file=sys.stderr)
        return 2
    for text in notes:  # worth a look, but the run means what it says: exit 0
        print(f"werfop simulate: warning: {text}", file=sys.stderr)
    progress = sys.stderr if sys.stderr.isatty() else None
    report = (JsonReport if output == "json" else TextReport)(sys.stdout)
    try:
        result = simulate(
            objects, scenario, progress=progress, on_event=report.event, keep_events=False
        )
        report.finish(result)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as other filters do, and keep
        # the interpreter's final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a filter killed by it
    return 0
