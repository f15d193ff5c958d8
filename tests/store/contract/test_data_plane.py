"""The data plane's contract (``sdjobs/store/data_plane.py``), through its verbs only.

As huey's ``StorageTests``: ``DataPlaneTests`` holds the tests, written against the
``DataPlane`` Protocol with no SQL and no connection; each backend runs them through the
``data_plane`` fixture (SQLite, and PostgreSQL when ``$SDJOBS_TEST_POSTGRES`` names a cluster).
Paths are real files in a temporary directory: verbs that judge by the disk (forgetting
what is gone) see what a job would.
"""

from __future__ import annotations

import os
import pickle
import shutil
import stat

import pytest

from sdjobs.store.data_plane import DataPlane
from sdjobs.store.index_content import ContentFound, ContentScope
from sdjobs.store.index_sync import Written, kind_of


def _sqlite(tmp_path):
    from sdjobs.store.api import Store
    from sdjobs.store.data_plane import open_data_plane
    from sdjobs.store.library import Library

    store = Store(Library(tmp_path / "lib" / "library.db"))
    try:
        yield open_data_plane(store), store
    finally:
        store.close()


def _postgres(tmp_path):
    from job_plane_backends import postgres_store

    from sdjobs.store.data_plane import open_data_plane

    store = postgres_store(tmp_path)  # (skipped with pgtest's message when there is no cluster)
    try:
        yield open_data_plane(store), store
    finally:
        store.close()


BACKENDS = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, tmp_path):
    yield from BACKENDS[request.param](tmp_path)


@pytest.fixture
def data_plane(backend) -> DataPlane:
    return backend[0]


@pytest.fixture
def job_id(backend) -> int:
    """A job for index runs to belong to (submitted through the job plane's verb)."""
    return backend[1].submit("index", 1, {"path": "/"})


def tree_files() -> dict[str, bytes]:
    return {"a.txt": b"alpha", "sub/b.bin": b"\x00" * 300, "sub/deep/c.txt": b"gamma" * 10}


def tree(root) -> dict[str, bytes]:
    """A small tree on disk: root/a.txt, root/sub/b.bin, root/sub/deep/c.txt, root/link."""
    files = tree_files()
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    os.symlink("a.txt", root / "link")
    return files


def walked(root) -> list:
    """What a walk of ``root`` writes: flat values, 8 per entry, in path byte order."""
    out: list = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out.append((os.fsencode(p), os.fsencode(name), kind_of(st.st_mode), st.st_size if
                        stat.S_ISREG(st.st_mode) else 0, st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns))
    out.sort()
    return [v for row in out for v in row]


def indexed(data: DataPlane, root, job: int) -> int:
    """Index ``root`` as a first run does: create the location, write the walk, drop the run."""
    real = os.path.realpath(root)
    with data.atomic():
        loc = data.create_location(real, rules={}, mode="content", max_depth=None, recurse=True, now=1.0)
        data.start_run(job, loc, real, {"found": 0}, 1.0)
    data.write_discovered(job, loc, walked(real), [], fresh=True, cursor=None, state=b"\x80")
    with data.atomic():
        data.drop_run(job)
    return loc


class DataPlaneTests:
    # -- locations ----------------------------------------------------------------------
    def test_locations_add_list_remove(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        assert not data_plane.has_locations() and data_plane.find_location(root) is None
        loc = indexed(data_plane, root, job_id)
        assert data_plane.has_locations()
        assert [r.id for r in data_plane.list_locations()] == [loc]
        found = data_plane.find_location(root / "sub" / "deep")  # any path inside finds it
        assert found is not None and found.id == loc and found.path == os.path.realpath(root)
        assert data_plane.get_location(loc).mode == "content"
        data_plane.update_location(loc, entries=7, rules={"skip_hidden": True}, last_changes={"new": 7})
        row = data_plane.get_location(loc)
        assert (row.entries, row.rules, row.last_changes) == (7, {"skip_hidden": True}, {"new": 7})
        assert data_plane.remove_location(loc) == 6  # its entries went with it
        assert data_plane.find_location(root) is None and data_plane.list_locations() == []
        assert list(data_plane.entries_under(root)) == []

    def test_an_inner_location_is_absorbed_by_an_outer_one(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        inner = indexed(data_plane, root / "sub", job_id)
        outer = data_plane.create_location(os.path.realpath(root), rules={}, mode="content", max_depth=None,
                                           recurse=True, now=2.0)
        assert data_plane.absorb_locations(outer, os.path.realpath(root)) == [os.path.realpath(root / "sub")]
        assert data_plane.get_location(inner) is None
        assert data_plane.entry_at(root / "sub" / "b.bin").location_id == outer

    def test_locations_are_per_host(self, data_plane, tmp_path, job_id, monkeypatch):
        """A location belongs to the host that indexed it (``SDJOBS_HOST``): lookups by path see
        this host's only; the same path on two hosts is two locations (issue 18)."""
        root = tmp_path / "t"
        tree(root)
        real = os.path.realpath(root)
        monkeypatch.setenv("SDJOBS_HOST", "a")
        on_a = indexed(data_plane, root / "sub", job_id)
        monkeypatch.setenv("SDJOBS_HOST", "b")
        assert data_plane.find_location(root / "sub") is None and data_plane.entry_at(root / "sub" / "b.bin") is None
        assert list(data_plane.entries_under(root)) == [] and data_plane.reader().location_of(real + "/sub") is None
        on_b = indexed(data_plane, root, job_id)             # absorbs nothing of a's
        assert data_plane.get_location(on_a) is not None
        assert data_plane.entry_at(root / "sub" / "b.bin").location_id == on_b
        assert data_plane.reader().location_of(real + "/sub")[0] == on_b
        assert [(r.host, r.path) for r in data_plane.list_locations()] == [("a", real + "/sub"), ("b", real)]
        assert [r.id for r in data_plane.list_locations(host="a")] == [on_a]
        monkeypatch.setenv("SDJOBS_HOST", "a")
        assert data_plane.entry_at(root / "sub" / "b.bin").location_id == on_a
        # b deletes its sub (a's root): b forgets its own entries, never a's location
        shutil.rmtree(root / "sub")
        monkeypatch.setenv("SDJOBS_HOST", "b")
        assert data_plane.forget_gone([os.path.join(real, "sub")]) > 0
        assert data_plane.entry_at(root / "sub" / "b.bin") is None
        monkeypatch.setenv("SDJOBS_HOST", "a")
        assert data_plane.get_location(on_a) is not None
        assert data_plane.entry_at(root / "sub" / "b.bin").location_id == on_a

    def test_indexed_files_of_one_host_or_every_host(self, data_plane, tmp_path, job_id, monkeypatch):
        """dupes --indexed's read: the files whose size another file has, of one host or all."""
        root = tmp_path / "t"
        tree(root)
        for host in ("a", "b"):
            monkeypatch.setenv("SDJOBS_HOST", host)
            indexed(data_plane, root, job_id)
        assert list(data_plane.indexed_files("a", 1, None, False)) == []  # each size once on a
        rows = list(data_plane.indexed_files(None, 1, None, False))
        real = os.path.realpath(root)
        assert [(r[0], r[1], r[2]) for r in rows] == [
            (h, f"{real}/{rel}", size) for size, rel in sorted((len(d), rel) for rel, d in tree_files().items())
            for h in ("a", "b")]
        assert [r[1] for r in data_plane.indexed_files(None, 6, 300, False)] == [f"{real}/sub/deep/c.txt"] * 2 + \
            [f"{real}/sub/b.bin"] * 2
        assert list(data_plane.indexed_files(None, 1, None, True)) == []  # no content id was recorded

    def test_atomic_is_all_or_nothing(self, data_plane, tmp_path):
        with pytest.raises(RuntimeError), data_plane.atomic():
            data_plane.create_location(str(tmp_path), rules={}, mode="shallow", max_depth=None, recurse=True,
                                       now=0.0)
            raise RuntimeError("stop")
        assert data_plane.find_location(tmp_path) is None

    # -- entries ------------------------------------------------------------------------
    def test_entries_upsert_scan_and_subtree(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        files = tree(root)
        loc = indexed(data_plane, root, job_id)
        real = os.path.realpath(root)
        every = [e.path for e in data_plane.entries_under(root)]
        assert every == sorted(every, key=os.fsencode)
        assert set(every) == {os.path.join(real, p) for p in ["a.txt", "link", "sub", "sub/b.bin", "sub/deep",
                                                              "sub/deep/c.txt"]}
        sub = [os.path.relpath(e.path, real) for e in data_plane.entries_under(root / "sub")]
        assert sub == ["sub", "sub/b.bin", "sub/deep", "sub/deep/c.txt"]  # itself first, then below
        assert [e.name for e in data_plane.entries_under(root, kind="file")] == ["a.txt", "b.bin", "c.txt"]
        assert [e.name for e in data_plane.entries_under(root, kind="symlink")] == ["link"]
        assert data_plane.entry_at(root / "sub" / "deep").kind == "dir"
        assert data_plane.entry_at(root / "nothing") is None
        assert data_plane.totals_under(loc, real) == (sum(map(len, files.values())), 3, 6)
        assert data_plane.totals_under(loc, os.path.join(real, "sub")) == (350, 2, 4)
        assert data_plane.count_files(loc) == 3
        assert data_plane.has_entries(loc) and data_plane.has_entries(loc, os.path.join(real, "sub"))
        assert not data_plane.has_entries(loc, os.path.join(real, "none"))
        # upsert: the same walk again, one file changed, updates in place
        (root / "a.txt").write_bytes(b"longer alpha")
        data_plane.write_discovered(job_id, loc, walked(real), [], fresh=True, cursor=None, state=b"\x80")
        assert data_plane.entry_at(root / "a.txt").size == 12
        assert data_plane.count_files(loc) == 3
        got = data_plane.entries_at(loc, [os.path.join(real, "a.txt"), os.path.join(real, "gone")])
        assert list(got) == [os.path.join(real, "a.txt")]

    def test_a_symlinked_spelling_gets_its_own_spelling_back(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        indexed(data_plane, root, job_id)
        os.symlink(root, tmp_path / "alias")
        paths = [e.path for e in data_plane.entries_under(tmp_path / "alias" / "sub", kind="file")]
        assert paths == [str(tmp_path / "alias" / "sub" / "b.bin"), str(tmp_path / "alias" / "sub/deep/c.txt")]

    def test_files_written_and_removed_keep_the_index_true(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        loc_id = indexed(data_plane, root, job_id)
        real = os.path.realpath(root)
        assert data_plane.anything_indexed()
        new = os.path.join(real, "sub", "new.txt")
        with open(new, "wb") as f:
            f.write(b"new!")
        st = os.lstat(new)
        row = Written(new, "file", st.st_size, st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns)
        loc = data_plane.location_at(new)
        assert data_plane.record_written(loc, [row]) == 1
        assert data_plane.record_written(loc, [row]) == 0  # again: nothing more
        assert data_plane.entry_at(new).size == 4
        os.unlink(new)
        (root / "sub" / "deep" / "c.txt").unlink()
        (root / "sub" / "deep").rmdir()
        assert data_plane.forget_gone([new, os.path.join(real, "sub", "deep")]) == 3
        assert [e.name for e in data_plane.entries_under(root / "sub")] == ["sub", "b.bin"]
        assert data_plane.forget_gone([new]) == 0
        assert data_plane.get_location(loc_id) is not None

    # -- index runs ---------------------------------------------------------------------
    def test_a_run_checkpoints_and_a_reindex_applies_its_diff(self, data_plane, tmp_path, job_id, backend):
        root = tmp_path / "t"
        tree(root)
        loc = indexed(data_plane, root, job_id)
        real = os.path.realpath(root)
        again = backend[1].submit("index", 1, {"path": real})
        with data_plane.atomic():
            data_plane.start_run(again, loc, real, {"step": None}, 2.0)
        assert data_plane.active_runs(loc) == [again] and data_plane.running_index_jobs(loc) == []
        os.rename(root / "sub" / "b.bin", root / "moved.bin")
        (root / "a.txt").unlink()
        (root / "added.txt").write_bytes(b"added")
        data_plane.write_discovered(again, loc, walked(real), [], fresh=False, cursor=b"x", state=b"\x80")
        with data_plane.atomic():
            assert data_plane.apply_moves(again, loc, [real], []) == (1, 0)
            assert data_plane.chunk_end(again, b"", 1000) is None
            modified, new = data_plane.apply_chunk(again, loc, b"", None)
            assert new == 1  # added.txt (moved.bin took b.bin's row)
            deleted, cursor = data_plane.delete_gone(again, loc, real, None, [], 1000)
            assert (deleted, cursor) == (1, None)  # a.txt
            data_plane.save_run(again, "aggregation", None, {"step": "done"})
        assert data_plane.load_run(again)[2:] == ("aggregation", None, {"step": "done"})
        names = sorted(e.name for e in data_plane.entries_under(root, kind="file"))
        assert names == ["added.txt", "c.txt", "moved.bin"]
        with data_plane.atomic():
            data_plane.drop_run(again)
        assert data_plane.load_run(again) is None and data_plane.active_runs(loc) == []

    # -- content ids ----------------------------------------------------------------------
    def test_content_ids_by_ranges_from_a_worker(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        loc = indexed(data_plane, root, job_id)
        scope = ContentScope(loc, cas=True, full=True, deep=False)
        assert data_plane.content_lacking(scope)
        files, nbytes = data_plane.content_todo(scope, 0)
        assert (files, nbytes) == (3, 5 + 300 + 50)
        ranges = list(data_plane.content_ranges(scope, 0, 2))
        assert ranges[0][0] == 0 and ranges[-1][1] is None and len(ranges) == 2
        with data_plane.atomic():
            data_plane.start_run(job_id, loc, os.path.realpath(root), {}, 3.0)
        worker = pickle.loads(pickle.dumps(data_plane.content_worker()))  # as a pool worker gets it
        for lo, hi in ranges:
            rows = worker.rows(scope, lo, hi)
            assert all(r.no_cas and r.no_full for r in rows)
            worker.record(job_id, [ContentFound(r.id, f"cas-{r.size}", f"{r.size:032x}", None, None, None, None)
                                   for r in rows], cas_only=False)
        assert data_plane.identified_count(job_id) == 3
        assert not data_plane.content_lacking(scope)
        assert data_plane.entry_at(root / "sub" / "b.bin").cas_id == "cas-300"
        only_sub = ContentScope(loc, cas=False, full=False, deep=True, targets=(os.path.realpath(root / "sub"),))
        assert data_plane.content_todo(only_sub, 0)[0] == 2
        data_plane.update_location(loc, identified_want=3)
        assert data_plane.identified_want(loc) == 3

    # -- stored digests (dupes) -----------------------------------------------------------------
    def test_stored_digests_of_unchanged_files(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        loc = indexed(data_plane, root, job_id)
        reader = pickle.loads(pickle.dumps(data_plane.reader()))
        assert list(reader.stored_digests(subtree=str(root))) == []  # nothing identified yet
        worker = data_plane.content_worker()
        scope = ContentScope(loc, cas=True, full=True, deep=False)
        with data_plane.atomic():
            data_plane.start_run(job_id, loc, os.path.realpath(root), {}, 3.0)
        rows = worker.rows(scope, 0, None)
        worker.record(job_id, [ContentFound(r.id, None, f"{r.size:032x}", None, None, None, None) for r in rows],
                      cas_only=False)
        got = {os.path.relpath(d.path, root): d.full_hash for d in reader.stored_digests(subtree=str(root / "sub"))}
        assert got == {"sub/b.bin": f"{300:032x}", "sub/deep/c.txt": f"{50:032x}"}
        one = list(reader.stored_digests([str(root / "a.txt"), str(tmp_path / "elsewhere")]))
        assert [(d.path, d.size) for d in one] == [(str(root / "a.txt"), 5)]
        assert data_plane.full_hashes_stored(loc) is False
        row = reader.location_of(os.path.realpath(root / "sub"))
        assert row is not None and row[0] == loc and reader.indexing(loc)  # a run is under way
        with data_plane.atomic():
            data_plane.drop_run(job_id)
        assert not reader.indexing(loc)

    def test_a_reader_answers_dupes_and_the_verifying_walk(self, data_plane, tmp_path, job_id):
        """The worker reads whose SQL differs between engines (``group_concat``/``string_agg``,
        a BLOB with no '/' after a prefix), on names that are not UTF-8."""
        root = tmp_path / "t"
        tree(root)
        odd = os.fsdecode(b"caf\xe9 \xff.bin")  # not UTF-8: surrogateescape, byte-exact
        (root / "sub" / odd).write_bytes(b"\x00" * 300)  # the same size as sub/b.bin
        (root / "sub" / "deep" / "hard").hardlink_to(root / "sub" / "deep" / "c.txt")
        loc = indexed(data_plane, root, job_id)
        real = os.path.realpath(root)
        worker = data_plane.content_worker()
        scope = ContentScope(loc, cas=True, full=True, deep=False)
        with data_plane.atomic():
            data_plane.start_run(job_id, loc, real, {}, 3.0)
        rows = [r for r in worker.rows(scope, 0, None) if not r.path.endswith("a.txt")]  # a.txt: unhashed
        worker.record(job_id, [ContentFound(r.id, None, f"{r.size:032x}", None, None, None, None) for r in rows],
                      cas_only=False)
        with data_plane.atomic():
            data_plane.drop_run(job_id)
        reader = pickle.loads(pickle.dumps(data_plane.reader()))
        prefix = os.fsencode(real) + b"/"
        lo, hi = prefix, prefix[:-1] + b"0"
        keys, idents, paths, mtimes, unhashed = reader.hashed_concat(loc, lo, hi, 1, None, "0" * 32, "g" * 32,
                                                                     True, True)
        stored = sorted((os.fsencode(e.path), e) for e in data_plane.entries_under(root, kind="file")
                        if e.full_hash is not None)
        assert paths.split(b"\0") == [p for p, _e in stored]  # in path byte order, as stored
        assert keys.split(b",") == [f"{e.full_hash}{e.size}".encode() for _p, e in stored]
        assert idents.split(b",") == [f"{e.inode}:{e.device}".encode() for _p, e in stored]
        assert mtimes.split(b",") == [str(e.mtime_ns).encode() for _p, e in stored]
        assert unhashed == 1
        assert [r[0] for r in reader.unhashed(loc, lo, hi, 1, None)] == [prefix + b"a.txt"]
        assert reader.hashed_concat(loc, lo, hi, 10_000, None, "0" * 32, "g" * 32, False, False)[:3] == \
            (None, None, None)
        kids = sorted(r[0] for r in reader.children(loc, prefix + b"sub"))
        assert kids == sorted([prefix + b"sub/b.bin", prefix + b"sub/deep", os.fsencode(os.path.join(real, "sub", odd))])
        assert reader.keys_of(loc, [prefix + b"sub/b.bin"], []) == {(300, f"{300:032x}")}
        assert len(reader.hashed_of_sizes(loc, lo, hi, {300})) == 2
        assert [p for p, _ in reader.file_rows(loc, str(root), real)] == [os.fsdecode(p) for p in
                                                                         sorted(os.fsencode(os.path.join(real, r))
                                                                                for r in ["a.txt", "sub/b.bin",
                                                                                          f"sub/{odd}",
                                                                                          "sub/deep/c.txt",
                                                                                          "sub/deep/hard"])]
        assert reader.dir_stored(loc, os.path.join(real, "sub"), False) == (None, None, None)
        assert reader.dir_digest(loc, prefix + b"sub", False) is None

    def test_a_long_run_is_tuned_and_settled(self, data_plane, tmp_path, job_id):
        """What the index job asks of the engine around a long bulk run is this engine's."""
        tree(tmp_path / "t")
        data_plane.tune_for_indexing()
        loc = indexed(data_plane, tmp_path / "t", job_id)
        data_plane.settle()
        assert data_plane.count_files(loc) == 3

    def test_a_reader_of_no_library_says_so(self, tmp_path):
        from sdjobs.store.index_reader import IndexReader, IndexUnreadable

        with pytest.raises(IndexUnreadable):
            list(IndexReader(str(tmp_path / "none.db")).stored_digests(subtree=str(tmp_path)))

    # -- kept groups (dupes) ------------------------------------------------------------------
    def test_kept_groups_go_when_an_index_run_of_the_location_ends(self, data_plane, tmp_path, job_id):
        root = tmp_path / "t"
        tree(root)
        loc = indexed(data_plane, root, job_id)
        kept = data_plane.reader().kept()
        assert kept.head(loc, "q1") is None
        kept.write(loc, "q1", b"head", b"groups", b"[]")
        assert (kept.head(loc, "q1"), kept.groups(loc, "q1")) == (b"head", b"groups")
        with open(kept.json_path(loc, "q1"), "rb") as f:
            assert f.read() == b"[]"
        with data_plane.atomic():
            data_plane.start_run(job_id, loc, os.path.realpath(root), {}, 4.0)
        with data_plane.atomic():
            data_plane.drop_run(job_id)  # the run may have changed entries
        assert kept.head(loc, "q1") is None and kept.groups(loc, "q1") is None

    def test_kept_groups_keep_a_few_queries_per_location(self, data_plane):
        kept = data_plane.reader().kept()
        for i in range(12):
            kept.write(1, f"q{i:02d}", b"h", b"g", b"[]")
            os.utime(os.path.join(kept.dir, f"1-q{i:02d}.head"), ns=(i * 10**9, i * 10**9))
        kept.write(2, "other", b"h", b"g", b"[]")
        alive = [i for i in range(12) if kept.head(1, f"q{i:02d}") is not None]
        assert alive == list(range(4, 12)) and kept.head(2, "other") == b"h"
        kept.forget(1)
        assert all(kept.head(1, f"q{i:02d}") is None for i in range(12)) and kept.head(2, "other") == b"h"

    # -- thumbnails and their sidecars ----------------------------------------------------------
    def test_thumbnail_sidecars(self, data_plane, tmp_path):
        photo = str(tmp_path / "p.jpg")
        rel = "thumbs/ab/abc-256.webp"
        with data_plane.atomic():
            data_plane.record_thumbs([(photo, "abc", 5, 100, "ok", None, 1)],
                                     [("abc", "256", 256, "webp", 256, 192, rel)])
        assert data_plane.thumb_source(photo).cas_id == "abc"
        assert data_plane.thumbs_of("abc", "webp")["256"].path == rel
        assert data_plane.thumbs_of("abc", "png") == {}
        listed = list(data_plane.thumb_listing([str(tmp_path)]))
        assert [(x.source, x.sidecar) for x in listed] == [(photo, str(data_plane.data_dir / rel))]
        assert data_plane.thumb_counts() == {"sources": 1, "thumbnails": 1}
        moved = str(tmp_path / "q.jpg")
        assert data_plane.move_thumb_sources(photo, moved) == 1
        assert data_plane.thumb_source(photo) is None and data_plane.thumb_source(moved).cas_id == "abc"
        assert data_plane.anything_indexed()  # a thumbnail source counts


class TestDataPlane(DataPlaneTests):
    """The contract, run against each backend of the ``data_plane`` fixture."""
