"""SIGKILL mid-job, then resume, for dupes, validate and delete: the whole runner
process group dies; a new runner picks the job up from its last checkpoint and
ends with the result an uninterrupted run gives."""

from __future__ import annotations

import json
import os
import random
from urllib.parse import unquote_to_bytes

from conftest import wait_for
from dupes_helpers import brute_force, run_inline, write

from sdjobs.core import codec

MB = 1 << 20


def state_of(store, job):
    data, _ = store.read_checkpoint(job)
    return codec.unpack(data) if data else None


def kill_midway(cli, store, start_runner, args: list, ready, what: str, exit_code: int = 0) -> int:
    runner = start_runner()
    job = int(cli(*args, "--detach", check=True).stdout)
    wait_for(lambda: ready(store.get(job), state_of(store, job)), timeout=60, what=what)
    runner.kill_group()
    assert store.get(job).status == "running"  # as the crash left it
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=120).returncode == exit_code
    rec = store.get(job)
    assert rec.attempts == 1 and rec.claim == 2  # one crash, two runs
    assert any("resumed from a checkpoint" in e.message for e in store.events(job)) or args[0] == "delete"
    return job


def test_dupes_resumes_after_sigkill(cli, store, start_runner, tmp_path):
    rng = random.Random(7)
    root = tmp_path / "t"
    for i in range(24):  # 24 pairs of 1 MiB copies: head and tail agree, so all are read in full
        data = rng.randbytes(MB)
        write(root / f"d{i % 3}" / f"f{i}", data)
        write(root / "copies" / f"f{i}", data)
    job = kill_midway(cli, store, start_runner, ["dupes", root, "--bwlimit", "4M"],
                      lambda rec, st: st and st.get("stage") == "compare" and st["done"] > 0
                      and rec.progress.phase == "compare full hashes", "a checkpoint in the full pass")
    data = json.loads(cli("jobs", "show", job, "--json", check=True).stdout)
    from sdjobs.jobs.dupes.results import results_of

    res = results_of(store, int(job))
    assert {frozenset(g["paths"]) for g in res["groups"]} == brute_force([root])
    assert data["output"]["read_bytes"] == 48 * (4096 * 2 + MB)  # nothing read twice: the tally is restored


def test_validate_resumes_after_sigkill(cli, store, start_runner, tmp_path, lib):
    rng = random.Random(8)
    root = tmp_path / "t"
    for i in range(40):
        write(root / f"f{i:02}.bin", rng.randbytes(MB))
    assert run_inline(store, "index", {"path": str(root), "full_hash": True}).status == "completed"
    victim = root / "f33.bin"  # silent corruption after the point where the job is killed
    st = victim.stat()
    blob = bytearray(victim.read_bytes())
    blob[5] ^= 1
    victim.write_bytes(bytes(blob))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    job = kill_midway(cli, store, start_runner, ["validate", root, "--mode", "integrity", "--bwlimit", "4M"],
                      lambda rec, st: st and 0 < st["done"] < 30, "a checkpoint mid-check",
                      exit_code=1)  # a critical issue: completed-with-errors
    assert store.get(job).status == "completed-with-errors" and store.get(job).errors == 1
    out = store.get(job).output
    assert out["checked"] == 40 and out["counts"]["critical"] == 1
    from sdjobs.jobs.dupes.results import results_of

    assert [i["path"] for i in results_of(store, job)["issues"]] == [str(victim)]


def test_delete_resumes_after_sigkill(cli, store, start_runner, tmp_path):
    root = tmp_path / "t"
    names = [f"f{i:03}" for i in range(150)]
    for n in names:
        write(root / n, os.urandom(100_000))
    paths = [str(root / n) for n in names]
    kill_midway(cli, store, start_runner, ["delete", *paths, "--bwlimit", "3M"],
                lambda rec, st: st and 10 < st["i"] < 120, "a checkpoint mid-delete")
    assert os.listdir(root) == []
    trash = tmp_path / "xdg-data" / "Trash"
    files = os.listdir(trash / "files")
    assert len(files) == 150  # each file trashed exactly once
    infos, orphans = {}, []
    for info in os.listdir(trash / "info"):
        if info[:-len(".trashinfo")] not in files:
            orphans.append(info)  # an info is complete from birth and taken over on resume
            continue
        text = (trash / "info" / info).read_text()
        infos[info] = unquote_to_bytes(text.split("Path=")[1].split("\n")[0]).decode()
    assert orphans == []
    assert sorted(infos.values()) == sorted(os.path.join(os.path.realpath(root), n) for n in names)
