"""copy's batches of small files: a batch that runs out of time hands the rest back, and nothing is lost."""

from __future__ import annotations

import os

import pytest
from dupes_helpers import run_inline
from test_copy import many_small, snapshot, temps

from sdjobs.fs import copyfile as cf
from sdjobs.jobs.copy import batch as copy_batch
def test_a_batch_out_of_time_returns_the_files_it_did_not_start(tmp_path, monkeypatch):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    files = []
    for i in range(5):
        (src / f"f{i}").write_bytes(b"x" * i)
        files.append((str(src / f"f{i}"), str(dst / f"f{i}"), 0, i, True))
    monkeypatch.setattr(copy_batch, "BATCH_SECONDS", 0.0)
    task = copy_batch.BatchTask("0badc0de", False, False, False, [str(tmp_path)], [str(tmp_path)], files)
    result = copy_batch.copy_batch(task)
    assert result == copy_batch.BatchResult(done=1, nbytes=0, last=files[0][0], problems=[], rest=files[1:],
                                            planned=0, ahead=0, missed=[])
    assert os.listdir(dst) == ["f0"]


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync"])
def test_a_move_batch_makes_its_copies_durable_before_it_removes_a_source(tmp_path, monkeypatch, syncfs):
    """One syncfs of the destination's filesystem for the whole batch where syncfs reports
    write-back errors; else a fsync of each file and of its folder; either before any source goes."""
    if syncfs and not cf.HAVE_SYNCFS:
        pytest.skip("no syncfs that reports errors here")
    monkeypatch.setattr(cf, "HAVE_SYNCFS", syncfs)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    files = []
    for i in range(5):
        (src / f"f{i}").write_bytes(os.urandom(100 + i))
        files.append((str(src / f"f{i}"), str(dst / f"f{i}"), 0, 100 + i, True))
    want = {f"f{i}": (src / f"f{i}").read_bytes() for i in range(5)}
    events: list[str] = []

    def spy(name, real):
        return lambda *a, **k: (events.append(name), real(*a, **k))[1]

    monkeypatch.setattr(os, "fsync", spy("fsync", os.fsync))
    monkeypatch.setattr(cf, "sync_filesystem", spy("syncfs", cf.sync_filesystem))
    monkeypatch.setattr(os, "unlink", spy("unlink", os.unlink))
    task = copy_batch.BatchTask("0badc0de", True, True, False, [str(tmp_path)], [str(tmp_path)], files)
    result = copy_batch.copy_batch(task)
    assert (result.done, result.problems) == (5, [])
    assert {p.name: p.read_bytes() for p in dst.iterdir()} == want and not os.listdir(src)
    before_removals = events[:events.index("unlink")]
    assert events.count("unlink") == 5
    assert before_removals == (["syncfs"] if syncfs else ["fsync"] * 6), events  # (5 files, then their folder)


def test_a_copy_whose_every_batch_runs_out_of_time_still_copies_everything(store, lib, tmp_path, monkeypatch):
    src = tmp_path / "src"
    many_small(src, dirs=2, per_dir=150)
    monkeypatch.setattr(copy_batch, "BATCH_SECONDS", 0.0)  # the pool is forked after this: its workers see it too
    rec = run_inline(store, "copy", {"sources": [str(src)], "dest": str(tmp_path / "dst")})
    assert rec.status == "completed", rec.error
    assert rec.output["files"] == 300
    assert snapshot(tmp_path / "dst") == snapshot(src)
    assert temps(tmp_path / "dst") == []
