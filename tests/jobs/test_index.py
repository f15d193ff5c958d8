"""index: what is recorded, rules, change detection, subtrees, modes, errors."""

import os
import shutil
import sqlite3

import pytest
from index_helpers import RAW_NAME, entries, expected, location, make_tree, reads_everything, subtree_sums

from sdjobs.fs.hashing import cas_id, full_hash


def index(cli, *args):
    return cli.json("index", *map(str, args))


def test_index_records_every_entry_os_walk_sees(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    rec = index(cli, root)
    assert rec["status"] == "completed", rec
    got = entries(lib, root)
    want = expected(root)
    assert set(got) == want
    out = rec["output"]
    assert out["entries"] == len(want) and out["new"] == len(want) and out["walked"] == len(want)
    for rel, (kind, size, cas, full, _sub_size, _sub_files) in got.items():
        st = os.lstat(os.path.join(os.fsencode(root), os.fsencode(rel)))
        assert size == st.st_size
        if kind == "file" and size:
            assert cas == cas_id(os.path.join(root, rel), size), rel
        else:
            assert cas is None, rel
        assert full is None
    assert got["link-to-docs"][0] == "symlink" and got["dangling"][0] == "symlink"
    assert not any(rel.startswith("link-to-docs/") for rel in got)  # never followed
    assert len(got["docs/deep/deeper/big.bin"][2]) == 16
    # subtree totals of every directory, and of the location
    sums = subtree_sums(root, want)
    for rel, (size, files) in sums.items():
        assert got[rel][4:] == (size, files), rel
    files = [r for r in want if os.path.isfile(os.path.join(root, r)) and not os.path.islink(os.path.join(root, r))]
    loc = location(lib, root)
    assert loc["entries"] == len(want)
    assert loc["total_size"] == sum(os.path.getsize(os.path.join(root, r)) for r in files) == out["bytes"]
    assert out["files"] == len(files)


def test_non_utf8_names_are_stored_byte_exact(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    db = sqlite3.connect(lib)
    names = {r[0] for r in db.execute("SELECT name FROM entry")}
    paths = {r[0] for r in db.execute("SELECT path FROM entry")}
    assert RAW_NAME in names
    assert os.path.join(os.fsencode(root), b"docs", RAW_NAME) in paths
    # the read API gives it back as a surrogate-escaped str that reaches the same file
    from sdjobs.store import index_store as ixs
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    store = Store(Library(lib))
    raw = [e for e in ixs.entries_under(store, root / "docs") if os.fsencode(e.name) == RAW_NAME]
    assert len(raw) == 1 and open(raw[0].path, "rb").read() == b"raw"
    assert raw[0].parent == str(root / "docs")
    store.close()


@pytest.mark.parametrize("flags,kw", [
    (["--skip-hidden", "--skip-deps"], {"skip_hidden": True, "skip_deps": True}),
    (["--no-gitignore", "--no-skip-git"], {"gitignore": False, "skip_git": False}),
])
def test_rules_on_the_command_line_are_recorded_and_reused(cli, lib, tmp_path, flags, kw):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root, *flags)
    assert set(entries(lib, root)) == expected(root, **kw)
    (root / "docs" / "new.txt").write_text("n")
    rec = index(cli, root)  # no flags: the recorded rules apply
    assert set(entries(lib, root)) == expected(root, **kw)
    assert rec["output"]["new"] == 1 and rec["output"]["deleted"] == 0


def test_reindex_detects_new_modified_moved_deleted(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    before = entries(lib, root)
    db = sqlite3.connect(lib)
    ids = {os.fsdecode(p): i for p, i in db.execute("SELECT path, id FROM entry")}
    db.close()

    (root / "docs" / "added.txt").write_text("new file")                     # new
    with open(root / "docs" / "a.txt", "a") as f:                             # modified
        f.write("more")
    os.rename(root / "docs" / "deep" / "b.md", root / "src" / "b-moved.md")   # moved
    os.rename(root / "src" / "pkg", root / "src" / "pkg2")                    # a moved dir: 2 entries inside
    os.unlink(root / "docs" / "empty")                                        # deleted
    shutil.rmtree(root / "node_modules")                                      # deleted: 3 entries

    rec = index(cli, root)
    out = rec["output"]
    assert (out["new"], out["modified"], out["moved"], out["deleted"]) == (1, 1, 4, 4), out
    got = entries(lib, root)
    assert set(got) == expected(root)
    assert got["src/b-moved.md"][2] == before["docs/deep/b.md"][2]  # kept its content id...
    db = sqlite3.connect(lib)
    moved_id = db.execute("SELECT id FROM entry WHERE path=?", (os.fsencode(str(root / "src/b-moved.md")),)).fetchone()
    db.close()
    assert moved_id[0] == ids[str(root / "docs/deep/b.md")]  # ...by keeping its row
    assert got["docs/a.txt"][2] == cas_id(str(root / "docs/a.txt"), 10) != before["docs/a.txt"][2]
    assert out["identified"] == 2  # only the new and the modified file were read
    for rel, (size, files) in subtree_sums(root, set(got)).items():
        assert got[rel][4:] == (size, files), rel
    loc = location(lib, root)
    assert loc["entries"] == len(got)
    import msgpack

    assert msgpack.unpackb(loc["last_changes"]) == {"new": 1, "modified": 1, "moved": 4, "deleted": 4}

    rec = index(cli, root)  # unchanged: nothing to do, nothing read
    out = rec["output"]
    assert (out["new"], out["modified"], out["moved"], out["deleted"], out["identified"]) == (0, 0, 0, 0, 0)
    assert entries(lib, root) == got


def test_a_freed_inode_reused_by_a_new_file_is_not_a_move(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "old.txt").write_text("old content")
    index(cli, root)
    ino = os.lstat(root / "old.txt").st_ino
    os.unlink(root / "old.txt")
    (root / "new.txt").write_text("different")
    out = index(cli, root)["output"]
    if os.lstat(root / "new.txt").st_ino != ino:
        pytest.skip("the file system did not reuse the inode")
    assert (out["new"], out["moved"], out["deleted"]) == (1, 0, 1)


def test_refreshing_a_subtree_touches_only_it_and_fixes_ancestor_totals(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    (root / "docs" / "deep" / "c.txt").write_bytes(b"x" * 1000)
    os.unlink(root / "docs" / "deep" / "b.md")
    (root / "src" / "outside.txt").write_text("not in the refreshed subtree")
    rec = index(cli, root / "docs" / "deep")
    out = rec["output"]
    assert out["path"] == str(root / "docs" / "deep") and out["location"] == str(root)
    assert (out["new"], out["deleted"]) == (1, 1)
    got = entries(lib, root)
    assert "docs/deep/c.txt" in got and "docs/deep/b.md" not in got and "src/outside.txt" not in got
    # docs and docs/deep totals are right although docs was not walked
    sums = subtree_sums(root, set(got))
    for rel in ("docs", "docs/deep", "docs/deep/deeper"):
        assert got[rel][4:] == sums[rel], rel
    loc = location(lib, root)
    assert loc["entries"] == len(got)
    assert loc["total_size"] == sum(v[1] for v in got.values() if v[0] == "file")


def test_depth_and_no_recurse(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root, "--depth", "1")
    assert set(entries(lib, root)) == {r for r in expected(root) if r.count("/") <= 1}
    other = tmp_path / "other"
    shutil.copytree(root, other, symlinks=True)
    index(cli, other, "--no-recurse")
    assert set(entries(lib, other)) == {r for r in expected(other) if "/" not in r}
    index(cli, other, "--recurse")
    assert set(entries(lib, other)) == expected(other)


def test_full_hash_is_stored_and_sticky(cli, lib, tmp_path):
    from sdjobs.store import index_store as ixs
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root, "--full-hash", "--mode", "shallow")
    got = entries(lib, root)
    for rel, (kind, _size, cas, full, *_rest) in got.items():
        if kind == "file":
            assert full == full_hash(os.path.join(root, rel)) and cas is None, rel
    store = Store(Library(lib))
    loc = ixs.find_location(store, root)
    assert ixs.full_hashes_stored(store, loc.id)
    (root / "docs" / "a.txt").write_text("changed")
    index(cli, root)  # no flag: the location keeps asking for full hashes
    assert entries(lib, root)["docs/a.txt"][3] == full_hash(str(root / "docs" / "a.txt"))
    assert ixs.full_hashes_stored(store, loc.id)
    rows = list(ixs.entries_under(store, root, kind="file"))
    assert rows and all(r.full_hash for r in rows)
    store.close()


def test_deep_mode_reads_kind_size_and_exif_date(cli, lib, tmp_path):
    from PIL import Image

    root = tmp_path / "tree"
    root.mkdir()
    img = Image.new("RGB", (64, 48), "red")
    exif = Image.Exif()
    exif[0x0132] = "2021:05:06 07:08:09"
    img.save(root / "photo.jpg", exif=exif)
    Image.new("RGB", (10, 20)).save(root / "no-extension-image", format="PNG")
    (root / "notes.txt").write_text("text")
    (root / "script.py").write_text("print()")
    (root / "blob").write_bytes(b"\x00\x01\x02binary")
    (root / "archive.zip").write_bytes(b"PK\x03\x04rest")
    index(cli, root, "--mode", "deep")
    db = sqlite3.connect(lib)
    rows = {os.path.basename(os.fsdecode(p)): (k, w, h, t, c) for p, k, w, h, t, c in db.execute(
        "SELECT path, kind_class, width, height, taken_at, cas_id FROM entry")}
    assert rows["photo.jpg"][:4] == ("image", 64, 48, "2021-05-06T07:08:09")
    assert rows["no-extension-image"][:3] == ("image", 10, 20)
    assert rows["notes.txt"][0] == "text" and rows["script.py"][0] == "code"
    assert rows["blob"][0] == "other" and rows["archive.zip"][0] == "archive"
    assert all(r[4] for r in rows.values())  # deep includes content ids


@pytest.mark.skipif(reads_everything(), reason="this process reads everything (root)")
def test_unreadable_directory_is_an_error_and_keeps_what_was_known(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    known = entries(lib, root)
    os.chmod(root / "docs" / "deep", 0)
    os.chmod(root / "src" / "pkg" / "mod.py", 0)
    try:
        (root / "docs" / "new.txt").write_text("n")
        (root / "src" / "pkg" / "mod.py").touch()
        proc = cli("index", str(root), "--json")
        rec = __import__("json").loads(proc.stdout)
        assert proc.returncode == 1 and rec["status"] == "completed-with-errors"
        got = entries(lib, root)
        assert "docs/new.txt" in got
        # what lies below the unreadable directory stays as it was known
        assert {r for r in got if r.startswith("docs/deep/")} == {r for r in known if r.startswith("docs/deep/")}
        events = cli("jobs", "logs", str(rec["id"])).stdout + cli("jobs", "show", str(rec["id"])).stdout
        assert "deep" in events and "mod.py" in events
    finally:
        os.chmod(root / "docs" / "deep", 0o755)
        os.chmod(root / "src" / "pkg" / "mod.py", 0o644)


def test_indexing_a_parent_absorbs_nested_locations(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root / "docs")
    inner = entries(lib, root / "docs")
    out = index(cli, root)["output"]
    assert location(lib, root / "docs") is None
    got = entries(lib, root)
    assert set(got) == expected(root)
    assert got["docs/deep/b.md"][2] == inner["deep/b.md"][2]
    assert out["identified"] < sum(1 for v in got.values() if v[0] == "file" and v[1])  # docs/ not read again


def test_cancelled_first_index_leaves_no_location(cli, lib, tmp_path, monkeypatch):
    from conftest import wait_for

    monkeypatch.setenv("SDJOBS_INDEX_BATCH", "5")
    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0.2")
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    job = cli("index", str(root), "--detach", check=True).stdout.strip()
    wait_for(lambda: (location(lib, root) or {}).get("id") and entries(lib, root), what="some entries")
    cli("jobs", "cancel", job, check=True)
    wait_for(lambda: cli.json("jobs", "show", job)["status"] == "cancelled", what="cancelled")
    assert location(lib, root) is None and entries(lib, root) == {}


def test_a_tree_deeper_than_path_max_and_symlink_loops(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    os.symlink(".", root / "loop")                  # a link to its own directory
    os.symlink("loop-b", root / "loop-a")           # two links pointing at each other
    os.symlink("loop-a", root / "loop-b")
    level = "d" * 40                                # 120 x 41 bytes: longer than PATH_MAX (4096),
    fd = os.open(root, os.O_RDONLY)                 # shallow enough for shutil.rmtree's recursion
    for _ in range(120):
        os.mkdir(level, dir_fd=fd)
        nxt = os.open(level, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"at the bottom")
    os.close(leaf)
    os.close(fd)
    rec = index(cli, root)
    assert rec["status"] == "completed", rec
    got = entries(lib, root)
    deep = "/".join([level] * 120) + "/leaf.txt"
    assert len(str(root / deep)) > 4096
    assert len(got) == 3 + 120 + 1 and got[deep][:2] == ("file", 13)
    same = tmp_path / "same-content"
    same.write_bytes(b"at the bottom")
    assert got[deep][2] == cas_id(str(same), 13)  # read although its path is too long to open
    assert got[level][4:] == (13, 1)                # subtree totals reach the top
    assert {got[k][0] for k in ("loop", "loop-a", "loop-b")} == {"symlink"}
