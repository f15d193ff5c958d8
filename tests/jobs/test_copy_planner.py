"""copy's planner on real files: what each kind of entry becomes, how small files are batched,
and which entries a resumed run counts."""

from __future__ import annotations

import os
import socket

import pytest

from sdjobs.jobs.copy import planner
from sdjobs.jobs.copy.batch import BatchTask
from sdjobs.jobs.copy.planner import Batcher, Do, Recount, what_to_do
from sdjobs.jobs.copy.walk import Entry, walk


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "small").write_bytes(b"x" * 100)
    with open(root / "large", "wb") as f:  # sparse: large by size, no disk
        f.truncate(planner.SMALL)
    (root / "under").write_bytes(b"")
    os.truncate(root / "under", planner.SMALL - 1)
    (root / "linked").write_bytes(b"l")
    os.link(root / "linked", root / "linked2")
    os.symlink("small", root / "sym")
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()
    (root / "dir").mkdir()
    return root


def kinds(root, **flags) -> dict[str, Do]:
    return {os.path.basename(e.src): what_to_do(e.st, **flags)
            for e in walk([(0, str(root), str(root) + "-dst")], lambda p, exc: None)}


def test_each_kind_of_entry_has_its_step(tree):
    assert kinds(tree, linked=False, throttled=False) == {
        "src": Do.DIR, "dir": Do.DIR, "small": Do.SMALL, "under": Do.SMALL, "large": Do.LARGE,
        "linked": Do.HERE, "linked2": Do.HERE,  # other names: copied here, so the second links to the first
        "sym": Do.SYMLINK, "fifo": Do.SPECIAL, "sock": Do.UNSUPPORTED,
    }


def test_under_a_bandwidth_limit_every_file_is_copied_here(tree):
    got = kinds(tree, linked=False, throttled=True)
    assert {name for name, do in got.items() if do is Do.HERE} == {"small", "under", "large", "linked", "linked2"}
    assert got["sym"] is Do.SYMLINK and got["dir"] is Do.DIR


def test_a_file_whose_inode_was_copied_is_linked_whatever_its_size_or_the_limit(tree):
    got = kinds(tree, linked=True, throttled=True)
    assert {name for name, do in got.items() if do is Do.HARDLINK} == {"small", "under", "large", "linked", "linked2"}
    assert got["fifo"] is Do.SPECIAL  # (linked is about regular files only)


OPTS = BatchTask("0badc0de", False, False, False, ["/d"], ["/s"], [])


def test_batches_fill_to_a_count_or_a_size():
    b = Batcher(OPTS)
    for i in range(planner.BATCH_FILES + 1):
        b.add(f"/s/{i}", f"/d/{i}", 0, 1)
    assert len(b.ready) == 1 and len(b.ready[0].files) == planner.BATCH_FILES
    assert isinstance(b.ready[0], BatchTask) and b.ready[0].token == "0badc0de"
    b.add("/s/big", "/d/big", 0, planner.BATCH_BYTES)
    assert [len(t.files) for t in b.ready] == [planner.BATCH_FILES, 2]
    b.add("/s/last", "/d/last", 0, 1)
    assert [len(t.files) for t in b.rest()] == [planner.BATCH_FILES, 2, 1]


def test_the_first_batches_go_out_at_once_then_the_walk_gets_ahead(monkeypatch):
    monkeypatch.setattr(planner, "BATCH_FILES", 1)
    b = Batcher(OPTS, clock=lambda: 0.0)  # (the walk never outlasts a pull: see the next test)
    out = []
    for i in range(planner.START_AT_ONCE + planner.READY_AHEAD + 10):
        b.add(f"/s/{i}", f"/d/{i}", 0, 1)
        out.extend(t.files[0][0] for t in b.due())
    # START_AT_ONCE as they come, then none until READY_AHEAD wait, then one for each new one
    assert len(out) == planner.START_AT_ONCE + 10
    assert len(b.ready) == planner.READY_AHEAD
    assert out == [f"/s/{i}" for i in range(len(out))], "in walk order"
    assert [t.files[0][0] for t in b.rest()] == [f"/s/{i}" for i in range(len(out), len(out) + planner.READY_AHEAD)]


def test_a_pull_that_has_waited_takes_a_ready_batch_before_the_walk_is_ahead(monkeypatch):
    """The pool is not kept idle while the walk gets READY_AHEAD batches ahead of it."""
    monkeypatch.setattr(planner, "BATCH_FILES", 1)
    now = [0.0]
    b = Batcher(OPTS, clock=lambda: now[0])
    out = []
    for i in range(planner.START_AT_ONCE + 3):
        b.add(f"/s/{i}", f"/d/{i}", 0, 1)
        out.extend(t.files[0][0] for t in b.due())
    assert len(out) == planner.START_AT_ONCE and len(b.ready) == 3  # walking ahead within a pull
    now[0] += planner.PULL_SECONDS * 2  # this pull has waited long enough: one batch, the oldest
    pull = b.due()
    assert next(pull).files[0][0] == f"/s/{planner.START_AT_ONCE}"
    assert next(pull, None) is None and len(b.ready) == 2  # the next pull starts its own wait


def entry(top: int, src: str) -> Entry:
    return Entry(src, src.replace("/s", "/d"), os.lstat("/"), top)


def test_a_resume_counts_only_what_lies_beyond_the_point_an_earlier_run_reached():
    sources = ["/s0", "/s1"]
    state = {"walked": [0, "/s0/b/c"]}
    recount = Recount(state, sources, resumed=True)
    order = [(0, "/s0"), (0, "/s0/a"), (0, "/s0/b"), (0, "/s0/b/c")]
    assert [recount.counting(entry(t, s)) for t, s in order] == [False] * 4
    assert state["walked"] == [0, "/s0/b/c"], "a run paused before the point keeps it"
    assert recount.counting(entry(0, "/s0/b/d")) and recount.counting(entry(1, "/s1"))
    assert state["walked"] == [1, "/s1"]


def test_a_first_run_counts_everything_and_notes_how_far_it_got():
    state: dict = {"walked": [1, "/s1/z"]}  # (not a resume: ignored)
    recount = Recount(state, ["/s0", "/s1"], resumed=False)
    assert recount.counting(entry(0, "/s0/a")) and state["walked"] == [0, "/s0/a"]
