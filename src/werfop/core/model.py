"""The core's vocabulary: frozen inputs (spec, metadata, observations) and the status.

Role: plain immutable values that cross the boundary between the core and the rest.
Must not: hold raw Kubernetes dicts (``werfop.api.codec`` translates), clients, or
anything mutable (save ``TagList``'s private selection memo, a cache out of equality).
Neighbours: ``versions`` and ``reconcile`` read these; ``api.codec`` builds them from
JSON and turns ``BundleStatus`` back into JSON.

Times are tz-aware ``datetime``; durations are ``timedelta``. Mappings are stored as
sorted tuples of pairs so every value here is hashable and compares by content.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

Phase = Literal["Pending", "Syncing", "Synced", "Failed", "Suspended"]
JobState = Literal["Active", "Succeeded", "Failed"]
JobResult = Literal["Running", "Succeeded", "Failed", "Lost"]
JobKind = Literal["apply", "plan", "uninstall"]


Pairs = tuple[tuple[str, str], ...]


def pairs(mapping: dict[str, str] | None) -> Pairs:
    """A mapping as sorted pairs (the storage form of labels and annotations)."""
    return tuple(sorted((mapping or {}).items()))


@attrs.frozen
class Sensitive:
    """A secret string. Its repr never shows the value, so it cannot leak through logs."""

    value: str = attrs.field(repr=False)

    def __repr__(self) -> str:
        return "Sensitive(<redacted>)"

    __str__ = __repr__


# --- spec -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TagFilter:
    include: str | None = None
    exclude: str | None = None


@attrs.frozen(kw_only=True)
class RegistrySpec:
    url: str
    poll_interval: timedelta = timedelta(minutes=15)
    secret_name: str | None = None
    insecure: bool = False
    ca_secret_name: str | None = None
    version_constraint: str | None = None
    tag: str | None = None
    tag_filter: TagFilter = TagFilter()
    allow_downgrade: bool = False
    min_age: timedelta = timedelta(0)

    @property
    def host(self) -> str:
        """The registry host (with port), the first path element of ``url``."""
        return self.url.split("/", 1)[0]


@attrs.frozen(kw_only=True)
class Resources:
    cpu: str
    memory: str


@attrs.frozen(kw_only=True)
class ValuesSource:
    kind: Literal["ConfigMap", "Secret"]
    name: str
    key: str = "values.yaml"
    optional: bool = False


@attrs.frozen(kw_only=True)
class SecretKeyRef:
    """``spec.converge.secretKeySecretRef``: werf's secret key in a Secret of the bundle's
    namespace."""

    name: str
    key: str = "secret-key"


@attrs.frozen(kw_only=True)
class DriftSpec:
    enabled: bool = False
    interval: timedelta = timedelta(minutes=15)
    mode: Literal["Report", "Correct"] = "Report"
    max_retries: int = 3


@attrs.frozen(kw_only=True)
class ConvergeSpec:
    service_account_name: str | None = None
    target_namespace: str | None = None
    release_name: str | None = None
    limits: Resources = Resources(cpu="1", memory="1Gi")
    requests: Resources | None = None
    values_json: str = "{}"
    values_from: tuple[ValuesSource, ...] = ()
    secret_key: SecretKeyRef | None = None
    timeout: timedelta = timedelta(minutes=15)
    image: str = "registry.werf.io/werf/werf:2-stable"
    log_retention_days: int = 7
    max_attempts: int = 3
    redeploy_on_values_change: bool = True
    deletion_policy: Literal["Retain", "Uninstall"] = "Retain"
    remediation: Literal["None", "Rollback"] = "None"
    drift: DriftSpec = DriftSpec()

    @property
    def effective_requests(self) -> Resources:
        return self.requests if self.requests is not None else self.limits


@attrs.frozen(kw_only=True)
class BundleSpec:
    registry: RegistrySpec
    converge: ConvergeSpec = ConvergeSpec()
    suspend: bool = False


@attrs.frozen(kw_only=True)
class Meta:
    namespace: str
    name: str
    uid: str
    generation: int = 1
    resource_version: str = ""
    labels: Pairs = ()
    annotations: Pairs = ()
    finalizers: tuple[str, ...] = ()
    deletion_timestamp: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def annotation(self, name: str) -> str | None:
        for key, value in self.annotations:
            if key == name:
                return value
        return None


# --- status ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Condition:
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str
    last_transition_time: datetime
    observed_generation: int


@attrs.frozen(kw_only=True)
class HistoryEntry:
    tag: str
    digest: str
    values_hash: str
    job_name: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None = None
    result: JobResult = "Running"


@attrs.frozen(kw_only=True)
class Rejection:
    tag: str
    reason: str


@attrs.frozen(kw_only=True)
class SelectionStatus:
    selected: str | None
    considered: int
    rejected: tuple[Rejection, ...] = ()


def find_condition(conditions: tuple[Condition, ...], type_: str) -> Condition | None:
    """The condition of type ``type_`` among ``conditions``, if any."""
    for condition in conditions:
        if condition.type == type_:
            return condition
    return None


@attrs.frozen(kw_only=True)
class Soak:
    """A candidate waiting out ``minAge``: first seen at ``since`` with this digest."""

    tag: str
    digest: str
    since: datetime


# Not slotted: ``replace`` copies the fields as one ``__dict__`` update. A pass builds
# two or three statuses; ``attrs.evolve`` took 6 us for each (35 fields, 35 keyword
# arguments: a fifth of a pass that starts a Job), ``replace`` takes 1.4 us. The price is
# 1.3 KB more per status, which figure 5 measures: +1.2 MiB at 1,000 bundles.
@attrs.frozen(kw_only=True, slots=False)
class BundleStatus:
    phase: Phase = "Pending"
    conditions: tuple[Condition, ...] = ()
    observed_generation: int = 0
    last_applied_tag: str | None = None
    last_applied_digest: str | None = None
    last_applied_values_hash: str | None = None
    last_sync_time: datetime | None = None
    desired_tag: str | None = None
    desired_digest: str | None = None
    soak: Soak | None = None
    last_poll_time: datetime | None = None
    next_poll_time: datetime | None = None
    poll_count: int = 0
    last_etag: str | None = None
    consecutive_failures: int = 0
    last_error_message: str | None = None
    last_error_time: datetime | None = None
    active_job_name: str | None = None
    active_job_namespace: str | None = None
    last_job_status: Literal["Running", "Succeeded", "Failed"] | None = None
    last_job_logs: str | None = None
    attempts: int = 0
    resolved_target_namespace: str | None = None
    version_history: tuple[HistoryEntry, ...] = ()
    selection: SelectionStatus | None = None
    last_handled_retry: str | None = None
    last_handled_reconcile_at: str | None = None
    last_handled_redeploy_at: str | None = None
    last_drift_check_time: datetime | None = None
    drift_corrections: int = 0
    uninstall: Literal["Running", "Failed", "Done"] | None = None
    # A deploy that failed maxAttempts times and was remediated (spec.converge.remediation)
    remediated_tag: str | None = None
    remediated_digest: str | None = None
    remediated_values_hash: str | None = None

    def condition(self, type_: str) -> Condition | None:
        return find_condition(self.conditions, type_)

    def replace(self, **changes: Any) -> BundleStatus:
        """This status with ``changes`` (field names): what ``attrs.evolve`` makes, in a
        quarter of the time (see above). An unknown name is a ``TypeError``."""
        if not changes.keys() <= _STATUS_FIELDS:
            unknown = ", ".join(sorted(changes.keys() - _STATUS_FIELDS))
            raise TypeError(f"BundleStatus has no field {unknown}")
        new = _new(BundleStatus)
        values = new.__dict__
        values.update(self.__dict__)
        values.update(changes)
        return new


_STATUS_FIELDS = frozenset(f.name for f in attrs.fields(BundleStatus))
_new = object.__new__


@attrs.frozen(kw_only=True)
class PollRecord:
    """A bundle's poll bookkeeping: when it last polled and polls next, how many polls
    so far (the jitter's counter), the tag list's ETag.

    The runtime keeps the newest record between passes (``Plan.polls``) and hands it
    back with the bundle; the status carries the record as of its last write. A poll
    that changes nothing else writes nothing (a quiet poll costs the API server no
    request), so these four status fields move only together with a change the user can
    act on.
    """

    last_poll_time: datetime | None = None
    next_poll_time: datetime | None = None
    poll_count: int = 0
    last_etag: str | None = None

    @classmethod
    def of(cls, status: BundleStatus) -> PollRecord:
        return cls(
            last_poll_time=status.last_poll_time,
            next_poll_time=status.next_poll_time,
            poll_count=status.poll_count,
            last_etag=status.last_etag,
        )

    def onto(self, status: BundleStatus) -> BundleStatus:
        """``status`` with this record's fields (``status`` itself when they match)."""
        if PollRecord.of(status) == self:
            return status
        return status.replace(
            last_poll_time=self.last_poll_time,
            next_poll_time=self.next_poll_time,
            poll_count=self.poll_count,
            last_etag=self.last_etag,
        )


# --- observations ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class JobObservation:
    """One Job this bundle owns, as the cluster shows it (identity from its annotations)."""

    name: str
    namespace: str
    kind: JobKind = "apply"
    tag: str
    digest: str
    values_hash: str
    attempt: int
    state: JobState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    log_tail: str | None = None
    exit_code: int | None = None


@attrs.frozen(kw_only=True)
class FieldProblem:
    """Something wrong with one field; ``path`` is the JSON path users see (spec.x.y)."""

    path: str
    message: str


@attrs.frozen(kw_only=True)
class ValuesFile:
    name: str
    content: Sensitive


@attrs.frozen(kw_only=True)
class Inputs:
    """What the runtime read from the cluster for this pass, besides the bundle and Jobs.

    ``problems`` lists inputs that are missing or invalid (a required values ConfigMap,
    a registry Secret without usable credentials, a ServiceAccount that does not exist);
    with any problem the core starts no Job.
    """

    values_files: tuple[ValuesFile, ...] = ()
    values_hash: str = ""
    docker_config: Sensitive | None = None
    ca_cert: Sensitive | None = None
    secret_key: Sensitive | None = None
    problems: tuple[FieldProblem, ...] = ()
    secret_values: tuple[Sensitive, ...] = ()


@attrs.frozen(kw_only=True)
class LogMap:
    """A ConfigMap holding a finished Job's captured log (kept ``logRetentionDays``)."""

    namespace: str
    name: str
    finished_at: datetime


@attrs.frozen(kw_only=True)
class Bundle:
    """The observed state of one WerfBundle: metadata, spec, status and the Jobs it owns.

    ``spec`` is ``None`` and ``spec_problems`` non-empty when the object did not parse.
    """

    meta: Meta
    spec: BundleSpec | None
    status: BundleStatus = BundleStatus()
    jobs: tuple[JobObservation, ...] = ()
    inputs: Inputs = Inputs()
    log_maps: tuple[LogMap, ...] = ()
    spec_problems: tuple[FieldProblem, ...] = ()


@attrs.frozen(kw_only=True, cache_hash=True)
class TagList:
    """A successful registry observation: every tag and the digests the core asked for.

    The hash is cached: one ``TagList`` is shared by every bundle that follows the same
    repository. ``versions`` keeps its parsed, sorted view and its selections in
    ``_memo``, the one mutable part of the model: a cache, out of equality, hash and
    repr, that ``attrs.evolve`` hands on to the copy (each bundle's copy with its own
    digests shares the repository's memo), and that dies with the last of them.
    """

    repository: str
    tags: tuple[str, ...]
    # Digests differ per bundle (each resolves its own candidate) and never affect
    # selection, so they stay out of equality: the memo shares one sorted view.
    digests: Pairs = attrs.field(default=(), eq=False)
    etag: str | None = None
    at: datetime
    # The runtime's pacer slot for this bundle's next scheduled poll (per bundle, like
    # the digests): the pass records it as the next poll time. None: the poll interval
    # with the bundle's jitter (``reconcile.next_scheduled_poll``), unpaced.
    next_poll: datetime | None = attrs.field(default=None, eq=False)
    _memo: dict[object, object] = attrs.field(factory=dict, eq=False, repr=False)

    def digest(self, tag: str) -> str | None:
        for key, value in self.digests:
            if key == tag:
                return value
        return None


@attrs.frozen(kw_only=True)
class RegistryUnavailable:
    """A failed registry observation; an observation, never an exception."""

    repository: str
    reason: str
    message: str
    status_code: int | None = None
    retry_after: timedelta | None = None
    at: datetime


@attrs.frozen(kw_only=True)
class PollDeferred:
    """No observation: the poll was due, but the runtime's pacer gave it a later slot
    (``werfop.runtime.pacer``). The pass records ``until`` as the next poll time."""

    until: datetime


RegistrySnapshot = TagList | RegistryUnavailable | PollDeferred
