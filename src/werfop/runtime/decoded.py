"""Decodings kept while the API server says the object is unchanged: the one cache
between the API's JSON and the core's model.

Role: a pass reads its bundle and the bundle's Jobs at every poll, and most polls find
them as the last pass did. The API server guarantees that an object read at the same
``uid`` and ``resourceVersion`` has the same content, and that ``metadata.generation``
moves whenever the spec does; so

- a bundle is decoded again only when its (uid, resourceVersion) moved, and then its
  spec is validated again only when its (uid, generation) moved too (a status write
  changes the first, never the second);
- a Job is decoded again only when its (uid, resourceVersion) moved.

An object without those fields (never from an API server: a hand-made object in a
test) is decoded every time. One entry per bundle, dropped with ``forget``.
Must not: decide anything, or keep anything under another key: the codec
(``werfop.api.codec``) is a plain translation and nothing else in the runtime or the
core caches a decoding.
"""

from __future__ import annotations

from typing import Any

import attrs

from werfop.api.codec import SpecDecoding, decode_bundle, decode_job, decode_spec
from werfop.core.model import Bundle, FieldProblem, JobObservation


@attrs.frozen(kw_only=True)
class _KeptBundle:
    uid: str
    resource_version: str
    generation: Any
    bundle: Bundle
    problems: tuple[FieldProblem, ...]
    spec: SpecDecoding


@attrs.frozen(kw_only=True)
class ListedJobs:
    """One listing of a bundle's Jobs: the (uid, resourceVersion) of each listed object
    in order, their decodings (None: not a werfop Job), and the werfop Jobs sorted by
    (namespace, name) with their places."""

    versions: tuple[tuple[Any, Any], ...]
    decoded: dict[tuple[Any, Any], JobObservation | None] = attrs.field(eq=False)
    jobs: tuple[JobObservation, ...]
    places: frozenset[tuple[str, str]]


def _identity(raw: Any) -> tuple[str, str, Any] | None:
    """(uid, resourceVersion, generation) of an API object, or None without the first two."""
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    if not isinstance(metadata, dict):
        return None
    uid, version = metadata.get("uid"), metadata.get("resourceVersion")
    if not (isinstance(uid, str) and uid and isinstance(version, str) and version):
        return None
    return uid, version, metadata.get("generation")


class Decoded:
    def __init__(self) -> None:
        self._bundles: dict[str, _KeptBundle] = {}
        self._jobs: dict[str, ListedJobs] = {}

    def bundle(self, key: str, raw: Any) -> tuple[Bundle | None, tuple[FieldProblem, ...]]:
        """The WerfBundle ``raw`` (stored at ``key``) as the core sees it, and its problems."""
        identity = _identity(raw)
        kept = self._bundles.get(key)
        if identity is None:
            self._bundles.pop(key, None)
            bundle, problems = decode_bundle(raw)
            return bundle, tuple(problems)
        uid, version, generation = identity
        if kept is not None and kept.uid == uid and kept.resource_version == version:
            return kept.bundle, kept.problems
        if kept is not None and kept.uid == uid and generation and kept.generation == generation:
            spec = kept.spec
        else:
            spec = decode_spec(raw.get("spec"))
        bundle, problems = decode_bundle(raw, spec=spec)
        if bundle is None:
            self._bundles.pop(key, None)
            return None, tuple(problems)
        self._bundles[key] = _KeptBundle(
            uid=uid,
            resource_version=version,
            generation=generation,
            bundle=bundle,
            problems=tuple(problems),
            spec=spec,
        )
        return bundle, tuple(problems)

    def jobs(self, key: str, raws: list[dict[str, Any]]) -> ListedJobs:
        """The Jobs listed for bundle ``key``, decoded (only those whose uid or
        resourceVersion moved since its last listing are decoded again)."""
        previous = self._jobs.get(key)
        versions = []
        cacheable = True
        for raw in raws:
            identity = _identity(raw)
            cacheable = cacheable and identity is not None
            versions.append(identity[:2] if identity is not None else (None, None))
        listed_versions = tuple(versions)
        if cacheable and previous is not None and previous.versions == listed_versions:
            return previous
        known = previous.decoded if previous is not None and cacheable else {}
        decoded: dict[tuple[Any, Any], JobObservation | None] = {}
        jobs: dict[tuple[str, str], JobObservation] = {}
        for raw, version in zip(raws, listed_versions, strict=True):
            job = known[version] if version in known else decode_job(raw)
            decoded[version] = job
            if job is not None:
                jobs[(job.namespace, job.name)] = job
        listed = ListedJobs(
            versions=listed_versions,
            decoded=decoded,
            jobs=tuple(sorted(jobs.values(), key=lambda j: (j.namespace, j.name))),
            places=frozenset(jobs),
        )
        if cacheable:
            self._jobs[key] = listed
        else:
            self._jobs.pop(key, None)
        return listed

    def forget(self, key: str) -> None:
        self._bundles.pop(key, None)
        self._jobs.pop(key, None)
