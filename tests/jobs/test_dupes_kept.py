"""dupes over an indexed location, run again: the groups of stored hashes are
kept from the first run (``dupes.cache``), the tree is still checked, and
any index run drops what was kept."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
from dupes_helpers import brute_force, found, make_tree, run_inline, write

from sdjobs.jobs.dupes import cache
from sdjobs.jobs.dupes import indexed as indexed_path
from sdjobs.jobs.dupes.results import array_texts, read_results, results_of
from sdjobs.store import dupes_queries as q
from sdjobs.store import index_store as ixs
from sdjobs.store import results
from sdjobs.store.index_reader import IndexReader


@pytest.fixture
def indexed(store, lib, tmp_path):
    root = tmp_path / "tree"
    make_tree(root)
    rec = run_inline(store, "index", {"path": str(root), "full_hash": True})
    assert rec.status == "completed", rec.error
    return root


def dupes(store, lib, **config):
    config.setdefault("library", str(lib))
    rec = run_inline(store, "dupes", config)
    assert rec.status == "completed", (rec.status, rec.error)
    return rec.output, results_of(store, rec.id)


def kept_files(lib) -> list[str]:
    d = q.groups_dir(lib)
    return sorted(os.listdir(d)) if d.exists() else []


def test_a_rerun_answers_with_the_kept_groups(store, lib, indexed):
    first, res1 = dupes(store, lib, paths=[str(indexed)])
    assert [n.rsplit(".", 1)[1] for n in kept_files(lib)] == ["groups", "head", "json"]
    again, res2 = dupes(store, lib, paths=[str(indexed)])
    assert res2 == res1 and found(res2) == brute_force([indexed])
    assert {k: again[k] for k in ("groups", "duplicates", "wasted", "scanned", "from_index", "candidates")} == \
        {k: first[k] for k in ("groups", "duplicates", "wasted", "scanned", "from_index", "candidates")}
    json_kept = next(q.groups_dir(lib) / n for n in kept_files(lib) if n.endswith(".json"))
    last = max(r.id for r in store.list_jobs())
    assert list(results.texts(store, last)) == list(array_texts(str(json_kept)))  # the kept text, not worked out again
    assert again["read_bytes"] == 0


@pytest.mark.parametrize("change", ["same size, new mtime", "new size, same mtime", "removed", "new copy"])
def test_changes_since_the_kept_groups_are_seen(store, lib, indexed, change):
    dupes(store, lib, paths=[str(indexed)])
    victim = indexed / "s8192" / "sub" / "b"
    st = victim.stat()
    if change == "same size, new mtime":
        blob = bytearray(victim.read_bytes())
        blob[100] ^= 1
        victim.write_bytes(bytes(blob))
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif change == "new size, same mtime":  # now a copy of the files of another size
        victim.write_bytes((indexed / "s8191" / "a").read_bytes())
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "removed":
        os.unlink(victim)
    else:
        write(indexed / "new" / "copy", victim.read_bytes())
    out, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    if change.startswith("same"):
        assert not any(str(victim) in g["paths"] for g in res["groups"])
    if change.startswith("new size"):
        assert any(str(victim) in g["paths"] and g["size"] == 8191 for g in res["groups"])
    if change.startswith(("same", "new size")):
        assert out["read_bytes"] > 0


def test_an_index_run_drops_the_kept_groups(store, lib, indexed):
    dupes(store, lib, paths=[str(indexed)])
    assert kept_files(lib)
    os.rename(indexed / "s4095" / "a", indexed / "s4095" / "q")   # a name of the same length
    assert run_inline(store, "index", {"path": str(indexed), "full_hash": True}).status == "completed"
    assert kept_files(lib) == []
    _, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    assert any(str(indexed / "s4095" / "q") in g["paths"] for g in res["groups"])


def test_a_run_given_up_drops_them_too(store, lib, indexed):
    """A re-index cancelled after it changed entries leaves the location's row
    as it was: only the drop of the run tells."""
    dupes(store, lib, paths=[str(indexed)])
    loc = ixs.find_location(store, indexed)
    job_id = store.submit("index", 1, {"path": str(indexed)})
    ixs.start_run(store, job_id, loc.id, str(indexed), {}, time.time())
    assert kept_files(lib)
    ixs.drop_run(store, job_id)
    assert kept_files(lib) == []


def _plan(lib, root):
    c = SimpleNamespace(mode="hash", hardlinks=False, ext=[], paths=[str(root)], min_size=1, max_size=None,
                        then="none", rules={})
    return indexed_path.plan(c, IndexReader(str(lib)))


def test_not_kept_when_an_index_job_ran_meanwhile(store, lib, indexed):
    p = _plan(lib, indexed)
    cache.save(p, time.time() + 60, [], [])
    assert kept_files(lib) and cache.lookup(p) is not None
    q.forget_groups(lib, p.location_id)
    cache.save(p, 0.0, [], [])   # the fixture's index job ended after "0"
    assert kept_files(lib) == [] and cache.lookup(p) is None


def test_the_key_holds_the_query(store, lib, indexed):
    dupes(store, lib, paths=[str(indexed)])
    out, res = dupes(store, lib, paths=[str(indexed)], min_size=5000)
    assert found(res) == brute_force([indexed], min_size=5000)
    out, res = dupes(store, lib, paths=[str(indexed / "s300000")])
    assert found(res) == brute_force([indexed / "s300000"])
    out, plan = dupes(store, lib, paths=[str(indexed)], then="trash", keep="oldest")
    out2, plan2 = dupes(store, lib, paths=[str(indexed)], then="trash", keep="oldest")
    assert plan2 == plan and all("keep" in g for g in plan["groups"])
    assert all(len(g["mtimes"]) == len(g["paths"]) for g in read_results(out["results_file"])["groups"])
    assert len([n for n in kept_files(lib) if n.endswith(".head")]) == 4
