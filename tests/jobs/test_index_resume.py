"""index: a SIGKILL of the whole runner in each phase resumes to the same index."""

import os
import sqlite3

import msgpack
import pytest
from conftest import wait_for
from index_helpers import entries, expected, location, make_tree, subtree_sums

from sdjobs.fs.hashing import cas_id
from sdjobs.jobs.index.state import IndexRunState


def grow(root, n=60):
    for i in range(n):
        d = root / f"d{i % 4}" / f"s{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:03d}.dat").write_bytes(os.urandom(i * 37 % 500 + 1))


def mutate(root):
    """1 new, 2 modified, 1 moved, 2 deleted (counted by kind: see CHANGES)."""
    (root / "d0" / "brand-new.txt").write_text("new")
    with open(root / "docs" / "a.txt", "a") as f:
        f.write("appended")
    with open(root / "d1" / "s1" / "f001.dat", "wb") as f:
        f.write(b"rewritten")
    os.rename(root / "d2" / "s2" / "f002.dat", root / "d3" / "moved.dat")
    os.unlink(root / "docs" / "empty")
    os.unlink(root / "d3" / "s0" / "f003.dat")


CHANGES = {"new": 1, "modified": 2, "moved": 1, "deleted": 2}


def run_state(lib):
    db = sqlite3.connect(lib, timeout=30)
    try:
        row = db.execute("SELECT phase, cursor, state FROM index_run").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return None if row is None else (row[0], row[1], msgpack.unpackb(row[2], raw=False,
                                                                     unicode_errors="surrogateescape"))


def mid(phase):
    """A predicate: the run is part-way through ``phase``, with something committed in it."""
    def check(lib):
        r = run_state(lib)
        if r is None or r[0] != phase:
            return False
        st = IndexRunState.load(r[2])  # the keys of either generation
        if phase == "discovery":
            return st.found > 0
        if phase == "processing":
            return st.diff_step == "chunks" and bool(st.diff_cursor)
        if phase == "content":
            return st.content_cursor > 0
        return True
    return check


def check_index(lib, root, out):
    got = entries(lib, root)
    want = expected(root)
    assert set(got) == want
    for rel, (kind, size, cas, *_rest) in got.items():
        if kind == "file" and size:
            assert cas == cas_id(os.path.join(root, rel), size), rel
    for rel, sums in subtree_sums(root, want).items():
        assert got[rel][4:] == sums, rel
    loc = location(lib, root)
    assert loc["entries"] == len(want) == out["entries"]
    assert loc["total_size"] == sum(v[1] for v in got.values() if v[0] == "file")
    assert out["walked"] == len(want)  # nothing walked twice


def index_killed_in(phase, reindex, cli, lib, tmp_path, monkeypatch, start_runner):
    """An index of a generated tree (a re-index of it, mutated, with ``reindex``) whose runner
    is SIGKILLed in the middle of ``phase``: (its root, the job's id)."""
    monkeypatch.setenv("SDJOBS_INDEX_BATCH", "8")
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    grow(root)
    if reindex:
        cli("index", str(root), check=True)
        cli("runner", "stop", check=True)
        mutate(root)
    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0.15")
    runner = start_runner("--workers", "2")
    job = cli("index", str(root), "--detach", check=True).stdout.strip()
    wait_for(lambda: mid(phase)(lib), timeout=60, interval=0.02, what=f"the middle of {phase}")
    runner.kill_group()
    return root, job


@pytest.mark.parametrize("phase,reindex", [
    ("discovery", False), ("content", False),
    ("discovery", True), ("processing", True), ("aggregation", True), ("content", True),
])
def test_sigkill_in_each_phase_resumes_to_the_same_index(cli, lib, tmp_path, monkeypatch, start_runner,
                                                         phase, reindex):
    root, job = index_killed_in(phase, reindex, cli, lib, tmp_path, monkeypatch, start_runner)
    assert run_state(lib)[0] == phase  # killed before the phase ended
    assert cli.json("jobs", "show", job)["status"] in ("running", "interrupted")  # it crashed

    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0")
    start_runner("--workers", "2")
    cli("jobs", "wait", job, timeout=120)
    rec = cli.json("jobs", "show", job)
    assert rec["status"] == "completed", rec
    out = rec["output"]
    check_index(lib, root, out)
    n_files = sum(1 for v in entries(lib, root).values() if v[0] == "file" and v[1])
    if reindex:
        assert {k: out[k] for k in CHANGES} == CHANGES
        assert out["identified"] == 3  # the new, and the two modified files
    else:
        assert out["new"] == out["entries"]
        assert out["identified"] == n_files  # each file counted once
    assert run_state(lib) is None  # scratch rows are gone


def pause(lib, job: int) -> None:
    from sdjobs.runner import control
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    store = Store(Library(lib))
    try:
        control.pause(store, job)
    finally:
        store.close()


def test_pause_then_resume_from_another_process(cli, lib, tmp_path, monkeypatch):
    monkeypatch.setenv("SDJOBS_INDEX_BATCH", "8")
    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0.1")
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    grow(root)
    job = cli("index", str(root), "--detach", check=True).stdout.strip()
    wait_for(lambda: mid("discovery")(lib), timeout=60, interval=0.02, what="the middle of discovery")
    pause(lib, int(job))  # (in-process: under load a `jobs pause` command came after discovery had ended)
    wait_for(lambda: cli.json("jobs", "show", job)["status"] == "paused", what="paused")
    found = run_state(lib)[2]["found"]
    assert 0 < found < len(expected(root))
    cli("jobs", "resume", job, check=True)
    cli("jobs", "wait", job, timeout=120)
    out = cli.json("jobs", "show", job)["output"]
    check_index(lib, root, out)


def test_a_second_index_of_the_same_location_waits_for_the_first(cli, lib, tmp_path, monkeypatch):
    monkeypatch.setenv("SDJOBS_INDEX_BATCH", "8")
    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0.3")  # the first still runs when the second comes, under load too
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    first = cli("index", str(root), "--detach", check=True).stdout.strip()
    second = cli("index", str(root / "docs"), "--detach", check=True).stdout.strip()
    assert cli.json("jobs", "show", second)["depends_on"] == [int(first)]
    cli("jobs", "wait", second, timeout=120)
    assert cli.json("jobs", "show", second)["status"] == "completed"
    assert set(entries(lib, root)) == expected(root)
