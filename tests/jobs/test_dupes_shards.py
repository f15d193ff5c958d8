"""dupes in one round (``dupes.shards``): the walk cuts its files into shards by
size and each shard is settled by one worker. It must give what the pass-by-pass
path gives (the same groups in the same order, the same totals, no more bytes
read) and what a brute-force comparison gives, for generated trees with hard
links, several roots and files on both sides of every size threshold; fall back
to the passes when one shard is too big a share; and resume after a SIGKILL
between two shards without reading a settled shard again."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile

from dupes_helpers import brute_force, found, run_inline, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dupes_resume import kill_midway

from sdjobs.jobs.dupes.hashing import EDGE, HEADS_FROM, WHOLE, Pacer, staged_group
from sdjobs.jobs.dupes.results import results_of

SIZES = [0, 1, 100, EDGE - 1, EDGE, EDGE + 1, HEADS_FROM, HEADS_FROM + 1, WHOLE, WHOLE + 1, 70_000, 300_000]
PASS_BY_PASS = {"bwlimit": 10 ** 12}  # a limit never reached: the job goes pass by pass


def make(root: str, seed: int, n: int) -> None:
    """``n`` files over a few directories: copies, variants differing in one byte
    (first, middle, last), fresh content, hard links within and across directories."""
    rng = random.Random(seed)
    made: dict[int, list[bytes]] = {}
    names: list[str] = []
    for i in range(n):
        r = rng.random()
        if names and r < 0.12:
            src = rng.choice(names)
            dst = os.path.join(root, rng.choice(["a", "b/c", "d"]), f"link{i}")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(src, dst)
            continue
        size = rng.choice(SIZES)
        earlier = made.get(size)
        if earlier and r < 0.5:
            data = rng.choice(earlier)
        elif earlier and size and r < 0.7:
            b = bytearray(rng.choice(earlier))
            b[rng.choice([0, size // 2, size - 1])] ^= 0x5A
            data = bytes(b)
        else:
            data = rng.randbytes(size)
        made.setdefault(size, []).append(data)
        path = os.path.join(root, rng.choice(["a", "b/c", "d", "d/e f"]), f"f{i}")
        write(path, data)
        names.append(path)


def by_inode(groups: set[frozenset[str]]) -> set[frozenset[tuple[int, int]]]:
    """Groups as sets of inodes: which name of an inode stands for it is a matter of
    rules (the job: the first argument's, then the first path; brute_force: the first path)."""
    return {frozenset((st.st_dev, st.st_ino) for st in map(os.lstat, g)) for g in groups}


def phases(store, job: int) -> list[str]:
    return [e.fields["phase"] for e in store.events(job, kinds=["phase-start"])]


def run(store, lib, paths, **kw):
    rec = run_inline(store, "dupes", {"paths": paths, "library": str(lib), **kw.pop("config", {})}, **kw)
    assert rec.status == "completed", (rec.status, rec.error)
    return rec, results_of(store, rec.id)["groups"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 80), roots=st.sampled_from([1, 2]),
       min_size=st.sampled_from([0, 1]))
def test_one_round_gives_what_the_passes_give(store, lib, seed, n, roots, min_size):
    print(f"replay: seed={seed} n={n} roots={roots} min_size={min_size}")
    top = tempfile.mkdtemp(prefix="shards-")
    try:
        make(top, seed, n)
        paths = [top] if roots == 1 else [os.path.join(top, "d"), os.path.join(top, "a")]
        paths = [p for p in paths if os.path.isdir(p)]
        one, groups = run(store, lib, paths, config={"min_size": min_size})
        passes, by_passes = run(store, lib, paths, config={"min_size": min_size}, settings=PASS_BY_PASS)
        assert "compare" in phases(store, one.id) and "compare first 4 KiB" not in phases(store, one.id)
        assert "compare" not in phases(store, passes.id)
        assert groups == by_passes  # the same groups, paths and order
        keys = ("scanned", "candidates", "groups", "duplicates", "wasted")
        assert {k: one.output[k] for k in keys} == {k: passes.output[k] for k in keys}
        # a size group staged whole never reads more than the passes (which read a group of
        # files of 8-32 KiB that is a big share of the work whole, not from its first 4 KiB on)
        assert one.output["read_bytes"] <= passes.output["read_bytes"]
        if min_size:  # brute_force leaves empty files out, as the default does
            assert by_inode(found({"groups": groups})) == by_inode(brute_force(paths))
    finally:
        shutil.rmtree(top)


def test_a_shard_too_big_for_one_worker_goes_pass_by_pass(store, lib, tmp_path, monkeypatch):
    """300 files of one size are one shard, more than a worker's share: the passes
    spread that size group over the workers (a search this small would go in one round
    anyway: the floor is lowered here)."""
    from sdjobs.jobs.dupes import shards

    monkeypatch.setattr(shards, "SMALL_FILES", 64)
    rng = random.Random(3)
    pool = [rng.randbytes(600) for _ in range(4)]
    for i in range(300):
        write(tmp_path / "t" / f"d{i % 7}" / f"g{i}", rng.choice(pool) if i % 3 else rng.randbytes(600))
    write(tmp_path / "t" / "x1", b"x" * 5000)
    write(tmp_path / "t" / "x2", b"x" * 5000)
    rec, groups = run(store, lib, [str(tmp_path / "t")])
    assert "compare first 4 KiB" in phases(store, rec.id)
    assert found({"groups": groups}) == brute_force([tmp_path / "t"])


def _open_under(root) -> list[str]:
    """The files under ``root`` this process has a descriptor of."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # (the listing's own descriptor, closed by now)
        if target.startswith(f"{root}/"):
            targets.append(target)
    return targets


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), held=st.sampled_from([1, 2, 256]),
       size=st.sampled_from([WHOLE + 1, 70_000]))
def test_files_above_whole_opened_once_read_what_three_opens_read(tmp_path_factory, monkeypatch,
                                                                  seed, n, held, size):
    """``_staged_edges`` (one descriptor per file, kept from its first 4 KiB to its last
    step) gives the keys, errors and bytes of the three steps with a descriptor each
    (the paced path), whatever number of descriptors may stay open, and leaks none."""
    print(f"replay: seed={seed} n={n} held={held} size={size}")
    from sdjobs.jobs.dupes import hashing

    monkeypatch.setattr(hashing, "HELD", held)
    rng = random.Random(seed)
    root = tmp_path_factory.mktemp("edges")
    pool = [rng.randbytes(size) for _ in range(3)]
    names, short = [], 0
    for i in range(n):
        r = rng.random()
        b = bytearray(rng.choice(pool))
        if r < 0.45:
            data = bytes(b)
        elif r < 0.75:  # same first 4 KiB as a pooled one, differing in the middle or the last bytes
            b[rng.choice([size // 2, size - 1])] ^= 0x5A
            data = bytes(b)
        elif r < 0.85:
            data = rng.randbytes(size)
        else:  # vanished, or not the size the scan saw
            data = None if r < 0.9 else bytes(b[: rng.choice([10, EDGE, size - 1])])
        path = str(root / f"f{i:02d}")
        if data is not None:
            write(path, data)
            short += max(0, EDGE - len(data))
        names.append(path)
    got = staged_group(names, size)
    assert not _open_under(root)  # (not a count: the collector may close other tests' files meanwhile)
    keys, errors, nbytes = staged_group(names, size, Pacer((0.0, 1e15)))  # each step opens the file
    assert got[0] == keys and [p for p, _ in got[1]] == [p for p, _ in errors]
    assert got[2] == nbytes - short  # the paced steps count 4 KiB for a file shorter than that


def test_resumes_between_shards_after_sigkill(cli, store, start_runner, tmp_path, monkeypatch):
    rng = random.Random(11)
    root = tmp_path / "t"
    for i in range(400):  # many sizes: every shard has work
        size = 5000 + rng.randrange(60_000)
        data = rng.randbytes(size)
        write(root / f"d{i % 5}" / f"f{i}", data)
        if i % 2:
            write(root / "copies" / f"f{i}", data)
    expected = brute_force([root])
    # 16 tasks on 2 workers, a second each: the first checkpoint (5 s) comes mid-run
    monkeypatch.setenv("SDJOBS_DUPES_TEST_DELAY", "1.0")
    job = kill_midway(cli, store, start_runner, ["dupes", root],
                      lambda rec, st: st and st.get("stage") == "shards" and st["done"] > 0,
                      "a checkpoint between shards")
    res = results_of(store, int(job))
    assert {frozenset(g["paths"]) for g in res["groups"]} == expected
    out = json.loads(cli("jobs", "show", job, "--json", check=True).stdout)["output"]
    whole = run_inline(store, "dupes", {"paths": [str(root)]})
    assert out["read_bytes"] == whole.output["read_bytes"]  # no shard counted twice: the tally is restored
    assert out["groups"] == whole.output["groups"] == len(expected)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 1 << 20), max_size=300), count=st.sampled_from([1, 7, 251]),
       known=st.booleans())
def test_cut_puts_each_file_in_its_shard_once(sizes, count, known):
    from sdjobs.jobs.dupes.scan import Files, unpack
    from sdjobs.jobs.dupes.shards import cut

    files = Files()
    for i, size in enumerate(sizes):
        files.add(f"/t/f{i}", size, 1000 + i, 7, i, 0)
        files.known[-1] = f"F{i}" if known and i % 2 else ""
    got = {}
    for k, piece in enumerate(cut(files, count)):
        if piece is None:
            continue
        packed, nbytes = piece
        part = unpack(packed)
        assert {s % count for s in part.sizes} == {k} and nbytes == sum(part.sizes)
        for j, p in enumerate(part.paths):
            got[p] = (part.sizes[j], part.inos[j], part.mtimes[j], part.known[j])
    want = {p: (files.sizes[i], files.inos[i], files.mtimes[i], files.known[i]) for i, p in enumerate(files.paths)}
    assert got == want


@settings(max_examples=40, deadline=None)
@given(shard_files=st.lists(st.integers(0, 60_000), min_size=1, max_size=251), workers=st.sampled_from([1, 2, 8]))
def test_tasks_cover_every_shard_once_biggest_first_none_much_over_a_batch(shard_files, workers):
    from sdjobs.jobs.dupes.groups import BATCH_FILES
    from sdjobs.jobs.dupes.shards import SHARDS_PER_WORKER, tasks

    found = [[[], n, n * 1000] for n in shard_files]
    out = tasks(found, workers)
    live = [k for k, n in enumerate(shard_files) if n > 1]
    assert sorted(k for ks in out for k in ks) == live
    firsts = [found[ks[0]][2] for ks in out]
    assert firsts == sorted(firsts, reverse=True)  # the most bytes first
    for ks in out:  # over a batch only by its last shard (or as one shard)
        assert sum(found[k][1] for k in ks[:-1]) < max(BATCH_FILES, sum(shard_files) // (SHARDS_PER_WORKER * workers))
