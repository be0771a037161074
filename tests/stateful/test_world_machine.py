"""A Hypothesis state machine over the in-memory world: the real ``Controller`` driving
``MemoryCluster``, ``ScriptedRegistry``, ``RegistryEconomy`` and a ``ManualClock``.

Two bundles: ``shop`` follows a semver constraint (with Helm values from a ConfigMap),
``edge`` follows a mutable tag. Rules push, re-push and delete tags, start registry
outages (503, 500, 429 and timeouts, with or without Retry-After, one repository or a
whole host), move virtual time (running every due pass and ending due Jobs, as
``werf simulate`` does), decide how Jobs end, make a running Job vanish, edit the spec,
change the values, restart or crash the runtime, and delete and re-create a bundle.
Invariants are checked after every step; ``converge`` stops the churn and checks that
the world goes quiet on the best tag.

The oracle for "the best tag" is a hand-written table (``ALLOWED``, ``RANK``), not
``werfop.core.versions``, so the test does not grade the code with itself.

The reproductions of the four bugs this machine found, since fixed, sit at the bottom
of this file as regression tests (the last: Jobs evicted from the 10-entry history but
still in the cluster were adopted again on every pass).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from support.inmemory import (
    EDGE_URL,
    NAMESPACE,
    SHOP_URL,
    Crash,
    JobRecord,
    World,
    edge_bundle,
    missing_secrets,
    shop_bundle,
    values_map,
)
from werfop.api.codec import decode_status
from werfop.core import jobspec, names
from werfop.core.model import BundleStatus
from werfop.core.ports import Repository, WatchEvent
from werfop.core.values import merge_all, values_hash

# The oracle: semver order of every tag the shop repository may hold, and which of
# them each constraint admits (prereleases only when a constraint names one: none do).
RANK = ("1.0.0", "1.1.0", "1.2.0", "1.3.0-rc.1", "2.0.0")
SHOP_TAGS = (*RANK, "latest")
ALLOWED = {
    ">=1.0.0 <2.0.0": frozenset({"1.0.0", "1.1.0", "1.2.0"}),
    "~1.1": frozenset({"1.1.0"}),
    ">=1.1.0": frozenset({"1.1.0", "1.2.0", "2.0.0"}),
    "^2": frozenset({"2.0.0"}),
    "<1.2.0": frozenset({"1.0.0", "1.1.0"}),
}
EDGE_TAGS = ("main", "dev")
POLL_INTERVALS = ("30s", "2m", "5m", "15m")
VALUES = ("replicas: 2\n", "replicas: 3\n", "replicas: 3\ningress: {tls: true}\n")
URLS = {"shop": SHOP_URL, "edge": EDGE_URL}
FACTORIES = {"shop": shop_bundle, "edge": edge_bundle}
outages = st.tuples(
    st.sampled_from(("shop", "edge", "ghcr.io")),
    st.integers(1, 180),
    st.sampled_from((503, 500, 429, "timeout")),
    st.none() | st.integers(1, 600),
)
# How long the world runs on after a change: mostly a few minutes, sometimes nothing.
settle = st.sampled_from((0, 0, 30, 90, 300, 900, 1800))
# How a pushed version's Jobs end: as before (None), or (result, minutes).
outcomes = st.none() | st.tuples(st.sampled_from(("succeeded", "failed")), st.integers(1, 30))

# Sized for the profile: `dev` (60 examples) gives 30 runs of up to 40 steps (10-20s),
# `ci` (300) 100 runs of up to 50 steps (a few minutes).
EXAMPLES = max(10, min(settings.default.max_examples // 2, 100))
STEPS = 40 if settings.default.max_examples <= 100 else 50


def _duration(text: str) -> timedelta:
    number, unit = int(text[:-1]), text[-1]
    return {"s": timedelta(seconds=number), "m": timedelta(minutes=number)}[unit]


class WorldMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World([values_map(), shop_bundle(), edge_bundle()])
        self.world.cluster.listeners.append(self._on_job)
        self.violations: list[str] = []
        self.applied: dict[str, str] = {}  # bundle uid -> tag of its last succeeded Job
        self.succeeded: set[str] = set()
        self.outages_end = {SHOP_URL: self.now, EDGE_URL: self.now}
        self.retries = 0
        self.crashes = 0

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    @initialize()
    def first_tags(self) -> None:
        self.world.registry.push(SHOP_URL, "1.0.0")
        self.world.registry.push(EDGE_URL, "main")
        self.world.run_now()

    # -- what the cluster shows as it happens ----------------------------------------

    def _on_job(self, kind: str, watch: WatchEvent) -> None:
        """Record, the moment a Job appears, the spec it was made under and the last
        version applied before it; check the constraint and the downgrade guard."""
        metadata = watch.object["metadata"]
        if kind != "Job" or (metadata.get("labels") or {}).get(names.LABEL_JOB_KIND) != "apply":
            return
        annotations = metadata.get("annotations") or {}
        uid = (metadata.get("labels") or {}).get(names.LABEL_BUNDLE_UID, "")
        tag = annotations.get(names.ANNOTATION_TAG, "")
        name = annotations.get(names.ANNOTATION_BUNDLE, "").partition("/")[2]
        if watch.type == "ADDED":
            bundle = self.world.bundle(name)
            assert bundle is not None, f"Job {metadata['name']} for a missing bundle"
            registry = bundle["spec"]["registry"]
            where = f"Job {metadata['name']} of {name} at {self.now.isoformat()}"
            if "versionConstraint" in registry:
                constraint = registry["versionConstraint"]
                if tag not in ALLOWED[constraint]:
                    self.violations.append(f"{where}: tag {tag} is outside {constraint!r}")
                floor = self.applied.get(uid)
                allow = registry.get("allowDowngrade", False)
                if not allow and _rank(floor) >= 0 <= _rank(tag) < _rank(floor):
                    self.violations.append(f"{where}: downgrade from {floor} to {tag}")
            elif tag != registry["tag"]:
                self.violations.append(f"{where}: tag {tag} is not {registry['tag']!r}")
        elif (watch.object.get("status") or {}).get("succeeded") and (
            metadata["name"] not in self.succeeded
        ):
            self.succeeded.add(metadata["name"])
            self.applied[uid] = tag

    # -- helpers -----------------------------------------------------------------------

    def _live(self) -> dict[str, dict[str, Any]]:
        """Bundles that exist and are not being deleted, by name."""
        out = {}
        for name in URLS:
            bundle = self.world.bundle(name)
            if bundle is not None and not bundle["metadata"].get("deletionTimestamp"):
                out[name] = bundle
        return out

    def _then(self, seconds: int) -> None:
        """After a change, the world runs on for a while (0: only what is due now)."""
        self.world.run_for(timedelta(seconds=seconds))

    def _deploying(self, name: str) -> set[str]:
        """The tags the bundle's active Jobs deploy."""
        return {job.tag for job in self._running_jobs(name)}

    # -- rules: the registry -----------------------------------------------------------

    @rule(tag=st.sampled_from(SHOP_TAGS), outcome=outcomes, then=settle)
    def push_shop_tag(self, tag: str, outcome: tuple[str, int] | None, then: int) -> None:
        """Push (or re-push, with a new digest) a tag of the shop repository, maybe
        deciding how its Jobs will end."""
        self._decide_jobs("shop", tag, outcome)
        self.world.registry.push(SHOP_URL, tag)
        self._then(then)

    @rule(tag=st.sampled_from(EDGE_TAGS), outcome=outcomes, then=settle)
    def push_edge_tag(self, tag: str, outcome: tuple[str, int] | None, then: int) -> None:
        """Re-push a mutable tag: a new digest under the same name."""
        self._decide_jobs("edge", tag, outcome)
        self.world.registry.push(EDGE_URL, tag)
        self._then(then)

    def _decide_jobs(self, name: str, tag: str, outcome: tuple[str, int] | None) -> None:
        if outcome is not None:
            result, minutes = outcome
            self.world.set_outcome(result, timedelta(minutes=minutes), bundle=name, tag=tag)
            self.world.job_rules.insert(0, self.world.job_rules.pop())  # the newest wins

    @rule(name=st.sampled_from(("shop", "edge")), data=st.data(), then=settle)
    def delete_tag(self, name: str, data: st.DataObject, then: int) -> None:
        url = URLS[name]
        tags = self.world.registry.tags(url)
        if tags:
            self.world.registry.delete(url, data.draw(st.sampled_from(tags)))
        self._then(then)

    @rule(outage=outages, then=settle)
    def start_registry_outage(
        self, outage: tuple[str, int, int | str, int | None], then: int
    ) -> None:
        """One repository (or the whole ghcr.io host) fails from now on, for minutes to
        hours, with a 5xx, a 429 or timeouts, maybe asking for a Retry-After."""
        name, minutes, status, retry_after = outage
        url = URLS.get(name, name)
        length = timedelta(minutes=minutes)
        wait = timedelta(seconds=retry_after) if retry_after is not None else None
        self.world.outage(url, length, status=status, retry_after=wait)
        until = self.now + length + (wait or timedelta(0)) + timedelta(seconds=1)
        for repository in (SHOP_URL, EDGE_URL):
            if repository == url or repository.split("/", 1)[0] == url:
                self.outages_end[repository] = max(self.outages_end[repository], until)
        self._then(then)

    @rule()
    def wait_out_registry_outages(self) -> None:
        """The scripted registry cannot cut an outage short: time runs until every
        outage (and its Retry-After) is over."""
        quiet = max(self.outages_end.values())
        self.world.run_until(max(quiet, self.now))

    # -- rules: time and Jobs ----------------------------------------------------------

    @rule(seconds=st.integers(1, 3 * 3600))
    def advance_clock(self, seconds: int) -> None:
        self.world.run_for(timedelta(seconds=seconds))

    @rule(seconds=st.integers(1, 600))
    def advance_clock_a_little(self, seconds: int) -> None:
        """Seconds to minutes: a Job ends, a poll comes, a backoff elapses."""
        self.world.run_for(timedelta(seconds=seconds))

    @rule(
        result=st.sampled_from(("succeeded", "failed")),
        minutes=st.integers(1, 30),
        name=st.none() | st.sampled_from(("shop", "edge")),
        then=settle,
    )
    def set_job_outcome(self, result: str, minutes: int, name: str | None, then: int) -> None:
        """How the next Jobs (of one bundle, or all) end, and after how long."""
        self.world.set_outcome(result, timedelta(minutes=minutes), bundle=name)
        if name is not None:
            # The newest rule wins: put it first.
            self.world.job_rules.insert(0, self.world.job_rules.pop())
        self._then(then)

    @rule(data=st.data(), then=settle)
    def vanish_running_job(self, data: st.DataObject, then: int) -> None:
        active = self.world.active_jobs()
        if active:
            job = data.draw(st.sampled_from(active), label="job")
            self.world.vanish(job["metadata"]["namespace"], job["metadata"]["name"])
        self._then(then)

    # -- rules: objects ----------------------------------------------------------------

    @rule(constraint=st.sampled_from(sorted(ALLOWED)), then=settle)
    def edit_shop_constraint(self, constraint: str, then: int) -> None:
        if "shop" in self._live():
            self.world.patch_bundle(
                "shop", {"spec": {"registry": {"versionConstraint": constraint}}}
            )
        self._then(then)

    @rule(tag=st.sampled_from(EDGE_TAGS), then=settle)
    def edit_edge_tag(self, tag: str, then: int) -> None:
        if "edge" in self._live():
            self.world.patch_bundle("edge", {"spec": {"registry": {"tag": tag}}})
        self._then(then)

    @rule(name=st.sampled_from(("shop", "edge")), suspend=st.booleans(), then=settle)
    def edit_suspend(self, name: str, suspend: bool, then: int) -> None:
        if name in self._live():
            self.world.patch_bundle(name, {"spec": {"suspend": suspend}})
        self._then(then)

    @rule(
        name=st.sampled_from(("shop", "edge")),
        interval=st.sampled_from(POLL_INTERVALS),
        then=settle,
    )
    def edit_poll_interval(self, name: str, interval: str, then: int) -> None:
        if name in self._live():
            self.world.patch_bundle(name, {"spec": {"registry": {"pollInterval": interval}}})
        self._then(then)

    @rule(text=st.sampled_from(VALUES), then=settle)
    def change_values(self, text: str, then: int) -> None:
        self.world.set_values(text)
        self._then(then)

    @rule(name=st.sampled_from(("shop", "edge")))
    def delete_bundle(self, name: str) -> None:
        if self.world.bundle(name) is None:
            return
        self.world.cluster.delete("WerfBundle", NAMESPACE, name)
        self.world.run_now()
        # The finalizer deletes the bundle's Jobs first, then lets it go, at once.
        assert None is self.world.bundle(name)
        assert [] == [j for j in self.world.cluster.list_objects("Job") if _bundle_of(j) == name]

    @rule(name=st.sampled_from(("shop", "edge")), then=settle)
    def recreate_bundle(self, name: str, then: int) -> None:
        if self.world.bundle(name) is None:
            self.world.cluster.create("WerfBundle", FACTORIES[name]())
        self._then(then)

    # -- rules: the runtime ------------------------------------------------------------

    @rule(then=settle)
    def restart_runtime(self, then: int) -> None:
        """A new process: fresh controller, economy, observer and queue; resync."""
        self.world.start_runtime()
        self._then(then)

    @rule(after=st.integers(1, 6), seconds=st.integers(0, 3600))
    def crash_mid_pass(self, after: int, seconds: int) -> None:
        """The process dies right after its ``after``-th action; a new one starts."""
        done: list[object] = []

        def crash(action: object) -> None:
            done.append(action)
            if len(done) == after:
                raise Crash(type(action).__name__)

        self.world.start_runtime(after_action=crash)
        try:
            self.world.run_for(timedelta(seconds=seconds))
        except Crash:
            self.crashes += 1
        self.world.start_runtime()
        self.world.run_now()

    # -- convergence -------------------------------------------------------------------

    @rule(hours=st.integers(3, 6))
    def converge(self, hours: int) -> None:
        """Stop the churn: Jobs succeed, outages end, each bundle gets fresh attempts
        (a new werf.io/retry value); ``hours`` later, a full poll interval brings no
        write at all (quiet polls write nothing), and each bundle runs the best tag."""
        world = self.world
        world.job_rules.clear()
        world.set_outcome("succeeded", timedelta(minutes=1))
        quiet = max(self.outages_end.values())
        if quiet > self.now:
            world.run_until(quiet)
        # What each bundle may keep when nothing better is on offer: what it runs, or
        # what a Job still running may leave it on.
        keepable = {
            name: {(world.status(name).last_applied_tag, world.status(name).last_applied_digest)}
            | {(job.tag, job.digest) for job in self._running_jobs(name)}
            for name in self._live()
        }
        for name in self._live():
            self.retries += 1
            world.cluster.patch(
                "WerfBundle",
                NAMESPACE,
                name,
                {"metadata": {"annotations": {"werf.io/retry": f"converge-{self.retries}"}}},
            )
        world.run_for(timedelta(hours=hours))

        live = self._live()
        intervals = [
            _duration(b["spec"]["registry"].get("pollInterval", "15m"))
            for b in live.values()
            if not b["spec"].get("suspend")
        ]
        window = max(intervals, default=timedelta(minutes=15)) * 1.1 + timedelta(seconds=1)
        writes, polls, jobs = world.writes(), self._polls(), len(world.jobs)
        world.run_for(window)
        new_writes = world.writes() - writes
        new_polls = self._polls() - polls
        assert new_polls > 0 or not intervals  # (every bundle suspended: no polls)
        assert {} == dict(new_writes)  # quiet polls write nothing, not even the status
        assert jobs == len(world.jobs)

        for name, bundle in live.items():
            if bundle["spec"].get("suspend"):
                continue
            status = world.status(name)
            applied = (status.last_applied_tag, status.last_applied_digest)
            best = self._best(name, bundle)
            if best is not None and _rank(best[0]) >= _rank(applied[0]):
                assert best == applied
                assert self._values_hash(bundle) == status.last_applied_values_hash
                assert ("Synced", "True") == (status.phase, _ready(status))
            else:
                # Nothing better (or only a downgrade) on offer: it keeps what it had.
                assert applied in keepable.get(name, {(None, None)})

    def _running_jobs(self, name: str) -> list[JobRecord]:
        bundle = self.world.bundle(name)
        if bundle is None:
            return []
        uid = jobspec.label_value(bundle["metadata"]["uid"])
        active = {job["metadata"]["name"] for job in self.world.active_jobs()}
        return [j for j in self.world.jobs.values() if j.bundle_uid == uid and j.name in active]

    def _polls(self) -> int:
        return sum(1 for _, _, occurrence in self.world.timeline if occurrence.type == "Polled")

    def _best(self, name: str, bundle: dict[str, Any]) -> tuple[str, str] | None:
        """The oracle: the (tag, digest) the spec asks for among what the registry
        holds now (the highest admitted version, or the followed tag)."""
        registry = bundle["spec"]["registry"]
        url = URLS[name]
        present = set(self.world.registry.tags(url))
        if name == "edge":
            tag = registry["tag"]
            return (tag, self._digest(url, tag)) if tag in present else None
        candidates = [t for t in RANK if t in present & ALLOWED[registry["versionConstraint"]]]
        return (candidates[-1], self._digest(url, candidates[-1])) if candidates else None

    def _digest(self, url: str, tag: str) -> str:
        """The digest the registry holds for ``tag`` (read through the twin's port, so it
        counts one request: only called once the measured window is over)."""
        answer = self.world.registry.resolve_digest(Repository(url=url), tag)
        return answer.digest  # type: ignore[union-attr]

    def _values_hash(self, bundle: dict[str, Any]) -> str:
        documents = []
        for source in bundle["spec"].get("converge", {}).get("valuesFrom", []):
            config_map = self.world.cluster.get(
                "ConfigMap", NAMESPACE, source["configMapRef"]["name"]
            )
            documents.append(yaml.safe_load(config_map["data"]["values.yaml"]))
        return values_hash(merge_all(documents), bundle["metadata"]["uid"])

    def teardown(self) -> None:
        """Say what the run exercised (``--hypothesis-show-statistics``)."""
        jobs = len(self.world.jobs)
        event(f"jobs created: {'0' if not jobs else '1-3' if jobs <= 3 else '4+'}")
        event(f"restarts: {min(self.world.restarts, 3)}{'+' if self.world.restarts > 3 else ''}")
        event(f"crashed mid-pass: {self.crashes > 0}")
        event(f"converged: {self.retries > 0}")
        failed = any(j.result == "Failed" for j in self.world.jobs.values())
        event(f"a Job failed: {failed}")

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def every_job_was_allowed_when_it_was_made(self) -> None:
        assert [] == self.violations

    @invariant()
    def at_most_one_active_job_per_bundle(self) -> None:
        active = Counter(
            job["metadata"]["labels"][names.LABEL_BUNDLE_UID] for job in self.world.active_jobs()
        )
        assert {} == {uid: count for uid, count in active.items() if count > 1}

    @invariant()
    def every_job_has_the_secrets_its_pod_mounts(self) -> None:
        assert [] == missing_secrets(self.world)

    @invariant()
    def status_is_consistent(self) -> None:
        for name in URLS:
            bundle = self.world.bundle(name)
            if bundle is None:
                continue
            metadata = bundle["metadata"]
            status = decode_status(bundle.get("status") or {})
            assert status.observed_generation <= metadata["generation"]
            stalled = status.condition("Stalled")
            if stalled is not None and stalled.status == "True":
                assert "False" == _ready(status)
            history = status.version_history
            assert len(history) <= 10
            names = [entry.job_name for entry in history]
            assert sorted(set(names)) == sorted(names)
            if status.last_applied_tag is not None:
                ran = {
                    (job.tag, job.digest)
                    for job in self.world.jobs.values()
                    if job.bundle_uid == jobspec.label_value(metadata["uid"])
                    and job.result == "Succeeded"
                }
                assert (status.last_applied_tag, status.last_applied_digest) in ran

    @invariant()
    def polling_continues(self) -> None:
        controller = self.world.controller
        assert controller is not None
        for name, bundle in self._live().items():
            if bundle["spec"].get("suspend"):
                continue
            # The schedule lives in the runtime (a quiet poll writes no nextPollTime): the
            # key is queued no later than its next poll (or a registry backoff) can be,
            # or than the registry's own Retry-After while an outage lasts (up to 10 min,
            # which the operator honours as given).
            key = f"{NAMESPACE}/{name}"
            due = controller.queue.due(key)
            assert due is not None, key
            registry = bundle["spec"]["registry"]
            interval = _duration(registry.get("pollInterval", "15m"))
            url = str(registry["url"]).removeprefix("oci://")
            outage_end = self.outages_end.get(url, max(self.outages_end.values()))
            latest = max(self.now + max(interval * 1.1, timedelta(minutes=9)), outage_end)
            assert due <= latest, (key, due)


def _bundle_of(job: dict[str, Any]) -> str:
    annotations = job["metadata"].get("annotations") or {}
    return annotations.get(names.ANNOTATION_BUNDLE, "").partition("/")[2]


def _rank(tag: str | None) -> int:
    """Semver order within the oracle's universe; -1 for none or a non-semver tag."""
    return RANK.index(tag) if tag in RANK else -1


def _ready(status: BundleStatus) -> str | None:
    ready = status.condition("Ready")
    return ready.status if ready is not None else None


def test_random_histories_keep_every_invariant_and_converge_on_the_best_tag() -> None:
    run_state_machine_as_test(
        WorldMachine,
        settings=settings(
            settings.default,
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
        ),
    )


# -- bugs this machine found: deterministic reproductions ---------------------------------
# All four are fixed; these are their regression tests.


def _apply_tags(world: World) -> list[str]:
    """The tags of the Jobs the cluster saw created, in order."""
    return [job.tag for job in world.jobs.values()]


@pytest.mark.parametrize("change", ["tag deleted", "constraint narrowed"])
def test_a_version_that_lands_while_a_poll_chose_a_lower_one_is_never_downgraded(
    change: str,
) -> None:
    # Regression: a poll made while the 1.2.0 Job ran chose 1.1.0 (the floor was still
    # 1.0.0); once 1.2.0 succeeded the bundle deployed 1.1.0, and after a deleted tag
    # flip-flopped between 1.1.0 and 1.2.0 for ever.
    world = World([values_map(), shop_bundle()])
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(minutes=3))
    world.set_outcome("succeeded", timedelta(minutes=20))
    world.registry.push(SHOP_URL, "1.2.0")
    world.run_for(timedelta(minutes=6))  # the 1.2.0 Job is running
    if change == "tag deleted":
        world.registry.delete(SHOP_URL, "1.2.0")
    else:
        world.patch_bundle("shop", {"spec": {"registry": {"versionConstraint": "<1.2.0"}}})
    world.registry.push(SHOP_URL, "1.1.0")
    world.run_for(timedelta(hours=2))  # polls while the Job runs now choose 1.1.0

    assert ["1.0.0", "1.2.0"] == _apply_tags(world)
    assert "1.2.0" == world.status("shop").last_applied_tag


def test_a_constraint_narrowed_during_a_registry_outage_starts_no_job_outside_it() -> None:
    # Regression: the new generation's poll failed, the desired tag of the old spec
    # stayed, and the changed values made it deploy: 1.1.0 under "~1.0".
    world = World([values_map(), shop_bundle()])
    world.registry.push(SHOP_URL, "1.1.0")
    world.run_for(timedelta(minutes=3))
    assert "1.1.0" == world.status("shop").last_applied_tag
    world.outage(SHOP_URL, timedelta(hours=1))
    world.set_values("replicas: 9\n")  # read on the next pass, with the spec change
    world.patch_bundle("shop", {"spec": {"registry": {"versionConstraint": "~1.0"}}})
    world.run_for(timedelta(minutes=30))

    assert ["1.1.0"] == _apply_tags(world)  # nothing matches ~1.0: no new Job


@pytest.mark.parametrize(
    ("name", "url", "tag", "noticed"),
    [
        ("edge", EDGE_URL, "main", timedelta(minutes=6)),
        # a version tag's digest is re-checked hourly while the tag list is unchanged
        ("shop", SHOP_URL, "1.2.0", timedelta(minutes=66)),
    ],
    ids=["mutable tag", "semver tag re-pushed"],
)
def test_a_tag_deleted_while_its_new_digest_deploys_stays_on_that_digest(
    name: str, url: str, tag: str, noticed: timedelta
) -> None:
    world = World([values_map(), FACTORIES[name]()])
    world.registry.push(url, tag)
    world.run_for(timedelta(minutes=3))
    world.set_outcome("succeeded", timedelta(minutes=20))
    newest = world.registry.push(url, tag)  # a new digest under the same tag
    world.run_for(noticed)  # its Job is running
    world.registry.delete(url, tag)
    world.run_for(timedelta(hours=2))

    # Regression: polls while the Job ran fell back to the digest applied before it,
    # and each Job's success started one for the other digest: d1, d2, d1, ... for ever.
    assert 2 == len(world.jobs)
    assert newest == world.status(name).last_applied_digest


def test_jobs_evicted_from_the_history_are_not_adopted_again() -> None:
    world = World([values_map(), shop_bundle()])
    world.registry.push(SHOP_URL, "1.0.0")
    world.run_for(timedelta(minutes=10))
    for replicas in range(10, 20):  # ten more versions of the values: eleven Jobs
        world.set_values(f"replicas: {replicas}\n")
        world.run_for(timedelta(minutes=10))
    newest = list(world.jobs.values())[-1]
    writes, events = world.writes(), len(world.timeline)

    world.run_for(timedelta(hours=1))  # nothing changes

    assert 11 == len(world.jobs)  # today: ten more, old versions deploy again
    assert newest.values_hash == world.status("shop").last_applied_values_hash
    assert 0 == (world.writes() - writes)[("create", "events")]
    assert [] == [o.type for _, _, o in world.timeline[events:] if o.type != "Polled"]
