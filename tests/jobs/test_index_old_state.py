"""An index run recorded by an sdjobs from before ``IndexRunState`` (its state a dict of short
keys: ``ti``, ``dti``, ``pcursor``...) resumes after an upgrade to the same index."""

from __future__ import annotations

import dataclasses
import sqlite3

import msgpack
import pytest
from test_index_resume import CHANGES, check_index, index_killed_in, run_state

from sdjobs.jobs.index.state import IndexRunState

OLD_KEYS = {f.name: f.metadata["was"] for f in dataclasses.fields(IndexRunState) if "was" in f.metadata}


def as_older_sdjobs_wrote_it(lib) -> dict:
    """Rewrite the run's state with the keys of the dict it used to be."""
    db = sqlite3.connect(lib, timeout=30)
    try:
        (raw,) = db.execute("SELECT state FROM index_run").fetchone()
        state = msgpack.unpackb(raw, raw=False, unicode_errors="surrogateescape")
        old = {OLD_KEYS.get(k, k): v for k, v in state.items()}
        db.execute("UPDATE index_run SET state=?", (msgpack.packb(old, use_bin_type=True,
                                                                   unicode_errors="surrogateescape"),))
        db.commit()
    finally:
        db.close()
    return old


def test_the_old_keys_are_the_ones_the_index_used():
    assert set(OLD_KEYS.values()) == {"ti", "stack", "keep", "root_total", "step", "pcursor", "dti", "old", "ccursor"}
    assert IndexRunState.load({"ti": 2, "pcursor": b"x"})["ti"] == 2  # and item access by them still works


@pytest.mark.parametrize("phase,reindex", [("discovery", False), ("processing", True)])
def test_a_run_recorded_with_the_old_keys_resumes(cli, lib, tmp_path, monkeypatch, start_runner, phase, reindex):
    root, job = index_killed_in(phase, reindex, cli, lib, tmp_path, monkeypatch, start_runner)
    old = as_older_sdjobs_wrote_it(lib)
    assert ("pcursor" if phase == "processing" else "ti") in old and run_state(lib)[0] == phase

    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0")
    start_runner("--workers", "2")
    cli("jobs", "wait", job, timeout=120)
    rec = cli.json("jobs", "show", job)
    assert rec["status"] == "completed", rec
    check_index(lib, root, rec["output"])
    if reindex:
        assert {k: rec["output"][k] for k in CHANGES} == CHANGES
