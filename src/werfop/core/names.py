"""The API's vocabulary, in one place: group and version, labels, annotations,
condition types and the reasons they carry.

Role: every name werfop writes into or reads from a Kubernetes object, so that the
core, the runtime, the adapters and the docs cannot drift apart (``docs/troubleshooting.md``
is checked against ``READY_REASONS`` and ``timeline.EVENT_REASONS``).
Must not: hold logic.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "werf.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "WerfBundle"
PLURAL: Final = "werfbundles"
FINALIZER: Final = "werf.io/finalizer"
MANAGED_BY: Final = "werfop"

# -- labels ------------------------------------------------------------------------------
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_BUNDLE: Final = "werf.io/bundle"
LABEL_BUNDLE_NAMESPACE: Final = "werf.io/bundle-namespace"
LABEL_BUNDLE_UID: Final = "werf.io/bundle-uid"
LABEL_JOB_KIND: Final = "werf.io/job-kind"
# A ConfigMap or Secret with this label set to "true" wakes its bundles when it changes.
LABEL_WATCH: Final = "werf.io/watch"

# -- annotations on Jobs and log ConfigMaps (written by werfop) ----------------------------
ANNOTATION_BUNDLE: Final = "werf.io/bundle"
ANNOTATION_TAG: Final = "werf.io/tag"
ANNOTATION_DIGEST: Final = "werf.io/digest"
ANNOTATION_VALUES_HASH: Final = "werf.io/values-hash"
ANNOTATION_ATTEMPT: Final = "werf.io/attempt"
ANNOTATION_JOB: Final = "werf.io/job"
ANNOTATION_FINISHED_AT: Final = "werf.io/finished-at"

# -- annotations users set (the levers) ----------------------------------------------------
RETRY: Final = "werf.io/retry"
RECONCILE_AT: Final = "werf.io/reconcile-at"
REDEPLOY_AT: Final = "werf.io/redeploy-at"
ROLLBACK_TO: Final = "werf.io/rollback-to-version"
SKIP_UNINSTALL: Final = "werf.io/skip-uninstall"
# On a Namespace: which source namespaces may deploy into it.
ACCEPT_BUNDLES_FROM: Final = "werf.io/accept-bundles-from"

# -- condition types -----------------------------------------------------------------------
READY: Final = "Ready"
RECONCILING: Final = "Reconciling"
STALLED: Final = "Stalled"
REGISTRY_REACHABLE: Final = "RegistryReachable"
RELEASED: Final = "Released"
DRIFTED: Final = "Drifted"
DRIFT_CORRECTION_FAILED: Final = "DriftCorrectionFailed"
CONDITION_TYPES: Final = (
    READY,
    RECONCILING,
    STALLED,
    REGISTRY_REACHABLE,
    RELEASED,
    DRIFTED,
    DRIFT_CORRECTION_FAILED,
)

# -- reasons of the Ready condition (and of Reconciling / Stalled with it) ----------------
READY_REASONS: Final = (
    "Succeeded",
    "Progressing",
    "CorrectingDrift",
    "RetryScheduled",
    "RetriesExhausted",
    "Remediated",
    "RegistryUnavailable",
    "InputsUnavailable",
    "InvalidSpec",
    "RollbackUnavailable",
    "Suspended",
    "Initializing",
    "Soaking",
    "NoMatchingVersion",
)
