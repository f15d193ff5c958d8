"""dupes --indexed [--all-hosts]: duplicates across hosts from the index alone (issue 18).

One library, two hosts (``SDJOBS_HOST=a`` and ``b``), each indexing trees of its own: the
same relative paths under different roots, and one path string that both hosts indexed
with different contents (indexed on a, rewritten, indexed on b). The oracle hashes every
file itself as it is indexed; before dupes runs, b's files are deleted from disk and the
shared path holds b's contents, so a process that read a file instead of the index would
get another answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from dupes_helpers import FanOut, execute, run_inline

from sdjobs.jobs.dupes import across
from sdjobs.jobs.dupes.results import results_of

BIG = 300_000  # over the 100 KiB that a content id covers whole: sampled


def _pool(rng: random.Random) -> list[bytes]:
    sizes = [1, 100, 4096, 4096, 102_400, 102_401, BIG, BIG, 70_000]
    return [rng.randbytes(n) for n in sizes]


def _write_tree(root, rng: random.Random, pool: list[bytes], rels: list[str]) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.choice(pool) if rng.random() < 0.9 else b"")


def _manifest(host: str, root) -> dict[tuple[str, str], tuple[tuple, str, int]]:
    """(host, path) -> ((host, dev, inode), sha256, size) of every regular file under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            with open(p, "rb") as f:
                out[(host, p)] = ((host, st.st_dev, st.st_ino), hashlib.sha256(f.read()).hexdigest(), st.st_size)
    return out


def _oracle(*manifests: dict) -> set[frozenset]:
    """Groups of (host, path) with equal bytes, one name per inode (the smallest path)."""
    first: dict[tuple, tuple[str, str]] = {}
    content: dict[tuple, tuple[str, int]] = {}
    for m in manifests:
        for key, (ident, sha, size) in sorted(m.items()):
            if size > 0 and ident not in first:
                first[ident], content[ident] = key, (sha, size)
    by: dict[tuple[str, int], set] = {}
    for ident, key in first.items():
        by.setdefault(content[ident], set()).add(key)
    return {frozenset(g) for g in by.values() if len(g) > 1}


def _groups(res: dict) -> set[frozenset]:
    return {frozenset(zip(g["hosts"], g["paths"], strict=True)) for g in res["groups"]}


def _index(store, monkeypatch, host: str, root, **config) -> None:
    monkeypatch.setenv("SDJOBS_HOST", host)
    rec = run_inline(store, "index", {"path": str(root), **config})
    assert rec.status == "completed", rec.error


def _dupes(store, monkeypatch, host: str, **config):
    monkeypatch.setenv("SDJOBS_HOST", host)
    rec = run_inline(store, "dupes", {"indexed": True, **config})
    assert rec.status in ("completed", "completed-with-errors"), (rec.status, rec.error)
    return rec.output, results_of(store, rec.id)


@pytest.fixture
def two_hosts(store, monkeypatch, tmp_path, request):
    """Index a's and b's trees (full hashes); returns (a's manifest, b's manifest, seed)."""
    seed = getattr(request, "param", 0)
    rng = random.Random(seed)
    pool = _pool(rng)
    rels = [f"d{i % 3}/f{i}.bin" for i in range(14)] + [os.fsdecode(b"d1/caf\xe9-not-utf8.bin")]
    a_root, b_root, same = tmp_path / "a" / "data", tmp_path / "b" / "data", tmp_path / "same"
    _write_tree(a_root, rng, pool, rels)
    os.link(a_root / rels[0], a_root / "d0" / "linked.bin")  # two names of one file: one member
    _write_tree(b_root, rng, pool, rels)
    _write_tree(same, rng, pool, rels[:6])
    man_a = {**_manifest("a", a_root), **_manifest("a", same)}
    _index(store, monkeypatch, "a", a_root, full_hash=True)
    _index(store, monkeypatch, "a", same, full_hash=True)
    shutil.rmtree(same)                      # the same path on b: other contents, one more file
    _write_tree(same, rng, pool, rels[:6] + ["only-b.bin"])
    man_b = {**_manifest("b", b_root), **_manifest("b", same)}
    _index(store, monkeypatch, "b", b_root, full_hash=True)
    _index(store, monkeypatch, "b", same, full_hash=True)
    shutil.rmtree(b_root)                    # b's files are not on this disk: a must not need them
    (same / "only-b.bin").unlink()
    return man_a, man_b, seed


@pytest.mark.parametrize("two_hosts", [0, 1, 2, 3], indirect=True)
def test_groups_across_hosts_equal_an_oracle_from_the_index_alone(store, monkeypatch, two_hosts):
    man_a, man_b, seed = two_hosts
    out, res = _dupes(store, monkeypatch, "a", all_hosts=True)
    assert _groups(res) == _oracle(man_a, man_b), f"seed {seed}"
    assert out["read_bytes"] == 0 and out["all_hosts"], f"seed {seed}"
    assert all(g["hash"] and len(g["hosts"]) == len(g["paths"]) for g in res["groups"]), f"seed {seed}"
    for g in res["groups"]:  # this host's files first
        assert g["hosts"] == sorted(g["hosts"], key=lambda h: h != "a"), f"seed {seed}"
    out, res = _dupes(store, monkeypatch, "a")
    assert _groups(res) == _oracle(man_a), f"seed {seed}"
    _, res = _dupes(store, monkeypatch, "b")
    assert _groups(res) == _oracle(man_b), f"seed {seed}"


def test_paths_keep_the_groups_with_a_file_of_this_host_under_them(store, monkeypatch, two_hosts, tmp_path):
    man_a, man_b, _ = two_hosts
    under = str(tmp_path / "same")
    _, res = _dupes(store, monkeypatch, "a", all_hosts=True, paths=[under])
    want = {g for g in _oracle(man_a, man_b) if any(h == "a" and p.startswith(under + "/") for h, p in g)}
    assert _groups(res) == want
    (tmp_path / "b" / "data").mkdir(parents=True)  # b's path, on a: a knows nothing there, and says so
    monkeypatch.setenv("SDJOBS_HOST", "a")
    rec = run_inline(store, "dupes", {"indexed": True, "all_hosts": True, "paths": [str(tmp_path / "b" / "data")]})
    assert results_of(store, rec.id)["groups"] == [] and rec.warnings == 1


def test_then_acts_on_this_hosts_files_only(store, monkeypatch, two_hosts, tmp_path):
    """--then delete on a: in each group, one of a's copies stays, a's others go, and b's
    rows are never handed to the delete job (b's tree is not even on this disk). The shared
    path holds b's contents now, not what a indexed: the re-check before each deletion
    leaves those files alone, and no content on this disk is lost."""
    man_a, man_b, seed = two_hosts
    (tmp_path / "b" / "data").mkdir(parents=True)  # were b's paths acted on here, they would be under it
    sentinel = tmp_path / "b" / "data" / "d0" / "f0.bin"
    sentinel.parent.mkdir()
    sentinel.write_bytes(b"not b's file, a file of a at b's path")
    on_disk = {**_manifest("a", tmp_path / "a"), **_manifest("a", tmp_path / "same")}
    before = _oracle(man_a, man_b)
    out, _ = _dupes(store, monkeypatch, "a", all_hosts=True, then="delete", yes=True)
    assert out["action"]["applied"] and out["left_alone"]["other_hosts"] > 0
    assert sentinel.read_bytes() == b"not b's file, a file of a at b's path"
    a_data = str(tmp_path / "a" / "data") + "/"
    for g in before:
        mine = sorted(p for h, p in g if h == "a")
        left = [p for p in mine if os.path.exists(p)]
        if len(mine) >= 2 and all(p.startswith(a_data) for p in mine):  # unchanged since a's index
            assert len(left) == 1, (f"seed {seed}", g, left)
        elif len(mine) < 2:
            assert left == mine, (f"seed {seed}", g)
    after = {**_manifest("a", tmp_path / "a"), **_manifest("a", tmp_path / "same")}
    assert {sha for _i, sha, _s in after.values()} == {sha for _i, sha, _s in on_disk.values()}, f"seed {seed}"
    assert len(after) < len(on_disk), f"seed {seed}"


def test_a_plan_made_on_one_host_is_refused_on_another(store, monkeypatch, two_hosts):
    out, _ = _dupes(store, monkeypatch, "a", all_hosts=True, then="delete")
    assert out["action"]["applied"] is False and out["action"]["files"] > 0
    from sdjobs.core.errors import BadInput
    from sdjobs.jobs.dupes.job import Dupes, DupesConfig

    monkeypatch.setenv("SDJOBS_HOST", "b")
    with pytest.raises(BadInput, match="made on host 'a'"):
        Dupes.validate(Dupes.prepare(DupesConfig(plan_file=out["results_file"], then="delete", yes=True)))
    monkeypatch.setenv("SDJOBS_HOST", "a")
    Dupes.validate(Dupes.prepare(DupesConfig(plan_file=out["results_file"], then="delete", yes=True)))


def test_sampled_content_ids_group_without_a_hash_and_are_not_acted_on(store, monkeypatch, tmp_path):
    """Without --full-hash the index has content ids only: two big files that differ only
    between the sampled regions share one. They are reported (hash null, cas_id set), and
    --then leaves them alone."""
    rng = random.Random(7)
    blob = bytearray(rng.randbytes(BIG))
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    for root in (a_root, b_root):
        root.mkdir()
    (a_root / "x.bin").write_bytes(blob)
    (a_root / "y.bin").write_bytes(blob)
    blob[40_000] ^= 1  # between the first and the second sample
    (b_root / "x.bin").write_bytes(blob)
    _index(store, monkeypatch, "a", a_root)
    _index(store, monkeypatch, "b", b_root)
    out, res = _dupes(store, monkeypatch, "a", all_hosts=True, then="delete", yes=True)
    (g,) = res["groups"]
    assert g["hash"] is None and len(g["cas_id"]) == 16 and sorted(g["hosts"]) == ["a", "a", "b"]
    assert out["left_alone"]["unproven_groups"] == 1 and out["action"]["files"] == 0
    assert (a_root / "x.bin").exists() and (a_root / "y.bin").exists()


@pytest.mark.parametrize("mode", ["size", "name-size"])
def test_size_modes_from_the_index(store, monkeypatch, tmp_path, mode):
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    for root, data in ((a_root, b"xx"), (b_root, b"yy")):
        root.mkdir()
        (root / "same-name").write_bytes(data)
    (b_root / "other-name").write_bytes(b"zz")
    _index(store, monkeypatch, "a", a_root, mode="shallow")
    _index(store, monkeypatch, "b", b_root, mode="shallow")
    _, res = _dupes(store, monkeypatch, "a", all_hosts=True, mode=mode)
    want = {("a", str(a_root / "same-name")), ("b", str(b_root / "same-name"))}
    if mode == "size":
        want.add(("b", str(b_root / "other-name")))
    assert _groups(res) == {frozenset(want)}


def test_a_plan_of_dupes_over_paths_is_refused_on_another_host_too(store, monkeypatch, tmp_path):
    """The paths of any dupes plan are its host's: one library, several hosts, the same path
    names other files there. Refused before submitting, and by the job if it runs elsewhere."""
    for name in ("x", "y"):
        (tmp_path / name).write_bytes(b"same bytes")
    monkeypatch.setenv("SDJOBS_HOST", "a")
    rec = run_inline(store, "dupes", {"paths": [str(tmp_path)], "then": "delete"})
    plan_file = rec.output["results_file"]
    from sdjobs.core.errors import BadInput
    from sdjobs.jobs.dupes.job import Dupes, DupesConfig

    monkeypatch.setenv("SDJOBS_HOST", "b")
    with pytest.raises(BadInput, match="made on host 'a'"):
        Dupes.validate(Dupes.prepare(DupesConfig(plan_file=plan_file, then="delete", yes=True)))
    job = store.submit("dupes", Dupes.version, DupesConfig(plan_file=plan_file, then="delete", yes=True))
    runner = store.register_runner(1, "test")
    (claimed,) = store.claim(runner, 1)
    execute(store, claimed, runner, FanOut(1))
    store.unregister_runner(runner)  # its pid is this process's: the library's teardown would stop it
    assert store.get(job).status == "failed" and "made on host 'a'" in store.get(job).error
    assert (tmp_path / "x").exists() and (tmp_path / "y").exists()


_names = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(["\udce9", "\udcff", '"', "\\"]),
                 min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_names, _names), min_size=2, max_size=4), st.sampled_from([None, "ab" * 16]),
       st.sampled_from([None, "0f" * 8]), st.integers(1, 2**40))
def test_result_rows_are_what_json_dumps_writes(members, digest, cas, size):
    """The template that renders --indexed's groups writes what json.dumps would."""
    g = {"size": size, "hash": digest, "wasted": size, "paths": [p for p, _h in members],
         "hosts": [h for _p, h in members], "mtimes": [0] * len(members)}
    if cas is not None and digest is None:
        g["cas_id"] = cas
    (text, n, _), = across.texts([g], planned=False)
    assert n == size
    assert text == json.dumps({k: g[k] for k in across.COLUMNS if k in g}, ensure_ascii=True, separators=(",", ":"))
