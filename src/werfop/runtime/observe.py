"""Gather what one pass needs: the bundle, its Jobs, its inputs, and a registry snapshot.

Role: the read half of a pass. It reads through the ports only (the cluster, and the
registry economy layer), decodes with ``werfop.api``, and asks the core which tag needs
a digest, so only that tag is resolved. Secret contents are wrapped in ``Sensitive``
the moment they are read.
Must not: write anything, or decide (it calls the core's pure helpers for that).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs
import yaml

from werfop.api.codec import decode_job, parse_time
from werfop.api.credentials import credentials_from_secret, docker_config_json
from werfop.api.values import load_values
from werfop.core import jobspec, names
from werfop.core.jobs import jobs_needing_logs
from werfop.core.model import (
    Bundle,
    BundleSpec,
    BundleStatus,
    FieldProblem,
    Inputs,
    JobObservation,
    LogMap,
    Meta,
    PollDeferred,
    PollRecord,
    RegistrySnapshot,
    RegistryUnavailable,
    Sensitive,
    TagList,
    ValuesFile,
)
from werfop.core.polling import is_poll_due, next_scheduled_poll
from werfop.core.ports import Clock, ClusterPort, Credentials, Repository, TagListing
from werfop.core.validation import policy_for
from werfop.core.values import merge_all, values_hash
from werfop.core.versions import select
from werfop.runtime.decoded import Decoded
from werfop.runtime.pacer import PollPacer
from werfop.runtime.registry_economy import SharedRegistry

LOG_TAIL_LINES = 500
# While a repository's tag list is unchanged, the digest of the selected (immutable,
# version-named) tag is re-checked at most this often; a mutable tag (spec.registry.tag)
# is checked at every poll, and a notification or a requested poll checks at once.
DIGEST_RECHECK = timedelta(hours=1)
# A bundle's log ConfigMaps are listed at most this often (and after this process saved
# or deleted one): they only matter for their expiry, days away (logRetentionDays).
LOG_RESCAN = timedelta(hours=1)


@attrs.frozen(kw_only=True)
class Observation:
    bundle: Bundle | None
    problems: tuple[FieldProblem, ...] = ()
    snapshot: RegistrySnapshot | None = None
    # Set when this pass saw the repository change (new tags or a new digest): the
    # controller then wakes every bundle that follows it, so they all see the change
    # within one poll interval while only one of them asked the registry.
    changed: tuple[str, str, bool] | None = None


class Observer:
    def __init__(
        self,
        cluster: ClusterPort,
        registry: SharedRegistry,
        clock: Clock,
        *,
        allow_cross_namespace: bool = True,
        pacer: PollPacer | None = None,
    ):
        self.cluster = cluster
        self.registry = registry
        self.clock = clock
        self.allow_cross_namespace = allow_cross_namespace
        self.pacer = pacer
        # (namespace, kind, name) of a ConfigMap or Secret -> the bundles that read it
        self.referrers: dict[tuple[str, str, str], set[str]] = {}
        # bundle key -> the (namespace, kind, name) places it is a referrer of
        self._refers: dict[str, set[tuple[str, str, str]]] = {}
        self._shared: dict[tuple[Any, ...], tuple[TagListing, TagList]] = {}
        self._digests: dict[tuple[Any, ...], str] = {}
        self._changed_at: dict[tuple[Any, ...], datetime] = {}
        # bundle key -> when its metadata last changed (spec, annotations), per the watch
        self.changed_meta: dict[str, datetime] = {}
        self.followers: dict[tuple[str, str, bool], set[str]] = {}
        # bundle key -> the one repository cache key it follows (its set in followers)
        self._following: dict[str, tuple[str, str, bool]] = {}
        # bundle key -> (uid, when, its log ConfigMaps) as last listed (``_log_maps``)
        self._log_scans: dict[str, tuple[str, datetime, tuple[LogMap, ...]]] = {}
        # bundle key -> the values its last pass parsed and hashed (see ``_values``)
        self._values_memo: dict[str, _ValuesMemo] = {}
        # bundles and their Jobs as last decoded, by (uid, resourceVersion)
        self.decoded = Decoded()
        # bundle key -> its poll record after its last pass: quiet polls are not
        # written to the status, so this is newer than the status's own poll fields
        self._polls: dict[str, _KeptPolls] = {}

    def observe(self, key: str, raw: dict[str, Any], now: datetime) -> Observation:
        """What a pass over the bundle stored at ``key`` (``raw``) needs."""
        bundle, problems = self.decoded.bundle(key, raw)
        if bundle is None:
            return Observation(bundle=None, problems=problems)
        kept = self._polls.get(bundle.meta.key)
        status = bundle.status
        if kept is not None and kept.uid == bundle.meta.uid:
            status = kept.onto(status)  # the poll record is newer than the status's
        jobs = self._jobs(bundle)
        spec = bundle.spec
        if spec is None or bundle.meta.deletion_timestamp is not None:
            bundle = attrs.evolve(bundle, status=status, jobs=jobs)
            return Observation(bundle=bundle, problems=problems)
        self.forget_inputs(bundle.meta.key)
        inputs, credentials = self._inputs(bundle.meta, spec)
        bundle = attrs.evolve(  # one new bundle for all that was read (a pass's hot path)
            bundle,
            status=status,
            inputs=inputs,
            log_maps=self._log_maps(bundle.meta, now),
            jobs=self._with_logs(status, jobs),
        )
        registry_blocked = any(p.path.startswith("spec.registry.") for p in inputs.problems)
        if registry_blocked:
            return Observation(bundle=bundle)
        repository = Repository(
            url=spec.registry.url,
            insecure=spec.registry.insecure,
            ca_cert=inputs.ca_cert,
            credentials=credentials,
        )
        self._follow(bundle.meta.key, repository.cache_key)
        news = self._has_news(bundle, repository)
        if not (news or is_poll_due(bundle, now)):
            return Observation(bundle=bundle)
        if self.pacer is not None and not news and not _asked_to_poll(bundle):
            slot = self.pacer.admit(bundle.meta.key, now, spec.registry.poll_interval)
            if slot is not None:
                return Observation(bundle=bundle, snapshot=PollDeferred(until=slot))
        snapshot, changed = self._snapshot(bundle, spec, repository, now)
        return Observation(bundle=bundle, snapshot=snapshot, changed=changed)

    def _book(self, bundle: Bundle, spec: BundleSpec, now: datetime) -> datetime | None:
        """Book the next scheduled poll's slot after a successful one, so that it is not
        deferred when it comes; the pass records the slot as the next poll time."""
        if self.pacer is None:
            return None
        due = next_scheduled_poll(bundle, spec, now)
        return self.pacer.book(bundle.meta.key, due, spec.registry.poll_interval, now)

    def polled(self, key: str, uid: str, record: PollRecord) -> None:
        """A pass's plan was carried out: keep its poll record for the next pass (the
        status holds it only as of its last write)."""
        kept = self._polls.get(key)
        if kept is None or kept.uid != uid or kept.record != record:
            self._polls[key] = _KeptPolls(uid=uid, record=record)

    def _follow(self, key: str, cache_key: tuple[str, str, bool]) -> None:
        previous = self._following.get(key)
        if previous is not None and previous != cache_key:
            self.followers.get(previous, set()).discard(key)
        self._following[key] = cache_key
        self.followers.setdefault(cache_key, set()).add(key)

    def forget(self, key: str) -> None:
        """The bundle is gone: stop waking it for its repository's or inputs' changes."""
        for keys in (*self.followers.values(), *self.referrers.values()):
            keys.discard(key)
        self._refers.pop(key, None)
        self.changed_meta.pop(key, None)
        self._following.pop(key, None)
        self._values_memo.pop(key, None)
        self.decoded.forget(key)
        self._polls.pop(key, None)
        self._log_scans.pop(key, None)
        if self.pacer is not None:
            self.pacer.forget(key)

    def hint(self, repository_url: str, now: datetime) -> set[str]:
        """A registry said it changed: the bundles following it poll now, and the first
        of them asks the registry (the hint is never trusted as data)."""
        self.registry.invalidate(repository_url)
        woken: set[str] = set()
        for cache_key, keys in self.followers.items():
            if cache_key[0] == repository_url:
                self._changed_at[cache_key] = now
                woken |= keys
        return woken

    def _refer(self, key: str, namespace: str, kind: str, name: str) -> None:
        place = (namespace, kind, name)
        self.referrers.setdefault(place, set()).add(key)
        self._refers.setdefault(key, set()).add(place)

    def forget_inputs(self, key: str) -> None:
        # Only the places this bundle refers to (every pass calls this: walking every
        # referenced object of every bundle made a pass O(bundles)).
        for place in self._refers.pop(key, ()):
            keys = self.referrers.get(place)
            if keys is not None:
                keys.discard(key)

    def _has_news(self, bundle: Bundle, repository: Repository) -> bool:
        """Another bundle saw this repository change after our last poll: take the
        shared answer now (it costs no request) instead of waiting for our turn."""
        spec = bundle.spec
        if spec is None or spec.suspend or bundle.status.last_poll_time is None:
            return False
        changed = self._changed_at.get(repository.cache_key)
        return changed is not None and changed > bundle.status.last_poll_time

    # -- Jobs ----------------------------------------------------------------------------

    def _jobs(self, bundle: Bundle) -> tuple[JobObservation, ...]:
        selector = f"{names.LABEL_BUNDLE_UID}={jobspec.label_value(bundle.meta.uid)}"
        listed = self.decoded.jobs(bundle.meta.key, self.cluster.list_jobs(selector))
        status = bundle.status
        active = (status.active_job_namespace or "", status.active_job_name or "")
        if status.active_job_name and active not in listed.places:
            # A cache may lag behind our own create: ask the API before calling it lost.
            raw_job = self.cluster.get_job(*active)
            job = decode_job(raw_job) if raw_job is not None else None
            if job is not None:
                jobs = {(j.namespace, j.name): j for j in listed.jobs}
                jobs[active] = job
                return tuple(sorted(jobs.values(), key=lambda j: (j.namespace, j.name)))
        return listed.jobs

    def _with_logs(
        self, status: BundleStatus, jobs: tuple[JobObservation, ...]
    ) -> tuple[JobObservation, ...]:
        needing = {j.name for j in jobs_needing_logs(status, jobs)}
        if not needing:
            return jobs
        out = []
        for job in jobs:
            if job.name in needing:
                text = self.cluster.read_job_log(job.namespace, job.name, LOG_TAIL_LINES)
                job = attrs.evolve(job, log_tail=text)
                if job.kind == "plan":
                    code = self.cluster.read_job_exit_code(job.namespace, job.name)
                    job = attrs.evolve(job, exit_code=code)
            out.append(job)
        return tuple(out)

    def logs_changed(self, key: str) -> None:
        """A pass is about to save or delete a log ConfigMap: list them again next time."""
        self._log_scans.pop(key, None)

    def _log_maps(self, meta: Meta, now: datetime) -> tuple[LogMap, ...]:
        """The bundle's log ConfigMaps, listed at most every ``LOG_RESCAN`` (one LIST
        per poll otherwise, for objects that change once per deploy at most). What
        this process writes or deletes invalidates the scan (``logs_changed``); a map
        someone else deletes is deleted again harmlessly (NotFound is success)."""
        scan = self._log_scans.get(meta.key)
        if scan is not None and scan[0] == meta.uid and timedelta(0) <= now - scan[1] < LOG_RESCAN:
            return scan[2]
        maps = self._list_log_maps(meta)
        self._log_scans[meta.key] = (meta.uid, now, maps)
        return maps

    def _list_log_maps(self, meta: Meta) -> tuple[LogMap, ...]:
        selector = (
            f"{names.LABEL_BUNDLE_UID}={jobspec.label_value(meta.uid)},{names.LABEL_JOB_KIND}=logs"
        )
        maps = []
        for raw in self.cluster.list_config_maps(meta.namespace, selector):
            metadata = raw.get("metadata", {})
            finished = parse_time(
                (metadata.get("annotations") or {}).get(names.ANNOTATION_FINISHED_AT)
            )
            finished = finished or parse_time(metadata.get("creationTimestamp"))
            if finished is not None:
                maps.append(
                    LogMap(namespace=meta.namespace, name=metadata["name"], finished_at=finished)
                )
        return tuple(sorted(maps, key=lambda m: m.name))

    # -- inputs --------------------------------------------------------------------------

    def inputs(self, meta: Meta, spec: BundleSpec) -> Inputs:
        """The bundle's inputs as a pass reads them (values, registry credentials as
        werf's config.json, CA, secret key, problems): ``werfop render`` uses this."""
        return self._inputs(meta, spec)[0]

    def _inputs(self, meta: Meta, spec: BundleSpec) -> tuple[Inputs, Credentials | None]:
        problems: list[FieldProblem] = []
        secrets: list[Sensitive] = []
        previous = self._values_memo.get(meta.key)
        files, documents, memo = self._values(meta, spec, problems, secrets, previous)
        # The hash depends on the uid and the documents only, and each document on its
        # text: the same texts give the same hash without merging and hashing again.
        if previous is not None and previous.hash_key == memo.hash_key:
            memo.digest = previous.digest
        else:
            memo.digest = values_hash(merge_all(documents), meta.uid)
        self._values_memo[meta.key] = memo
        digest = memo.digest
        credentials, docker_config = self._credentials(meta, spec, problems, secrets)
        ca = self._ca(meta, spec, problems)
        secret_key = self._secret_key(meta, spec, problems, secrets)
        self._service_account(meta, spec, problems)
        inputs = Inputs(
            values_files=tuple(files),
            values_hash=digest,
            docker_config=docker_config,
            ca_cert=ca,
            secret_key=secret_key,
            problems=tuple(problems),
            secret_values=tuple(secrets),
        )
        return inputs, credentials

    def _values(
        self,
        meta: Meta,
        spec: BundleSpec,
        problems: list[FieldProblem],
        secrets: list[Sensitive],
        memo: _ValuesMemo | None,
    ) -> tuple[list[ValuesFile], list[dict[str, Any]], _ValuesMemo]:
        """The values files and their parsed documents in merge order, and what to
        keep for the next pass (its ``digest`` still unset).

        A document is parsed once per text: the bundle's last pass's parses (``memo``)
        are reused for the same text, source and path. Nothing changes a document
        afterwards: merging and hashing only read them.
        """
        files: list[ValuesFile] = []
        documents: list[dict[str, Any]] = []
        sources: list[str] = []
        known = memo.parsed if memo is not None else {}
        parsed: dict[tuple[str, str, str], dict[str, Any] | FieldProblem] = {}
        for index, source in enumerate(spec.converge.values_from):
            ref = "configMapRef" if source.kind == "ConfigMap" else "secretRef"
            path = f"spec.converge.valuesFrom[{index}].{ref}.name"
            where = f"{source.kind} {meta.namespace}/{source.name}"
            self._refer(meta.key, meta.namespace, source.kind, source.name)
            if source.kind == "ConfigMap":
                obj = self.cluster.get_config_map(meta.namespace, source.name)
                data = (obj or {}).get("data") or {}
            else:
                obj = self.cluster.get_secret(meta.namespace, source.name)
                data = _secret_data(obj)
            if obj is None or source.key not in data:
                if not source.optional:
                    what = "not found" if obj is None else f"has no key {source.key!r}"
                    problems.append(FieldProblem(path=path, message=f"{where} {what}"))
                continue
            text = data[source.key]
            if text is None:
                problems.append(
                    FieldProblem(path=path, message=f"{where} key {source.key!r} is not UTF-8")
                )
                continue
            parse = (text, path, f"{where} key {source.key!r}")
            document = known[parse] if parse in known else load_values(*parse)
            parsed[parse] = document
            if isinstance(document, FieldProblem):
                problems.append(document)
                continue
            if source.kind == "Secret":
                secrets.extend(Sensitive(s) for s in _leaves(document))
            documents.append(document)
            sources.append(text)
            files.append(ValuesFile(name=jobspec.values_file_name(index), content=Sensitive(text)))
        values_json = spec.converge.values_json
        if memo is not None and memo.inline[0] == values_json:
            inlined = memo.inline
        else:
            inline = json.loads(values_json)
            text = yaml.safe_dump(inline, sort_keys=True) if inline else None
            inlined = (
                values_json,
                inline,
                None
                if text is None
                else ValuesFile(name=jobspec.INLINE_VALUES_FILE, content=Sensitive(text)),
            )
        _, inline, inline_file = inlined
        if inline_file is not None:
            documents.append(inline)
            files.append(inline_file)
        kept = _ValuesMemo(
            parsed=parsed,
            inline=inlined,
            hash_key=(meta.uid, tuple(sources), values_json),
        )
        return files, documents, kept

    def _credentials(
        self,
        meta: Meta,
        spec: BundleSpec,
        problems: list[FieldProblem],
        secrets: list[Sensitive],
    ) -> tuple[Credentials | None, Sensitive | None]:
        name = spec.registry.secret_name
        if not name:
            return None, None
        path = "spec.registry.secretRef.name"
        self._refer(meta.key, meta.namespace, "Secret", name)
        secret = self.cluster.get_secret(meta.namespace, name)
        if secret is None:
            problems.append(
                FieldProblem(path=path, message=f"Secret {meta.namespace}/{name} not found")
            )
            return None, None
        found = credentials_from_secret(secret, spec.registry.host, path=path)
        if isinstance(found, FieldProblem):
            problems.append(found)
            return None, None
        for value in (found.password, found.identity_token):
            if value is not None:
                secrets.append(value)
        return found, docker_config_json(found, spec.registry.host)

    def _ca(self, meta: Meta, spec: BundleSpec, problems: list[FieldProblem]) -> Sensitive | None:
        """The registry's CA from ``spec.registry.caSecretRef`` (key ``ca.crt``)."""
        name = spec.registry.ca_secret_name
        if not name:
            return None
        text = self._secret_text(meta, name, "ca.crt", "spec.registry.caSecretRef.name", problems)
        return Sensitive(text) if text is not None else None

    def _secret_key(
        self,
        meta: Meta,
        spec: BundleSpec,
        problems: list[FieldProblem],
        secrets: list[Sensitive],
    ) -> Sensitive | None:
        """werf's secret key from ``spec.converge.secretKeySecretRef``, kept for log
        redaction, never quoted in a problem."""
        ref = spec.converge.secret_key
        if ref is None:
            return None
        path = "spec.converge.secretKeySecretRef.name"
        text = self._secret_text(meta, ref.name, ref.key, path, problems)
        if text is None:
            return None
        key = Sensitive(text.strip())
        secrets.append(key)
        return key

    def _secret_text(
        self, meta: Meta, name: str, key: str, path: str, problems: list[FieldProblem]
    ) -> str | None:
        """Key ``key`` of Secret ``name`` in the bundle's namespace, read as every input
        Secret is: the bundle becomes a referrer (so a labelled Secret's change wakes
        it), and a missing Secret or key, or a value that is not UTF-8 or is blank, is a
        problem at ``path`` naming the object (never its content)."""
        self._refer(meta.key, meta.namespace, "Secret", name)
        secret = self.cluster.get_secret(meta.namespace, name)
        data = _secret_data(secret)
        text = data.get(key)
        if secret is not None and text is not None and text.strip():
            return text
        if secret is None:
            what = "not found"
        elif key not in data:
            what = f"has no key {key!r}"
        else:
            what = f"key {key!r} is " + ("not UTF-8" if text is None else "empty")
        problems.append(FieldProblem(path=path, message=f"Secret {meta.namespace}/{name} {what}"))
        return None

    def _service_account(self, meta: Meta, spec: BundleSpec, problems: list[FieldProblem]) -> None:
        target = jobspec.target_namespace(meta, spec)
        if target != meta.namespace:
            problem = self._tenancy(meta, target)
            if problem is not None:
                problems.append(FieldProblem(path="spec.converge.targetNamespace", message=problem))
                return
        name = spec.converge.service_account_name
        if name and self.cluster.get_service_account(target, name) is None:
            problems.append(
                FieldProblem(
                    path="spec.converge.serviceAccountName",
                    message=f"ServiceAccount {name!r} not found in namespace {target!r}",
                )
            )

    def _tenancy(self, meta: Meta, target: str) -> str | None:
        """Why ``meta.namespace`` may not deploy into ``target``; None when it may.

        A namespace opts in with the annotation ``werf.io/accept-bundles-from``: a
        comma-separated list of source namespaces, or ``*``; ``--no-cross-namespace``
        forbids cross-namespace deployment outright.
        """
        if not self.allow_cross_namespace:
            return (
                f"deploying from {meta.namespace!r} into {target!r} is disabled on this "
                "operator (--no-cross-namespace)"
            )
        namespace = self.cluster.get_namespace(target)
        if namespace is None:
            return f"namespace {target!r} does not exist"
        annotations = (namespace.get("metadata") or {}).get("annotations") or {}
        accepted = {
            s.strip() for s in str(annotations.get(names.ACCEPT_BUNDLES_FROM, "")).split(",")
        }
        if "*" in accepted or meta.namespace in accepted:
            return None
        return (
            f"namespace {target!r} does not accept bundles from {meta.namespace!r}: an admin "
            f"must annotate it {names.ACCEPT_BUNDLES_FROM}={meta.namespace} (or *)"
        )

    # -- registry ------------------------------------------------------------------------

    def _snapshot(
        self, bundle: Bundle, spec: BundleSpec, repository: Repository, now: datetime
    ) -> tuple[RegistrySnapshot, tuple[str, str, bool] | None]:
        # A shared answer is good enough when it was fetched after our own last poll:
        # we then see everything we would have seen by asking ourselves. A first poll
        # takes anything fresher than a tenth of the interval (a thousand new bundles
        # do not mean a thousand requests).
        # (The 10% margin: our own previous answer is dated when its request left, a
        # little after our last poll time, and must not count as fresh.)
        last = bundle.status.last_poll_time
        max_age = (now - last) * 0.9 if last is not None else spec.registry.poll_interval / 10
        asked = _asked_to_poll(bundle)
        if asked:
            # A user asked for news: only an answer fetched after the request arrived
            # will do. Requests that arrived together (1,000 bundles annotated at once)
            # still share one fetch per repository.
            arrived = self.changed_meta.get(bundle.meta.key, now)
            max_age = min(max_age, now - arrived)
        key = repository.cache_key
        listing = self.registry.list_tags(repository, max_age=max_age)
        if isinstance(listing, RegistryUnavailable):
            return listing, None
        changed = False
        shared = self._shared.get(key)
        # One TagList per distinct tag list, shared by its bundles: the core memoises
        # parsing and selection on it.
        if shared is None or shared[0].tags != listing.tags:
            tag_list = TagList(
                repository=repository.url, tags=listing.tags, etag=listing.etag, at=now
            )
            self._shared[key] = (listing, tag_list)
            changed = shared is not None
        else:
            tag_list = shared[1]
        digest_age = max_age
        if shared is not None and not changed and spec.registry.tag is None and not asked:
            # The list is the one we already resolved against: a version-named tag is
            # not expected to move, so its known digest stands for up to an hour (half
            # of all registry requests otherwise; docs/benchmarks.md, P2).
            digest_age = max(max_age, DIGEST_RECHECK)
        selection = select(tag_list, policy_for(spec, bundle.status.last_applied_tag))
        wanted = [t for t in (selection.selected,) if t is not None]
        digests = []
        for tag in wanted:
            answer = self.registry.resolve_digest(repository, tag, max_age=digest_age)
            if isinstance(answer, RegistryUnavailable):
                return answer, None
            known = self._digests.get((key, tag))
            if known is not None and known != answer.digest:
                changed = True  # a re-pushed tag
            self._digests[(key, tag)] = answer.digest
            digests.append((tag, answer.digest))
        if changed:
            self._changed_at[key] = now
        snapshot = attrs.evolve(
            tag_list, digests=tuple(digests), next_poll=self._book(bundle, spec, now)
        )
        return snapshot, key if changed else None


@attrs.define(kw_only=True, eq=False)
class _KeptPolls:
    """A bundle's poll record, and the last status it was laid onto with the result:
    the status read back is the same object pass after pass while the bundle's
    resourceVersion stands (``runtime.decoded``), and laying the record onto it again
    would build an equal status."""

    uid: str
    record: PollRecord
    base: BundleStatus | None = None
    result: BundleStatus | None = None

    def onto(self, status: BundleStatus) -> BundleStatus:
        if status is not self.base or self.result is None:
            self.base, self.result = status, self.record.onto(status)
        return self.result


@attrs.define(kw_only=True, eq=False)
class _ValuesMemo:
    """What a bundle's last pass parsed and hashed: each values document by (text,
    path, source), the inline values (spec JSON, document, file) and the values hash
    by (uid, source texts, inline JSON). Holds Secret values: never shown in a repr."""

    parsed: dict[tuple[str, str, str], dict[str, Any] | FieldProblem] = attrs.field(repr=False)
    inline: tuple[str, dict[str, Any], ValuesFile | None] = attrs.field(repr=False)
    hash_key: tuple[str, tuple[str, ...], str] = attrs.field(repr=False)
    digest: str = attrs.field(default="", repr=False)


def _asked_to_poll(bundle: Bundle) -> bool:
    """A new generation or a new ``werf.io/reconcile-at`` value: poll the registry itself."""
    status = bundle.status
    if status.observed_generation and bundle.meta.generation != status.observed_generation:
        return True
    requested = bundle.meta.annotation(names.RECONCILE_AT)
    return requested is not None and requested != status.last_handled_reconcile_at


def _secret_data(secret: dict[str, Any] | None) -> dict[str, str | None]:
    """A Secret's data decoded to text (None for a value that is not UTF-8 base64)."""
    out: dict[str, str | None] = {}
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
            out[key] = None
    for key, value in ((secret or {}).get("stringData") or {}).items():
        out[key] = str(value)
    return out


def _leaves(document: Any) -> Iterator[str]:
    """String leaves of a values document, for redaction of captured logs."""
    if isinstance(document, dict):
        for value in document.values():
            yield from _leaves(value)
    elif isinstance(document, list):
        for value in document:
            yield from _leaves(value)
    elif isinstance(document, str | int | float) and not isinstance(document, bool):
        text = str(document)
        if len(text) >= 4:
            yield text
