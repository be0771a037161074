"""The WerfBundle API schema: the one source of truth for the CRD and the codec.

Role: describe every field of ``werf.io/v1alpha1`` ``WerfBundle`` once (type,
default, bounds, pattern, description, cross-field rules), so that ``werfop crd``
renders the CustomResourceDefinition from it and ``werfop.api.codec`` validates and
defaults objects with it. A test checks that the committed CRD equals the rendering.
Must not: hold behaviour beyond validation; the core decides what fields mean.

Cross-field rules carry both a CEL expression (for the API server) and a Python
predicate (for the codec); tests evaluate the CEL with ``cel-python`` against the same
corpus to keep them in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs

from werfop.core import names
from werfop.core.durations import parse_duration

GROUP = names.GROUP
VERSION = names.VERSION
KIND = names.KIND
PLURAL = names.PLURAL

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
# Kubernetes' quantity syntax without the leading minus: a negative request or limit
# would pass the CRD and then fail the Job's own validation.
QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]+))?$"
)
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
REPOSITORY_PATTERN = (
    r"^(oci://)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?"
    r"(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)+$"
)


@attrs.frozen(kw_only=True)
class Rule:
    """A cross-field rule: CEL for the API server, a predicate for the codec.

    ``check`` gets the (defaulted) object at the rule's level and returns True when the
    rule holds. ``path`` names the field the message is about, relative to that level.
    """

    cel: str
    message: str
    check: Callable[[dict[str, Any]], bool] = attrs.field(eq=False, repr=False)
    path: str = ""


@attrs.frozen(kw_only=True)
class Field:
    type: str
    description: str
    default: Any = None
    required: tuple[str, ...] = ()
    properties: dict[str, Field] = attrs.field(factory=dict, hash=False)
    items: Field | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    enum: tuple[str, ...] = ()
    int_or_string: bool = False
    preserve_unknown: bool = False
    duration_min: str | None = None
    duration_max: str | None = None
    rules: tuple[Rule, ...] = ()


def _str(description: str, **kw: Any) -> Field:
    return Field(type="string", description=description, **kw)


def _duration(description: str, default: str | None, lo: str, hi: str) -> Field:
    text = f"{description} A duration such as 30s, 15m or 1h30m, from {lo} to {hi}."
    rule = Rule(
        cel=f"duration(self) >= duration('{lo}') && duration(self) <= duration('{hi}')",
        message=f"must be between {lo} and {hi}",
        check=lambda _: True,  # the codec checks bounds itself (duration_min/max)
    )
    return Field(
        type="string",
        description=text,
        default=default,
        max_length=64,  # what core.durations parses; also bounds the CEL rule's cost
        pattern=DURATION_PATTERN,
        pattern_hint="a duration such as 30s, 15m or 1h30m",
        duration_min=lo,
        duration_max=hi,
        rules=(rule,),
    )


def _quantity(description: str, default: str | None) -> Field:
    return Field(
        type="string",
        description=description,
        default=default,
        int_or_string=True,
        min_length=1,
        minimum=0,  # the integer form; the pattern covers the string form
        pattern=QUANTITY_PATTERN,
        pattern_hint="a Kubernetes quantity such as 500m, 2 or 1Gi",
    )


def _object_name() -> Field:
    return _str(
        "Name of the object in the bundle's namespace.",
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        pattern_hint="a DNS subdomain name",
    )


def _ref(description: str) -> Field:
    return Field(
        type="object",
        description=description,
        required=("name",),
        properties={"name": _object_name()},
    )


def _has(obj: dict[str, Any], key: str) -> bool:
    return obj.get(key) is not None


REGISTRY = Field(
    type="object",
    description="Which OCI repository to follow and which of its tags may be deployed.",
    required=("url",),
    properties={
        "url": _str(
            "The OCI repository of the bundle, host[:port]/path, without tag or digest; "
            "an oci:// prefix is accepted.",
            min_length=1,
            max_length=512,
            pattern=REPOSITORY_PATTERN,
            pattern_hint="host[:port]/path without scheme, tag or digest",
        ),
        "pollInterval": _duration("How often the registry is polled.", "15m", "30s", "24h"),
        "secretRef": _ref(
            "Secret with registry credentials: type kubernetes.io/dockerconfigjson, or "
            "Opaque with username and password, or token."
        ),
        "insecure": Field(
            type="boolean", description="Talk plain HTTP to the registry.", default=False
        ),
        "caSecretRef": _ref("Secret whose ca.crt is trusted for the registry's TLS certificate."),
        "versionConstraint": _str(
            "A semver constraint (>=1.2.0 <2.0.0, ^1.2, ~1.2.3, 1.x, >=1.0 || 3.x, !=1.3.0). "
            "Empty: the highest semver release. Prereleases match only when the constraint "
            "names one (>=1.0.0-0).",
            max_length=1024,
        ),
        "tag": _str(
            "Follow this one, possibly mutable, tag (latest, main): a new digest under it "
            "is a new version. Mutually exclusive with versionConstraint.",
            min_length=1,
            pattern=TAG_PATTERN,
            pattern_hint="an OCI tag",
        ),
        "tagFilter": Field(
            type="object",
            description=(
                "RE2 regular expressions (Go regexp syntax: no backreferences or lookaround) "
                "applied to raw tags before semver parsing."
            ),
            properties={
                "include": _str(
                    "Only tags matching this expression are considered.", max_length=1024
                ),
                "exclude": _str("Tags matching this expression are ignored.", max_length=1024),
            },
        ),
        "allowDowngrade": Field(
            type="boolean",
            description="Allow selecting a version lower than the last applied one.",
            default=False,
        ),
        "minAge": _duration(
            "A candidate deploys only after its digest has been seen unchanged this long.",
            "0s",
            "0s",
            "720h",
        ),
    },
    rules=(
        Rule(
            cel="!(has(self.tag) && has(self.versionConstraint))",
            message="tag and versionConstraint are mutually exclusive",
            check=lambda r: not (_has(r, "tag") and _has(r, "versionConstraint")),
            path="tag",
        ),
    ),
)

VALUES_SOURCE = Field(
    type="object",
    description="One source of Helm values; exactly one of configMapRef and secretRef.",
    properties={
        "configMapRef": _ref("ConfigMap in the bundle's namespace."),
        "secretRef": _ref("Secret in the bundle's namespace."),
        "key": _str(
            "The data key holding a YAML document of values.",
            default="values.yaml",
            min_length=1,
            max_length=253,
            pattern=r"^[-._a-zA-Z0-9]+$",
            pattern_hint="a ConfigMap or Secret data key",
        ),
        "optional": Field(
            type="boolean",
            description="Skip this source when the object or key does not exist.",
            default=False,
        ),
    },
    rules=(
        Rule(
            cel="has(self.configMapRef) != has(self.secretRef)",
            message="exactly one of configMapRef or secretRef must be set",
            check=lambda s: _has(s, "configMapRef") != _has(s, "secretRef"),
        ),
    ),
)


def _resources(description: str, cpu: str | None, memory: str | None) -> Field:
    return Field(
        type="object",
        description=description,
        default={} if cpu is not None else None,
        properties={
            "cpu": _quantity("CPU quantity.", cpu),
            "memory": _quantity("Memory quantity.", memory),
        },
    )


CONVERGE = Field(
    type="object",
    description="How and where the bundle is deployed (the werf Job).",
    default={},
    properties={
        "serviceAccountName": _str(
            "ServiceAccount the werf Job runs as, in the target namespace. Required when "
            "targetNamespace differs from the bundle's namespace.",
            min_length=1,
            max_length=253,
            pattern=DNS_SUBDOMAIN_PATTERN,
            pattern_hint="a DNS subdomain name",
        ),
        "targetNamespace": _str(
            "Namespace to deploy into. Default: the bundle's namespace.",
            min_length=1,
            max_length=63,
            pattern=DNS_LABEL_PATTERN,
            pattern_hint="a DNS label",
        ),
        "releaseName": _str(
            "Helm release name. Default: the bundle's name.",
            min_length=1,
            max_length=53,
            pattern=DNS_LABEL_PATTERN,
            pattern_hint="a DNS label",
        ),
        "resourceLimits": _resources("Limits of the werf container.", "1", "1Gi"),
        "resourceRequests": _resources(
            "Requests of the werf container. Default: equal to the limits.", None, None
        ),
        "values": Field(
            type="object",
            description="Inline Helm values, merged after valuesFrom (later wins).",
            preserve_unknown=True,
        ),
        "valuesFrom": Field(
            type="array",
            description="Sources of Helm values, merged in order, then inline values.",
            items=VALUES_SOURCE,
            max_items=32,
        ),
        "secretKeySecretRef": Field(
            type="object",
            description=(
                "Secret in the bundle's namespace holding werf's secret key (the contents "
                "of .werf_secret_key), to decrypt the bundle's secret values. The Job "
                "gets it only as the file $WERF_HOME/global_secret_key."
            ),
            required=("name",),
            properties={
                "name": _object_name(),
                "key": _str(
                    "The data key holding the secret key.",
                    default="secret-key",
                    min_length=1,
                    max_length=253,
                    pattern=r"^[-._a-zA-Z0-9]+$",
                    pattern_hint="a Secret data key",
                ),
            },
        ),
        "timeout": _duration(
            "The budget of one Job run: activeDeadlineSeconds is timeout plus 5 minutes. "
            "Also werf's per-resource --timeout of apply and uninstall.",
            "15m",
            "1m",
            "24h",
        ),
        "image": _str(
            "The werf image.",
            default="registry.werf.io/werf/werf:2-stable",
            min_length=1,
            max_length=512,
        ),
        "logRetentionDays": Field(
            type="integer",
            description=(
                "Days to keep captured logs; the TTL of a finished Job, which is deleted "
                "sooner once status.versionHistory no longer names it."
            ),
            default=7,
            minimum=1,
            maximum=365,
        ),
        "maxAttempts": Field(
            type="integer",
            description="Jobs tried for one version before the bundle is Failed.",
            default=3,
            minimum=1,
            maximum=10,
        ),
        "redeployOnValuesChange": Field(
            type="boolean",
            description="Apply the same version again when the merged values change.",
            default=True,
        ),
        "deletionPolicy": _str(
            "Retain: deleting the bundle leaves the release. Uninstall: a Job uninstalls "
            "the release first (bounded by timeout; annotate werf.io/skip-uninstall=true "
            "to give up).",
            default="Retain",
            enum=("Retain", "Uninstall"),
        ),
        "remediation": Field(
            type="object",
            description="What follows a version that failed maxAttempts times.",
            default={},
            properties={
                "strategy": _str(
                    "None: stay Failed until a new version, a spec change or werf.io/retry. "
                    "Rollback: apply the last applied version again (the failed applies "
                    "may have left the release half-upgraded), then stay Failed the same way.",
                    default="None",
                    enum=("None", "Rollback"),
                ),
            },
        ),
        "driftDetection": Field(
            type="object",
            description="Periodic `werf bundle plan --exit-code` of the applied version.",
            default={},
            properties={
                "enabled": Field(type="boolean", description="Run drift checks.", default=False),
                "interval": _duration("Time between checks.", "15m", "1m", "24h"),
                "mode": _str(
                    "Report: set the Drifted condition. Correct: also apply again.",
                    default="Report",
                    enum=("Report", "Correct"),
                ),
                "maxRetries": Field(
                    type="integer",
                    description="Failed corrections before giving up until a new version.",
                    default=3,
                    minimum=0,
                    maximum=10,
                ),
            },
        ),
    },
)

SPEC = Field(
    type="object",
    description="What to follow and how to deploy it.",
    required=("registry",),
    properties={
        "registry": REGISTRY,
        "converge": CONVERGE,
        "suspend": Field(type="boolean", description="Stop polling and deploying.", default=False),
    },
)


def _time(description: str) -> Field:
    return Field(type="string", description=description + " (RFC 3339)")


_HISTORY = Field(
    type="object",
    description="One deploy Job.",
    properties={
        "tag": _str("Tag the Job applied."),
        "digest": _str("Digest of the tag when the Job was made."),
        "valuesHash": _str("Hash of the merged values."),
        "jobName": _str("Name of the Job."),
        "attempt": Field(type="integer", description="Attempt number for this version."),
        "startedAt": _time("When the Job was created"),
        "finishedAt": _time("When the Job ended"),
        "result": _str(
            "Running, Succeeded, Failed or Lost.", enum=("Running", "Succeeded", "Failed", "Lost")
        ),
    },
)

STATUS = Field(
    type="object",
    description="Observed state, written by werfop only.",
    properties={
        "phase": _str(
            "Pending, Syncing, Synced, Failed or Suspended.",
            enum=("Pending", "Syncing", "Synced", "Failed", "Suspended"),
        ),
        "conditions": Field(
            type="array",
            description="Ready, Reconciling and Stalled (kstatus).",
            items=Field(
                type="object",
                description="A condition.",
                properties={
                    "type": _str("Condition type."),
                    "status": _str("True, False or Unknown."),
                    "reason": _str("Stable CamelCase reason."),
                    "message": _str("Human-readable detail."),
                    "lastTransitionTime": _time("When status last changed"),
                    "observedGeneration": Field(
                        type="integer", description="Generation this condition describes."
                    ),
                },
            ),
        ),
        "observedGeneration": Field(
            type="integer", description="The generation the status describes."
        ),
        "lastAppliedTag": _str("Tag of the last Job that succeeded."),
        "lastAppliedDigest": _str("Digest of the last Job that succeeded."),
        "lastAppliedValuesHash": _str("Values hash of the last Job that succeeded."),
        "lastSyncTime": _time("When the last successful Job finished"),
        "desiredTag": _str("The tag selected at the last poll."),
        "desiredDigest": _str("Its digest."),
        "soak": Field(
            type="object",
            description="A candidate waiting out spec.registry.minAge.",
            properties={
                "tag": _str("Candidate tag."),
                "digest": _str("Candidate digest."),
                "since": _time("First seen with this digest"),
            },
        ),
        "lastPollTime": _time("When the registry was last polled"),
        "nextPollTime": _time("When the registry will be polled next"),
        "pollCount": Field(type="integer", description="Polls made so far."),
        "lastETag": _str("ETag of the last tag list, when the registry sends one."),
        "consecutiveFailures": Field(type="integer", description="Registry polls failed in a row."),
        "lastErrorMessage": _str("The last registry error."),
        "lastErrorTime": _time("When it happened"),
        "activeJobName": _str("The Job running now, if any."),
        "activeJobNamespace": _str("Its namespace."),
        "lastJobStatus": _str(
            "Running, Succeeded or Failed.", enum=("Running", "Succeeded", "Failed")
        ),
        "lastJobLogs": _str("Tail (at most 5 KiB) of the last finished Job's log, redacted."),
        "attempts": Field(
            type="integer", description="Jobs started for the current version since a reset."
        ),
        "resolvedTargetNamespace": _str("The namespace the bundle deploys into."),
        "versionHistory": Field(
            type="array", description="The last 10 Jobs, newest first.", items=_HISTORY
        ),
        "selection": Field(
            type="object",
            description="How the last poll chose a tag.",
            properties={
                "selected": _str("The chosen tag."),
                "considered": Field(type="integer", description="Tags in the repository."),
                "rejected": Field(
                    type="array",
                    description="Up to 10 tags passed over, with the reason.",
                    items=Field(
                        type="object",
                        description="A tag passed over.",
                        properties={"tag": _str("The tag."), "reason": _str("Why.")},
                    ),
                ),
            },
        ),
        "lastHandledRetry": _str("The last werf.io/retry annotation value acted on."),
        "lastHandledReconcileAt": _str("The last werf.io/reconcile-at value acted on."),
        "lastHandledRedeployAt": _str("The last werf.io/redeploy-at value acted on."),
        "lastDriftCheckTime": _time("When the last drift check finished"),
        "driftCorrections": Field(
            type="integer", description="Drift corrections tried for the applied version."
        ),
        "uninstall": _str("Progress of the uninstall on deletion: Running, Failed, Done."),
        "remediatedTag": _str(
            "The tag that failed maxAttempts times and was remediated (rolled back): not "
            "tried again until a new version, a spec change or werf.io/retry."
        ),
        "remediatedDigest": _str("The digest of remediatedTag."),
        "remediatedValuesHash": _str("The values hash of the remediated deploy."),
    },
)


def duration_bounds(field: Field) -> tuple[timedelta, timedelta] | None:
    if field.duration_min is None or field.duration_max is None:
        return None
    low = parse_duration(field.duration_min)
    high = parse_duration(field.duration_max)
    assert low is not None and high is not None
    return low, high


def compile_pattern(field: Field) -> re.Pattern[str] | None:
    return re.compile(field.pattern) if field.pattern else None
