"""thumbs survives a SIGKILL of the whole runner and a pause from another
process, redoing at most the images that were in flight."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import wait_for
from thumbs_images import jpeg

N = 36
SIZES = ("--size", "256", "--size", "512", "--size", "1024")
# Results come back in walk order from a window of chunks submitted to the
# pool (one image per chunk); those are "in flight" and may be redone.
IN_FLIGHT_MAX = 8


def make_sources(root: Path) -> Path:
    """N images that take real work (a full 1600x1200 decode for the 1024
    variant), each with distinct content (bytes after the end marker)."""
    first = jpeg(root / "img-000.jpg", (1600, 1200), seed=3, quality=92)
    data = first.read_bytes()
    for k in range(1, N):
        (root / f"img-{k:03d}.jpg").write_bytes(data + f"padding {k}".encode() * 40)
    return root


def data_dir(lib: Path) -> Path:
    return lib.with_name(lib.stem + "-data")


def sidecars(lib: Path) -> dict[str, int]:
    root = data_dir(lib) / "thumbs"
    if not root.is_dir():
        return {}
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.webp")}


def submit(cli, *args) -> int:
    proc = cli("thumbs", *map(str, args), *SIZES, "--max-workers", "1", "--detach", check=True)
    return int(proc.stdout.strip())


def done(store, job: int) -> int:
    rec = store.get(job)
    return (rec.progress.done or 0) if rec.progress.phase == "render" else 0


def reference(cli, tmp_path: Path, tree: Path) -> dict[str, bytes]:
    """Sidecars of an uninterrupted run, in a library of their own."""
    lib = tmp_path / "ref" / "library.db"
    env = {"SDJOBS_LIBRARY": str(lib)}
    try:
        proc = cli("thumbs", tree, *SIZES, env=env)
        assert proc.returncode == 0, proc.stderr
    finally:
        cli("runner", "stop", env=env)
    root = data_dir(lib) / "thumbs"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.webp")}


def test_sigkill_mid_job_then_resume_redoes_only_the_images_in_flight(cli, lib, store, start_runner, tmp_path):
    tree = make_sources(tmp_path / "photos")
    runner = start_runner("--workers", "2")
    job = submit(cli, tree)
    wait_for(lambda: done(store, job) >= 8, timeout=60, what="progress")
    runner.kill_group()
    at_kill = sidecars(lib)
    assert 3 * 8 <= len(at_kill) < 3 * N, "killed too late to test anything"

    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=120).returncode == 0
    rec = store.get(job)
    assert rec.status == "completed" and rec.attempts == 1 and rec.claim == 2  # one crash, two runs
    after = sidecars(lib)
    redone = {p.rsplit("-", 1)[0] for p, m in at_kill.items() if after[p] != m}
    assert len(redone) <= IN_FLIGHT_MAX, f"{len(redone)} images rendered twice"
    out = rec.output
    assert out["images"] == N and out["rendered"] + out["shared"] == N and out["up_to_date"] == 0, out
    assert store._sql("SELECT COUNT(*) FROM thumb_source WHERE status='ok'").fetchone()[0] == N
    assert store._sql("SELECT COUNT(*) FROM thumbnail").fetchone()[0] == 3 * N
    assert not [p for p in (data_dir(lib) / "thumbs").rglob("*.tmp")], "temporary files left behind"
    ref = reference(cli, tmp_path, tree)
    assert sorted(ref) == sorted(after)
    root = data_dir(lib) / "thumbs"
    assert all((root / p).read_bytes() == data for p, data in ref.items()), "differs from an uninterrupted run"


@pytest.mark.parametrize("regenerate", [True])
def test_pause_and_resume_with_regenerate(cli, lib, store, start_runner, tmp_path, regenerate):
    tree = make_sources(tmp_path / "photos")
    for k in (4, 30):  # broken images early and late in walk order: reported once each
        (tree / f"img-{k:03d}-broken.jpg").write_bytes((tree / "img-000.jpg").read_bytes()[:30_000])
    start_runner("--workers", "2")
    first = submit(cli, tree)
    assert cli("jobs", "wait", first, timeout=120).returncode == 1  # completed with errors
    before = sidecars(lib)

    job = submit(cli, tree, "--regenerate")
    wait_for(lambda: done(store, job) >= 8, timeout=60, what="progress")
    assert cli("jobs", "pause", job, check=True).returncode == 0
    wait_for(lambda: store.get(job).status == "paused", what="paused")
    at_pause = sidecars(lib)
    rewritten = {p for p in before if at_pause[p] != before[p]}
    assert 3 * 8 <= len(rewritten) < 3 * N
    cli("jobs", "resume", job, check=True)
    assert cli("jobs", "wait", job, timeout=120).returncode == 1
    rec = store.get(job)
    assert rec.status == "completed-with-errors" and rec.errors == 2
    assert rec.output["images"] == N + 2 and rec.output["rendered"] == N and rec.output["failed"] == 2, rec.output
    events = store._sql("SELECT path FROM job_event WHERE job_id=? AND kind='error'", (job,)).fetchall()
    assert sorted(os.path.basename(os.fsdecode(p)) for (p,) in events) == [
        "img-004-broken.jpg", "img-030-broken.jpg"]
    after = sidecars(lib)
    assert all(after[p] != before[p] for p in before), "--regenerate left images out after the resume"
    redone = {p.rsplit("-", 1)[0] for p in rewritten if after[p] != at_pause[p]}
    assert len(redone) <= IN_FLIGHT_MAX, f"{len(redone)} images rendered twice"
    assert os.path.isdir(data_dir(lib))
