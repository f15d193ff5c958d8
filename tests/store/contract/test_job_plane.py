"""The job plane's contract (``sdjobs/store/job_plane.py``), in huey's StorageTests pattern.

``JobPlaneTests`` exercises a store through its verbs only: no SQL, no private attribute,
no knowledge of the backend. ``TestJobPlane`` runs it against every backend of the
``job_plane`` fixture (``job_plane_backends.py``); a new backend must pass it unchanged.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
from job_plane_backends import BACKENDS

from sdjobs.core.errors import LeaseLost, NotFound
from sdjobs.core.status import FINISHED, Status
from sdjobs.store.job_plane import JobPlane
from sdjobs.store.results import keyed

CFG = {"sources": ["/a"], "dest": "/b"}
METRICS = {"bytes": 0, "items": 0, "warnings": 0, "errors": 0}


def run(store, runner_id: int, job_id: int):
    """Claim the next runnable job, which must be ``job_id``; returns its record."""
    [rec] = store.claim(runner_id, 1)
    assert rec.id == job_id, f"job {rec.id} was claimed, not {job_id}"
    return rec


class JobPlaneTests:
    @pytest.fixture(params=sorted(BACKENDS))
    def backend(self, request):
        return BACKENDS[request.param]

    @pytest.fixture
    def job_plane(self, backend, tmp_path):
        store = backend(tmp_path)
        yield store
        store.close()

    @pytest.fixture
    def another_client(self, backend, job_plane, tmp_path):
        """A second client of ``job_plane``'s store (as another process would be)."""
        store = backend(tmp_path)
        yield store
        store.close()

    @pytest.fixture
    def runner(self, job_plane):
        runner_id = job_plane.register_runner(2, "test")
        yield runner_id
        job_plane.unregister_runner(runner_id)

    def test_it_is_a_job_plane(self, job_plane):
        assert isinstance(job_plane, JobPlane)

    # -- submit, read -----------------------------------------------------------
    def test_submit_and_read_back(self, job_plane):
        job_id = job_plane.submit("copy", 2, CFG, priority=5, context={"argv": ["sdjobs", "copy"]},
                                  settings={"max_workers": 3})
        rec = job_plane.get(job_id)
        assert (rec.type, rec.type_version, rec.status, rec.priority) == ("copy", 2, "queued", 5)
        assert rec.config == CFG and rec.settings == {"max_workers": 3}
        assert rec.context["argv"] == ["sdjobs", "copy"]
        assert job_plane.read_settings(job_id) == {"max_workers": 3}
        assert job_plane.job_status(job_id) == "queued"
        head = job_plane.job_head(job_id)
        assert (head.id, head.type, head.status, head.priority) == (job_id, "copy", "queued", 5)
        assert job_plane.counts() == {"queued": 1}

    def test_a_missing_job(self, job_plane):
        with pytest.raises(NotFound):
            job_plane.get(12345)
        assert job_plane.job_status(12345) is None and job_plane.job_head(12345) is None
        with pytest.raises(NotFound):
            job_plane.submit("copy", 1, CFG, after=[12345])

    def test_list_jobs_active_first_then_history_newest_first(self, job_plane, runner):
        a = job_plane.submit("copy", 1, CFG)
        b = job_plane.submit("copy", 1, CFG)
        c = job_plane.submit("copy", 1, CFG, priority=9)
        done = run(job_plane, runner, c)
        assert job_plane.finish(c, Status.COMPLETED, claim=done.claim)
        d = job_plane.submit("delete", 1, CFG, priority=1)
        assert [r.id for r in job_plane.list_jobs()] == [d, a, b, c]
        assert [r.id for r in job_plane.list_jobs(statuses=["completed"])] == [c]
        assert [r.id for r in job_plane.list_jobs(types=["delete"])] == [d]
        assert [r.id for r in job_plane.list_jobs(ids=[a, c])] == [a, c]
        assert [r.id for r in job_plane.list_jobs(limit=2)] == [d, c]  # a page: newest first
        assert [r.id for r in job_plane.list_jobs(before_id=c, limit=2)] == [b, a]
        assert job_plane.count_jobs() == 4 and job_plane.count_jobs(statuses=["queued"]) == 3
        assert [i for i, _ in job_plane.find_job_stamps(types=["delete"])] == [d]
        assert {i for i, _ in job_plane.job_stamps(10)} == {a, b, c, d}

    # -- claiming -------------------------------------------------------------
    def test_claim_takes_highest_priority_then_oldest(self, job_plane, runner):
        low_old = job_plane.submit("copy", 1, CFG, priority=0)
        high_old = job_plane.submit("copy", 1, CFG, priority=5)
        low_new = job_plane.submit("copy", 1, CFG, priority=0)
        high_new = job_plane.submit("copy", 1, CFG, priority=5)
        top = job_plane.submit("copy", 1, CFG, priority=9)
        assert [r.id for r in job_plane.claim(runner, 2)] == [top, high_old]
        assert [r.id for r in job_plane.claim(runner, 1)] == [high_new]
        assert [r.id for r in job_plane.claim(runner, 10)] == [low_old, low_new]
        assert job_plane.claim(runner, 10) == [] and not job_plane.has_runnable()
        assert sorted(job_plane.owned_by(runner)) == sorted([low_old, high_old, low_new, high_new, top])
        assert {r.status for r in job_plane.list_jobs()} == {"running"}

    def test_a_job_is_claimed_once(self, job_plane, runner):
        other = job_plane.register_runner(1, "test")
        job_id = job_plane.submit("copy", 1, CFG)
        assert [r.id for r in job_plane.claim(runner, 5)] == [job_id]
        assert job_plane.claim(other, 5) == []
        job_plane.unregister_runner(other)

    def test_set_priority_reorders_the_queue(self, job_plane, runner):
        a = job_plane.submit("copy", 1, CFG)
        b = job_plane.submit("copy", 1, CFG)
        job_plane.set_priority(b, 3)
        assert [r.id for r in job_plane.claim(runner, 1)] == [b]
        assert [r.id for r in job_plane.claim(runner, 1)] == [a]

    def test_a_job_waits_for_its_dependencies(self, job_plane, runner):
        first = job_plane.submit("copy", 1, CFG)
        second = job_plane.submit("copy", 1, CFG, after=[first], priority=9)
        assert job_plane.get(second).depends_on == [first]
        assert [r.id for r in job_plane.claim(runner, 5)] == [first]
        assert job_plane.dependencies([second]) == {second: [first]}
        assert "after" in job_plane.waiting(job_plane.list_jobs(ids=[second]))[second]
        job_plane.finish(first, Status.COMPLETED, runner_id=runner)
        assert [r.id for r in job_plane.claim(runner, 5)] == [second]

    def test_a_failed_dependency_fails_its_dependents(self, job_plane, runner):
        first = job_plane.submit("copy", 1, CFG)
        second = job_plane.submit("copy", 1, CFG, after=[first])
        third = job_plane.submit("copy", 1, CFG, after=[second])
        run(job_plane, runner, first)
        job_plane.finish(first, Status.FAILED, runner_id=runner, error="boom")
        assert sorted(job_plane.fail_dependents()) == [second, third]
        assert job_plane.job_status(second) == job_plane.job_status(third) == "failed"
        assert "dependency-failed" in job_plane.get(second).error
        late = job_plane.submit("copy", 1, CFG, after=[first])  # after a job already failed
        assert job_plane.job_status(late) == "failed"

    def test_children(self, job_plane, runner):
        parent = job_plane.submit("dupes", 1, CFG)
        rec = run(job_plane, runner, parent)
        kid = job_plane.submit("validate", 1, CFG, parent_id=parent, parent_claim=rec.claim)
        assert job_plane.children_status(parent) == [(kid, "queued")]
        assert job_plane.get(parent).children == [kid]
        assert job_plane.get(kid).parent_id == parent

    # -- fencing --------------------------------------------------------------
    def test_a_stale_claim_writes_nothing(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        stale = run(job_plane, runner, job_id)
        job_plane.set_pid(job_id, 4242, stale.claim)
        job_plane.write(job_id, {"phase": "one"}, {**METRICS, "items": 1}, [], (b"first", 1), claim=stale.claim)
        assert not job_plane.crashed(job_id, stale.claim, "the process died")  # queued again: one attempt used
        assert job_plane.job_status(job_id) == "queued"
        fresh = run(job_plane, runner, job_id)
        assert fresh.claim != stale.claim
        with pytest.raises(LeaseLost):
            job_plane.write(job_id, {"phase": "stale"}, {**METRICS, "items": 99}, [], (b"stale", 9),
                            claim=stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.check_claim(job_id, stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.read_control(job_id, claim=stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.set_pid(job_id, 1, stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.log(job_id, "stale line", claim=stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.record_event(job_id, "phase-start", "stale phase", {"phase": "x"}, claim=stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.append_results(job_id, [keyed({"path": "/x"})], start=0, claim=stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.submit("copy", 1, CFG, parent_id=job_id, parent_claim=stale.claim)
        with pytest.raises(LeaseLost):
            job_plane.finish(job_id, Status.COMPLETED, claim=stale.claim)
        rec = job_plane.get(job_id)
        assert rec.status == "running" and rec.items_done == 1 and rec.progress.phase == "one"
        assert job_plane.read_checkpoint(job_id) == (b"first", 1)
        assert "stale line" not in [e.message for e in job_plane.events(job_id)]
        assert job_plane.count_results(job_id) == 0 and rec.children == []
        job_plane.check_claim(job_id, fresh.claim)  # the fresh claim writes
        assert job_plane.finish(job_id, Status.COMPLETED, claim=fresh.claim)

    def test_a_runner_finishes_only_its_own_jobs(self, job_plane, runner):
        other = job_plane.register_runner(1, "test")
        job_id = job_plane.submit("copy", 1, CFG)
        run(job_plane, runner, job_id)
        assert not job_plane.finish(job_id, Status.COMPLETED, runner_id=other)
        assert job_plane.finish(job_id, Status.COMPLETED, runner_id=runner, output={"files": 3})
        assert job_plane.get(job_id).output == {"files": 3}
        job_plane.unregister_runner(other)

    def test_crashes_use_up_the_attempts(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        failed = False
        for _ in range(job_plane.get(job_id).max_attempts):
            assert not failed
            failed = job_plane.crashed(job_id, run(job_plane, runner, job_id).claim, "the process died")
        assert failed and job_plane.job_status(job_id) == "failed"
        assert job_plane.last_event(job_id, "interrupted") is not None

    # -- the running job's writes ---------------------------------------------
    def test_checkpoint_round_trip(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        assert job_plane.read_checkpoint(job_id) == (None, None)
        rec = run(job_plane, runner, job_id)
        state = bytes(range(256)) * 40  # any bytes, NUL and all
        job_plane.write(job_id, {"phase": "copy"}, {"bytes": 10, "items": 2, "warnings": 1, "errors": 0},
                        [(time.time(), "warning", "/a/b", "odd")], (state, 7), claim=rec.claim)
        assert job_plane.read_checkpoint(job_id) == (state, 7)
        job_plane.write(job_id, None, {"bytes": 20, "items": 3, "warnings": 1, "errors": 0}, [], None, claim=rec.claim)
        assert job_plane.read_checkpoint(job_id) == (state, 7)  # no checkpoint: the last one stays
        got = job_plane.get(job_id)
        assert (got.bytes_done, got.items_done, got.warnings, got.progress.phase) == (20, 3, 1, "copy")
        job_plane.crashed(job_id, rec.claim, "the process died")
        assert job_plane.read_checkpoint(job_id) == (state, 7)  # a crash keeps it, for the next run
        again = run(job_plane, runner, job_id)
        job_plane.finish(job_id, Status.FAILED, claim=again.claim, error="no")
        assert job_plane.retry(job_id, only_from="failed")
        assert job_plane.read_checkpoint(job_id) == (state, 7)
        run(job_plane, runner, job_id)
        job_plane.finish(job_id, Status.FAILED, runner_id=runner, error="no")
        assert job_plane.retry(job_id, only_from="failed", from_scratch=True)
        assert job_plane.read_checkpoint(job_id) == (None, None)
        assert job_plane.get(job_id).retries == 2

    def test_a_completed_job_drops_its_checkpoint(self, job_plane, runner):
        """Only a job finished with errors can be retried from its checkpoint: a completed one's
        goes (megabytes for dupes, read past on every look at the row's later columns)."""
        state = b"x" * 200_000
        ends = {}
        for status in (Status.COMPLETED, Status.COMPLETED_WITH_ERRORS, Status.FAILED, Status.CANCELLED):
            job_id = job_plane.submit("copy", 1, CFG)
            rec = run(job_plane, runner, job_id)
            job_plane.write(job_id, {"phase": "copy"}, {"bytes": 1, "items": 1, "warnings": 0, "errors": 0}, [],
                            (state, 3), claim=rec.claim)
            assert job_plane.finish(job_id, status, claim=rec.claim, output={"n": 1})
            ends[status] = job_plane.read_checkpoint(job_id)[0] is not None
            assert job_plane.get(job_id).output == {"n": 1}
        assert ends == {Status.COMPLETED: False, Status.COMPLETED_WITH_ERRORS: True, Status.FAILED: True,
                        Status.CANCELLED: True}

    def test_settings_of_a_job(self, job_plane):
        job_id = job_plane.submit("copy", 1, CFG, settings={"bwlimit": "10M"})
        assert job_plane.set_settings(job_id, max_workers=2) == {"bwlimit": "10M", "max_workers": 2}
        assert job_plane.set_settings(job_id, bwlimit=None) == {"max_workers": 2}
        assert job_plane.read_settings(job_id) == {"max_workers": 2}

    # -- control requests -----------------------------------------------------
    def test_control_requests_reach_the_running_job(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        assert not job_plane.set_control(job_id, "pause")  # not running: nothing to ask
        rec = run(job_plane, runner, job_id)
        assert job_plane.read_control(job_id, claim=rec.claim) is None
        assert job_plane.set_control(job_id, "pause")
        assert job_plane.read_control(job_id, claim=rec.claim) == "pause"
        job_plane.request_shutdown(runner)  # a pending pause wins over a shutdown
        assert job_plane.read_control(job_id) == "pause"
        assert job_plane.finish(job_id, Status.PAUSED, claim=rec.claim)
        rec = job_plane.get(job_id)
        assert rec.status == "paused" and rec.control is None and rec.paused_at
        assert not job_plane.claim(runner, 5)  # paused jobs are not claimed
        assert job_plane.set_status(job_id, Status.QUEUED, only_from=["paused"])
        rec = run(job_plane, runner, job_id)
        job_plane.request_shutdown(runner)
        assert job_plane.read_control(job_id, claim=rec.claim) == "shutdown"

    def test_set_status_only_from_the_given_states(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        assert job_plane.set_status(job_id, Status.PAUSED, only_from=["queued"])
        assert not job_plane.set_status(job_id, Status.PAUSED, only_from=["queued"])
        assert job_plane.set_status(job_id, Status.CANCELLED, only_from=["queued", "paused"], error="by request")
        rec = job_plane.get(job_id)
        assert rec.status == "cancelled" and rec.finished_at and rec.error == "by request"
        assert not job_plane.retry(job_id, only_from="failed")
        assert job_plane.retry(job_id, only_from="cancelled")
        assert job_plane.job_status(job_id) == "queued"

    def test_a_cancel_asked_of_a_crashed_job_stays_asked(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, job_id)
        assert job_plane.set_control(job_id, "cancel")
        job_plane.crashed(job_id, rec.claim, "the process died")
        rec = run(job_plane, runner, job_id)
        assert job_plane.read_control(job_id, claim=rec.claim) == "cancel"

    def test_a_pause_asked_of_a_crashed_job_pauses_it(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, job_id)
        assert job_plane.set_control(job_id, "pause")
        job_plane.crashed(job_id, rec.claim, "the process died")
        assert job_plane.job_status(job_id) == "paused"

    # -- events -----------------------------------------------------------------
    def test_events_in_order_with_their_fields(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, job_id)
        job_plane.log(job_id, "line one", claim=rec.claim)
        first = job_plane.record_event(job_id, "phase-start", "scan", {"phase": "scan"}, claim=rec.claim)
        job_plane.write(job_id, None, METRICS, [(time.time(), "warning", "/x/é", "odd name"),
                                                (time.time(), "error", None, "broke")], None, claim=rec.claim)
        job_plane.amend_event(first, "scan (done)", {"phase": "scan", "files": 3})
        evs = job_plane.events(job_id)
        mine = [(e.kind, e.message) for e in evs if e.kind in ("log", "phase-start", "warning", "error")]
        assert mine == [("log", "line one"), ("phase-start", "scan (done)"), ("warning", "odd name"),
                        ("error", "broke")]
        assert [e.id for e in evs] == sorted(e.id for e in evs)
        assert next(e for e in evs if e.kind == "warning").path == "/x/é"
        assert job_plane.last_event(job_id, "phase-start").fields == {"phase": "scan", "files": 3}
        issues = job_plane.events(job_id, kinds=["warning", "error"])
        assert [e.kind for e in issues] == ["warning", "error"]
        assert [e.kind for e in job_plane.events(job_id, kinds=["warning", "error"], limit=1, newest=True)] == ["error"]
        assert [e.kind for e in job_plane.events(job_id, kinds=["warning", "error"], limit=1)] == ["warning"]
        assert job_plane.events(job_id, after_id=evs[-1].id) == []
        assert job_plane.last_event(job_id, "no-such-kind") is None

    def test_a_message_with_a_nul_or_a_name_that_is_not_utf8_is_kept_escaped(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, job_id)
        odd = b"/x/caf\xe9".decode("utf-8", "surrogateescape")
        job_plane.log(job_id, "a\x00b", claim=rec.claim)
        job_plane.write(job_id, None, METRICS, [(time.time(), "warning", odd, f"cannot read {odd}\x00")], None,
                        claim=rec.claim)
        job_plane.finish(job_id, Status.FAILED, claim=rec.claim, error="bad\x00name")
        evs = job_plane.events(job_id, kinds=["log", "warning"])
        assert [e.message for e in evs] == ["a\\x00b", "cannot read /x/caf\\xe9\\x00"]
        assert evs[1].path == odd  # the path itself, exactly
        assert job_plane.get(job_id).error == "bad\\x00name"

    def test_submitted_and_finished_are_recorded(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, job_id)
        job_plane.finish(job_id, Status.COMPLETED, claim=rec.claim)
        assert job_plane.last_event(job_id, "submitted") is not None
        assert job_plane.contexts_since(0)[0][0] == job_id

    # -- results --------------------------------------------------------------
    def test_results_round_trip(self, job_plane, runner):
        job_id = job_plane.submit("validate", 1, CFG)
        rec = run(job_plane, runner, job_id)
        rows = [{"path": f"/f{i}", "size": i * 10, "severity": "error" if i % 4 == 0 else "info"} for i in range(10)]
        n = job_plane.append_results(job_id, [keyed(r) for r in rows[:6]], start=0, columns=["path", "size"],
                                     name="problems", claim=rec.claim)
        assert n == 6
        job_plane.append_results(job_id, [keyed(r) for r in rows[6:]], start=6, columns=["severity"],
                                 claim=rec.claim)
        assert job_plane.results_name(job_id) == "problems"
        assert job_plane.results_columns(job_id) == ["path", "size", "severity"]
        assert list(job_plane.result_rows(job_id)) == rows
        assert job_plane.count_results(job_id) == 10
        assert job_plane.count_results(job_id, severity="error") == 3
        assert [r["path"] for r in job_plane.result_rows(job_id, min_size=50)] == ["/f5", "/f6", "/f7", "/f8", "/f9"]
        assert [r["path"] for r in job_plane.result_rows(job_id, offset=8)] == ["/f8", "/f9"]
        assert len(list(job_plane.result_texts(job_id, limit=4))) == 4
        assert job_plane.get(job_id).errors == 3  # error rows count in the job's errors
        assert job_plane.truncate_results(job_id, 5, claim=rec.claim) == 1  # the error rows it dropped
        assert [r["path"] for r in job_plane.result_rows(job_id)] == [f"/f{i}" for i in range(5)]
        assert job_plane.get(job_id).errors == 2
        assert job_plane.results_name(12345) is None and job_plane.count_results(12345) == 0

    # -- browsing, for live views -------------------------------------------------
    def test_browsing_finds_jobs_by_text_in_any_case_and_by_their_configuration(self, job_plane, runner):
        a = job_plane.submit("copy", 1, {"sources": ["/Photos/été"], "dest": "/b"})
        b = job_plane.submit("delete", 1, {"paths": ["/tmp/x_1%"]})
        c = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, a)
        job_plane.finish(a, Status.FAILED, claim=rec.claim, error="Disk FULL")
        assert [i for i, _ in job_plane.job_stamps(10)] == [b, c, a]  # active ones, then history
        assert [i for i, _ in job_plane.find_job_stamps(text="disk full")] == [a]  # any case
        assert [i for i, _ in job_plane.find_job_stamps(text="COPY")] == [c, a]
        assert [i for i, _ in job_plane.find_job_stamps(text="/Photos/été")] == [a]  # in the config, as stored
        assert [i for i, _ in job_plane.find_job_stamps(text="x_1%")] == [b]  # LIKE's wildcards are literal
        assert [i for i, _ in job_plane.find_job_stamps(text="x_12")] == []
        assert [i for i, _ in job_plane.find_job_stamps(text=f"#{b}")] == [b]
        assert [i for i, _ in job_plane.find_job_stamps(statuses=[], order="oldest")] == []
        assert [i for i, _ in job_plane.find_job_stamps(order="oldest", limit=2, offset=1)] == [b, c]
        assert job_plane.count_jobs(types=["copy"]) == 2 and job_plane.count_jobs(active_only=True) == 2
        assert job_plane.list_jobs(statuses=[]) == [] and [r.id for r in job_plane.list_jobs(limit=2)] == [c, b]

    def test_what_a_running_job_waits_for(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        rec = run(job_plane, runner, job_id)
        job_plane.set_waits({job_id: (rec.claim, "a fan-out worker")})
        assert job_plane.waiting([job_plane.get(job_id)]) == {job_id: "a fan-out worker"}
        job_plane.set_waits({job_id: (rec.claim, "another reason")})
        assert job_plane.waiting([job_plane.get(job_id)]) == {job_id: "another reason"}
        job_plane.set_waits({job_id: (rec.claim, None)})
        assert job_plane.waiting([job_plane.get(job_id)]) == {}

    def test_a_retry_is_a_new_run(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG, after=[])
        rec = run(job_plane, runner, job_id)
        job_plane.write(job_id, None, {**METRICS, "bytes": 7, "errors": 2}, [], (b"state", 1), claim=rec.claim)
        job_plane.finish(job_id, Status.FAILED, claim=rec.claim, error="boom")
        assert job_plane.retry(job_id, only_from="failed", from_scratch=True)
        again = job_plane.get(job_id)
        assert (again.status, again.retries, again.errors, again.bytes_done) == ("queued", 1, 0, 0)
        assert job_plane.read_checkpoint(job_id) == (None, None)
        assert not job_plane.retry(job_id, only_from="failed")
        assert run(job_plane, runner, job_id).claim == rec.claim + 1

    # -- retention ------------------------------------------------------------
    def test_prune_removes_only_old_finished_jobs(self, job_plane, runner):
        done = job_plane.submit("copy", 1, CFG)
        failed = job_plane.submit("copy", 1, CFG)
        waiting = job_plane.submit("copy", 1, CFG)
        for job_id, status in ((done, Status.COMPLETED), (failed, Status.FAILED)):
            rec = run(job_plane, runner, job_id)
            job_plane.finish(job_id, status, claim=rec.claim)
        busy = job_plane.submit("copy", 1, CFG, priority=9)
        run(job_plane, runner, busy)
        now = time.time()
        assert job_plane.prune(3600, now=now).jobs == 0  # nothing is an hour old
        assert job_plane.prune(60, failed_older_than=math.inf, now=now + 120).jobs == 1  # failed kept
        assert job_plane.job_status(done) is None and job_plane.job_status(failed) == "failed"
        assert job_plane.prune(60, now=now + 120).jobs == 1
        assert [r.id for r in job_plane.list_jobs()] == [busy, waiting]
        assert job_plane.sweep_results(now=now) == (0, 0)

    # -- runners --------------------------------------------------------------
    def test_runners_heartbeat_and_stop(self, job_plane, runner):
        job_id = job_plane.submit("copy", 1, CFG)
        run(job_plane, runner, job_id)
        assert job_plane.heartbeat(runner, [job_id], 1)
        [me] = [r for r in job_plane.runners() if r.id == runner]
        assert (me.workers, me.busy, me.mode, me.stopping) == (2, 1, "test", 0)
        assert not job_plane.runner_stopping(runner)
        assert job_plane.request_runner_stop(runner) == 1
        assert job_plane.runner_stopping(runner)
        assert job_plane.recover_orphans() == []  # its runner is alive: the job stays running
        gone = job_plane.register_runner(1, "test")
        job_plane.unregister_runner(gone)
        assert not job_plane.heartbeat(gone, [], 0) and job_plane.runner_stopping(gone)

    def test_jobs_of_a_runner_that_is_gone_are_recovered(self, job_plane):
        runner = job_plane.register_runner(1, "test")
        job_id = job_plane.submit("copy", 1, CFG)
        run(job_plane, runner, job_id)
        job_plane.unregister_runner(runner)  # as a runner that died without a word
        assert job_plane.recover_orphans() == [job_id]
        assert job_plane.job_status(job_id) == "interrupted"
        assert job_plane.requeue_interrupted() == 1 and job_plane.job_status(job_id) == "queued"

    # -- schedules ------------------------------------------------------------
    def test_schedules(self, job_plane):
        assert not job_plane.has_schedules() and job_plane.schedules() == []
        sid = job_plane.add_schedule("0 3 * * *", ["copy", "/a", "/b"], "/tmp", now=1000.0)
        assert job_plane.has_schedules()
        s = job_plane.schedule(sid)
        assert (s.cron, s.argv, s.cwd, s.checked_at, s.runs) == ("0 3 * * *", ["copy", "/a", "/b"], "/tmp", 1000.0, 0)
        assert [x.id for x in job_plane.schedules()] == [sid]
        # serving a slot is a compare-and-set: of two runners that read the same checked_at, one wins
        assert job_plane.claim_schedule(sid, 1000.0, 2000.0, submit=True)
        assert not job_plane.claim_schedule(sid, 1000.0, 2001.0, submit=True)
        job_plane.set_schedule_pid(sid, 4242)
        s = job_plane.schedule(sid)
        assert (s.checked_at, s.pending_at, s.pending_pid) == (2000.0, 2000.0, 4242)
        assert job_plane.take_lost_schedule(sid, 2000.0, 2001.0)
        assert not job_plane.take_lost_schedule(sid, 2000.0, 2001.5)
        job_id = job_plane.submit("copy", 1, CFG)
        assert not job_plane.record_schedule_run(sid, job_id=job_id, error=None, pending_at=2000.0, now=2002.0)
        assert job_plane.record_schedule_run(sid, job_id=job_id, error=None, pending_at=2001.0, now=2002.0)
        job_plane.record_schedule_skip(sid, "its job is still running")
        s = job_plane.schedule(sid)
        assert (s.last_job_id, s.last_run_at, s.runs, s.skipped, s.pending_at) == (job_id, 2002.0, 1, 1, None)
        assert s.last_error == "its job is still running"
        assert job_plane.remove_schedule(sid) and not job_plane.remove_schedule(sid)
        with pytest.raises(NotFound):
            job_plane.schedule(sid)

    # -- the library's settings -------------------------------------------------
    def test_library_settings(self, job_plane):
        default = job_plane.library_setting("retention")
        assert job_plane.library_settings() == {}
        stored = job_plane.put_library_setting("retention", "30d")
        assert job_plane.library_setting("retention") == stored
        assert list(job_plane.library_settings()) == ["retention"]
        assert job_plane.unset_library_setting("retention") and not job_plane.unset_library_setting("retention")
        assert job_plane.library_setting("retention") == default

    # -- live views -------------------------------------------------------------
    def test_data_version_moves_when_another_client_writes(self, job_plane, another_client):
        before = job_plane.data_version()
        assert job_plane.data_version() == before
        job_id = another_client.submit("copy", 1, CFG)
        assert job_plane.data_version() != before
        assert job_plane.job_status(job_id) == "queued"

    def test_wait_changed_wakes_when_another_client_writes(self, job_plane, another_client):
        seen = job_plane.data_version()
        writer = threading.Timer(0.2, lambda: another_client.submit("copy", 1, CFG))
        started = time.monotonic()
        writer.start()
        try:
            version = job_plane.wait_changed(seen, 30)
        finally:
            writer.join()
        assert version != seen and time.monotonic() - started < 25  # woken, not timed out
        assert job_plane.counts() == {"queued": 1}

    def test_wait_changed_returns_at_its_timeout_when_nothing_changes(self, job_plane):
        seen = job_plane.data_version()
        started = time.monotonic()
        assert job_plane.wait_changed(seen, 0.3) == seen
        assert time.monotonic() - started >= 0.29

    def test_every_finished_status_is_final_for_claims(self, job_plane, runner):
        for status in FINISHED:
            job_id = job_plane.submit("copy", 1, CFG)
            rec = run(job_plane, runner, job_id)
            job_plane.finish(job_id, status, claim=rec.claim)
            assert job_plane.job_status(job_id) == str(status) and job_plane.claim(runner, 5) == []


class TestJobPlane(JobPlaneTests):
    """Every backend of the ``job_plane`` fixture."""
