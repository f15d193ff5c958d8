"""Tests for sdjobs.fs.walker on real temporary trees."""

from __future__ import annotations

import errno
import os
import stat
import shutil
import subprocess

import pytest

from sdjobs.fs.rules import WalkRules
from sdjobs.fs.walker import (HELD_FDS, DirectoryCycleError, WalkEntry, child_key, path_order_key, sort_names, walk,
                               walk_segments)

NO_RULES = WalkRules(skip_system=False, skip_git=False, gitignore=False)
IS_ROOT = os.geteuid() == 0


def make(root, *specs: str | bytes) -> None:
    """Create files ('a/b.txt') and dirs ('a/c/') under root; bytes allowed."""
    base = os.fsencode(root)
    for spec in specs:
        rel = os.fsencode(spec)
        full = os.path.join(base, rel)
        if rel.endswith(b"/"):
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(b"x" * len(rel))


def rels(root, entries) -> list[str]:
    prefix = str(root) + "/"
    return [e.path.removeprefix(prefix) for e in entries]


def collect(root, rules=NO_RULES, **kw):
    errors: list[tuple[str, BaseException]] = []
    out = list(walk(root, rules, on_error=lambda p, e: errors.append((p, e)), **kw))
    return out, errors


def test_entry_fields_match_lstat(tmp_path):
    make(tmp_path, "a.txt", "d/", "d/inner.bin")
    os.symlink("d", tmp_path / "link_to_dir")
    os.symlink("missing", tmp_path / "dangling")
    os.mkfifo(tmp_path / "fifo")
    entries, errors = collect(tmp_path)
    assert errors == []
    by = {e.name: e for e in entries}
    assert {n: e.kind for n, e in by.items()} == {
        "a.txt": "file", "d": "dir", "inner.bin": "file",
        "link_to_dir": "symlink", "dangling": "symlink", "fifo": "other",
    }
    for e in entries:
        st = os.lstat(e.path)
        assert isinstance(e, WalkEntry)
        assert (e.size, e.inode, e.device, e.mode, e.mtime_ns) == (
            st.st_size, st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns)
        assert e.path == os.path.join(e.parent, e.name)
    assert by["inner.bin"].parent == str(tmp_path / "d")
    assert by["inner.bin"].depth == 1 and by["a.txt"].depth == 0
    assert by["a.txt"].size == len(b"a.txt")


def test_symlinked_dirs_are_not_followed(tmp_path):
    make(tmp_path, "real/x", "real/y")
    os.symlink(tmp_path / "real", tmp_path / "zlink")
    entries, _ = collect(tmp_path)
    assert rels(tmp_path, entries) == ["real", "real/x", "real/y", "zlink"]


def test_preorder_sorted_by_bytes(tmp_path):
    names = [b"b", b"a", b"B", b"\xff\xfe", "é".encode(), "😀".encode(), b"a.b", b"a-b", b"ab"]
    for n in names:
        make(tmp_path, n + b"/", n + b"/k")
    entries, _ = collect(tmp_path)
    got = [os.fsencode(p) for p in rels(tmp_path, entries)]
    expected = []
    for n in sorted(names):
        expected += [n, n + b"/k"]
    assert got == expected
    assert sorted(entries, key=lambda e: path_order_key(e.path)) == entries
    # str order alone would put the emoji (U+1F600) after the escaped \xff.
    assert got.index(b"\xff\xfe") > got.index("😀".encode())


def test_sort_names_matches_bytes_order():
    names = [os.fsdecode(b) for b in (b"\xff", b"\xc3\xa9", b"z", "😀".encode(), b"\xe2\x82")]
    sort_names(names)
    assert [os.fsencode(n) for n in names] == sorted(os.fsencode(n) for n in names)


def test_non_utf8_names_round_trip(tmp_path):
    raw = [b"caf\xe9.txt", b"\x80\x81dir/", b"\x80\x81dir/\xfe inner", b"ok \xe2\x9c\x93"]
    make(tmp_path, *raw)
    entries, errors = collect(tmp_path)
    assert errors == []
    base = os.fsencode(tmp_path) + b"/"
    got = {os.fsencode(e.path) for e in entries}
    assert got == {base + r.rstrip(b"/") for r in raw}
    for e in entries:
        assert os.path.lexists(os.fsencode(e.path))
        assert os.fsencode(e.name) == os.path.basename(os.fsencode(e.path))


def test_max_depth_and_recurse(tmp_path):
    make(tmp_path, "a/b/c/d.txt", "top.txt")
    everything = rels(tmp_path, collect(tmp_path)[0])
    assert everything == ["a", "a/b", "a/b/c", "a/b/c/d.txt", "top.txt"]
    assert rels(tmp_path, collect(tmp_path, max_depth=0)[0]) == ["a", "top.txt"]
    assert rels(tmp_path, collect(tmp_path, recurse=False)[0]) == ["a", "top.txt"]
    assert rels(tmp_path, collect(tmp_path, max_depth=1)[0]) == ["a", "a/b", "top.txt"]
    assert rels(tmp_path, collect(tmp_path, max_depth=3)[0]) == everything
    assert max(e.depth for e in collect(tmp_path)[0]) == 3


def test_default_rules_skip_system_and_git(tmp_path):
    make(tmp_path, ".DS_Store", "Thumbs.db", "desktop.ini", "lost+found/", ".Trash/x",
         ".Trash-1000/files/y", "$RECYCLE.BIN/z", ".Spotlight-V100/", ".fseventsd/",
         ".git/HEAD", ".git/objects/ab", "keep.txt", ".hidden", "node_modules/m.js")
    entries, _ = collect(tmp_path, WalkRules())
    assert rels(tmp_path, entries) == [".hidden", "keep.txt", "node_modules", "node_modules/m.js"]


def test_skip_hidden_and_deps(tmp_path):
    make(tmp_path, ".hidden/x", ".env", "node_modules/pkg/i.js", "build", "src/build/o",
         "src/__pycache__/m.pyc", "src/main.py", "target/", ".venv/bin/python", "dist/w.whl")
    rules = WalkRules(skip_hidden=True, skip_deps=True)
    entries, _ = collect(tmp_path, rules)
    # A *file* called build survives; directories called build do not.
    assert rels(tmp_path, entries) == ["build", "src", "src/main.py"]
    only_hidden = rels(tmp_path, collect(tmp_path, WalkRules(skip_hidden=True))[0])
    assert ".env" not in only_hidden and "node_modules/pkg/i.js" in only_hidden


def test_gitignore_in_tree(tmp_path):
    (tmp_path / ".gitignore").write_text("*.log\n/build/\ncache/\n!important.log\n")
    make(tmp_path, "a.log", "important.log", "build/x", "sub/build/y", "sub/cache/z",
         "sub/cache.txt", "cache", "keep.py")
    (tmp_path / "sub" / ".gitignore").write_text("*.txt\n!a.log\n")
    make(tmp_path, "sub/a.log", "sub/b.log", "sub/c.txt")
    entries, errors = collect(tmp_path, WalkRules())
    assert errors == []
    assert rels(tmp_path, entries) == [
        ".gitignore", "cache", "important.log", "keep.py", "sub", "sub/.gitignore",
        "sub/a.log", "sub/build", "sub/build/y",
    ]


def test_gitignore_off_and_nested_scope(tmp_path):
    make(tmp_path, "one/x.tmp", "two/x.tmp")
    (tmp_path / "one" / ".gitignore").write_text("*.tmp\n")
    on = rels(tmp_path, collect(tmp_path, WalkRules())[0])
    assert "one/x.tmp" not in on and "two/x.tmp" in on
    off = rels(tmp_path, collect(tmp_path, WalkRules(gitignore=False))[0])
    assert "one/x.tmp" in off


def test_gitignore_read_even_when_hidden_files_skipped(tmp_path):
    make(tmp_path, "a.o", "a.c")
    (tmp_path / ".gitignore").write_text("*.o\n")
    assert rels(tmp_path, collect(tmp_path, WalkRules(skip_hidden=True))[0]) == ["a.c"]


def test_root_errors_go_to_callback(tmp_path):
    entries, errors = collect(tmp_path / "missing")
    assert entries == [] and isinstance(errors[0][1], FileNotFoundError)
    make(tmp_path, "file")
    entries, errors = collect(tmp_path / "file")
    assert entries == [] and isinstance(errors[0][1], NotADirectoryError)


def test_vanished_entries_are_reported_and_skipped(tmp_path):
    make(tmp_path, "a", "b", "c", "d/x", "e")
    errors: list[tuple[str, BaseException]] = []
    seen = []
    for e in walk(tmp_path, NO_RULES, on_error=lambda p, x: errors.append((p, x))):
        seen.append(e.name)
        if e.name == "a":
            os.unlink(tmp_path / "b")
            os.unlink(tmp_path / "d" / "x")
            os.rmdir(tmp_path / "d")
    assert seen == ["a", "c", "e"]
    assert [(os.path.basename(p), type(x)) for p, x in errors] == [
        ("b", FileNotFoundError), ("d", FileNotFoundError)]


def test_directory_removed_after_it_was_yielded(tmp_path):
    make(tmp_path, "d/x", "z")
    seen, errors = [], []
    for e in walk(tmp_path, NO_RULES, on_error=lambda p, x: errors.append((p, x))):
        seen.append(e.name)
        if e.name == "d":
            os.unlink(tmp_path / "d" / "x")
            os.rmdir(tmp_path / "d")
    assert seen == ["d", "z"]
    assert [os.path.basename(p) for p, _ in errors] == ["d"]


def permissions_enforced(tmp_path) -> bool:
    """False when running as root (with DAC override), where mode 000 does not block."""
    probe = tmp_path / "probe"
    probe.mkdir()
    os.chmod(probe, 0)
    try:
        os.listdir(probe)
    except PermissionError:
        return True
    finally:
        os.chmod(probe, 0o700)
        probe.rmdir()
    return False


def test_unreadable_directory(tmp_path):
    if not permissions_enforced(tmp_path):
        pytest.skip("permissions are not enforced for this user (root)")
    make(tmp_path, "locked/secret", "open/x", "noexec/y")
    os.chmod(tmp_path / "locked", 0)
    os.chmod(tmp_path / "noexec", stat.S_IRUSR)
    try:
        entries, errors = collect(tmp_path)
    finally:
        os.chmod(tmp_path / "locked", 0o700)
        os.chmod(tmp_path / "noexec", 0o700)
    assert rels(tmp_path, entries) == ["locked", "noexec", "open", "open/x"]
    failed = {os.path.relpath(p, tmp_path): type(x) for p, x in errors}
    assert failed == {"locked": PermissionError, "noexec/y": PermissionError}


def test_mode_000_directory_does_not_stop_the_walk(tmp_path):
    make(tmp_path, "locked/secret", "open/x")
    os.chmod(tmp_path / "locked", 0)
    try:
        entries, errors = collect(tmp_path)
    finally:
        os.chmod(tmp_path / "locked", 0o700)
    names = rels(tmp_path, entries)
    assert names[:1] == ["locked"] and names[-2:] == ["open", "open/x"]
    if os.geteuid() != 0:
        assert [os.path.basename(p) for p, _ in errors] == ["locked"]


def test_callback_exception_propagates(tmp_path):
    def boom(path, exc):
        raise RuntimeError(path)

    with pytest.raises(RuntimeError):
        list(walk(tmp_path / "missing", on_error=boom))


def _deep_tree(root, levels: int) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("leaf", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def _remove_deep_tree(root, levels: int) -> None:
    """shutil.rmtree recurses, so the chain is removed by hand, bottom up,
    holding at most two descriptors."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.unlink("leaf", dir_fd=fd)
    for _ in range(levels):
        parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        os.rmdir("d", dir_fd=parent)
        fd = parent
    os.close(fd)


def test_deep_tree_beyond_path_max(tmp_path):
    levels = 3000
    _deep_tree(tmp_path, levels)
    try:
        entries, errors = collect(tmp_path)
        assert errors == []
        assert len(entries) == levels + 1
        leaf = entries[-1]
        assert leaf.name == "leaf" and leaf.depth == levels and leaf.kind == "file"
        assert len(os.fsencode(leaf.path)) > 4096  # longer than PATH_MAX
        # Resume deep inside the chain.
        mid = entries[1500]
        rest, errors = collect(tmp_path, start_after=mid.path)
        assert errors == [] and rest == entries[1501:]
    finally:
        _remove_deep_tree(tmp_path, levels)


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_abandoned_walk_releases_descriptors(tmp_path):
    make(tmp_path, "a/b/c/d/e", "a/z")
    before = _fd_count()
    it = walk(tmp_path, NO_RULES)
    for e in it:
        if e.name == "d":
            break
    it.close()
    assert _fd_count() == before


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_descriptors_stay_bounded_down_a_deep_branch(tmp_path):
    levels = HELD_FDS * 2
    _deep_tree(tmp_path, levels)
    (tmp_path / "z").mkdir()  # climbing all the way back up: past re-opened and held parents
    try:
        before = _fd_count()
        most, names = 0, []
        for s in walk_segments(tmp_path, NO_RULES, chunk=1):
            most = max(most, _fd_count() - before)
            names += s.values[1::8]
        assert names == [b"d"] * levels + [b"leaf", b"z"]
        assert HELD_FDS < most <= HELD_FDS + 2
        assert _fd_count() == before
    finally:
        _remove_deep_tree(tmp_path, levels)


def test_big_directory(tmp_path):
    names = [f"f{i:05d}" for i in range(5000)]
    for n in names:
        os.close(os.open(tmp_path / n, os.O_CREAT | os.O_WRONLY))
    entries, _ = collect(tmp_path)
    assert [e.name for e in entries] == names


# --- resuming ------------------------------------------------------------------

def _resume_tree(tmp_path):
    make(tmp_path, "a/1", "a/2/x", "a/2/y", "a/3", "b", "c/", "c/d/e/f", "c/g",
         b"\xff/inner", "\u00e9/k", "z.log", "keep.log")
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\n")


@pytest.mark.parametrize("rules,kw", [
    (NO_RULES, {}), (WalkRules(), {}), (WalkRules(), {"max_depth": 1}),
])
def test_start_after_every_position(tmp_path, rules, kw):
    _resume_tree(tmp_path)
    full, _ = collect(tmp_path, rules, **kw)
    assert len(full) > 10
    for i, entry in enumerate(full):
        rest, errors = collect(tmp_path, rules, start_after=entry.path, **kw)
        assert errors == []
        assert rest == full[i + 1:], entry.path


def test_start_after_a_path_that_vanished(tmp_path):
    _resume_tree(tmp_path)
    full, _ = collect(tmp_path)
    paths = rels(tmp_path, full)
    # 'a/2' with its children disappears; resume continues with 'a/3'.
    for name in ("x", "y"):
        os.unlink(tmp_path / "a" / "2" / name)
    os.rmdir(tmp_path / "a" / "2")
    rest, _ = collect(tmp_path, start_after=str(tmp_path / "a" / "2" / "x"))
    assert rels(tmp_path, rest) == paths[paths.index("a/3"):]
    # A name that never existed sorts into place too.
    rest, _ = collect(tmp_path, start_after=str(tmp_path / "bb"))
    assert rels(tmp_path, rest) == paths[paths.index("c"):]


def test_start_after_validation(tmp_path):
    with pytest.raises(ValueError):
        walk(tmp_path, start_after="/elsewhere/x")
    with pytest.raises(ValueError):
        walk(tmp_path, start_after=str(tmp_path))
    with pytest.raises(ValueError):
        walk(tmp_path, start_after=str(tmp_path / ".." / "x"))


def test_root_with_trailing_slash(tmp_path):
    make(tmp_path, "a/b")
    entries, _ = collect(str(tmp_path) + "/")
    assert [e.path for e in entries] == [str(tmp_path / "a"), str(tmp_path / "a" / "b")]


# --- cycles through bind mounts ----------------------------------------------------

@pytest.mark.skipif(not IS_ROOT, reason="bind mounts need root")
def test_bind_mount_cycle_is_not_entered(tmp_path):
    make(tmp_path, "top/file", "top/loop/")
    loop = tmp_path / "top" / "loop"
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "--bind", str(tmp_path / "top"), str(loop)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot bind mount here")
    try:
        entries, errors = collect(tmp_path / "top")
    finally:
        subprocess.run(["umount", str(loop)], check=True)
    assert rels(tmp_path / "top", entries) == ["file", "loop"]
    assert len(errors) == 1 and isinstance(errors[0][1], DirectoryCycleError)
    assert errors[0][1].errno == errno.ELOOP


# --- agreement with git itself ---------------------------------------------------

@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gitignore_agrees_with_git(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    make(repo, "a.log", "keep.log", "src/main.c", "src/main.o", "src/gen/x.c", "src/gen/keep.c",
         "docs/a/b/c.pdf", "docs/top.pdf", "docs/x.txt", "build/out", "lib/build/out",
         "Thumbs.txt", "thumbs.txt", "x1.dat", "xa.dat", "deep/er/still/file.tmp",
         "deep/er/still/file.keep", "node/cache/f", "cache", "sub/.gitignore", "sub/a.log",
         "sub/b.log", "sub/inner/c.log", "sp ace.txt", "excluded/inner/back.txt",
         "a[b].txt", "q?.txt", "weird#name")
    (repo / ".gitignore").write_text(
        "# top-level rules\n*.log\n!keep.log\n*.o\nsrc/gen/*\n!src/gen/keep.c\n"
        "docs/**/*.pdf\n/build/\n[Tt]humbs.txt\nx[0-9].dat\n**/still/*.tmp\ncache/\n"
        "sp\\ ace.txt\nexcluded/\n!excluded/inner/back.txt\na\\[b\\].txt\nweird\\#name\n")
    (repo / "sub" / ".gitignore").write_text("!b.log\ninner/\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    out = subprocess.run(["git", "-C", str(repo), "ls-files", "--others", "--exclude-standard", "-z"],
                         check=True, capture_output=True).stdout
    git_files = sorted(p for p in out.decode().split("\0") if p)
    entries, errors = collect(repo, WalkRules(skip_system=False))
    assert errors == []
    ours = sorted(r for r, e in zip(rels(repo, entries), entries, strict=True) if e.kind == "file")
    assert ours == git_files


def test_unreadable_gitignore_is_reported_and_walk_goes_on(tmp_path):
    make(tmp_path, ".gitignore/oops", "a.txt", "sub/b.txt")
    entries, errors = collect(tmp_path, WalkRules())
    assert rels(tmp_path, entries) == [".gitignore", ".gitignore/oops", "a.txt", "sub", "sub/b.txt"]
    assert [os.path.relpath(p, tmp_path) for p, _ in errors] == [".gitignore"]
    assert isinstance(errors[0][1], IsADirectoryError)


def test_errors_are_silent_without_callback(tmp_path):
    assert list(walk(tmp_path / "missing")) == []


def test_root_given_as_symlink(tmp_path):
    make(tmp_path, "real/a", "real/sub/b")
    os.symlink(tmp_path / "real", tmp_path / "alias")
    entries, errors = collect(tmp_path / "alias")
    assert errors == []
    assert [e.path for e in entries] == [
        str(tmp_path / "alias" / "a"), str(tmp_path / "alias" / "sub"),
        str(tmp_path / "alias" / "sub" / "b")]


def test_start_after_inside_a_now_excluded_directory(tmp_path):
    make(tmp_path, "a", "node_modules/x/y", "z")
    rules = WalkRules(skip_deps=True)
    rest, _ = collect(tmp_path, rules, start_after=str(tmp_path / "node_modules" / "x" / "y"))
    assert rels(tmp_path, rest) == ["z"]


def test_filesystem_root(tmp_path):
    entries, _ = collect("/", WalkRules(), max_depth=0)
    assert entries and all(e.path == "/" + e.name and e.parent == "/" for e in entries)
    first = entries[0]
    assert collect("/", WalkRules(), max_depth=0, start_after=first.path)[0] == entries[1:]


# --- walk_segments: the same walk in bulk ---------------------------------------------

def _flat(entry) -> tuple:
    return (os.fsencode(entry.path), os.fsencode(entry.name), entry.kind, entry.size, entry.inode, entry.device,
            entry.mode, entry.mtime_ns)


def _check_segments(root, rules, chunk, **kw) -> list:
    """walk_segments agrees with walk entry for entry, and each segment with its entries."""
    full, errors = collect(root, rules, **kw)
    seg_errors: list = []
    segments = list(walk_segments(root, rules, chunk=chunk, on_error=lambda p, e: seg_errors.append((p, e)), **kw))
    assert [(p, type(e)) for p, e in seg_errors] == [(p, type(e)) for p, e in errors]
    values = [v for s in segments for v in s.values]
    assert values == [v for e in full for v in _flat(e)]
    limit = 0 if kw.get("recurse") is False else kw.get("max_depth")
    at = 0
    for s in segments:
        mine = full[at:at + len(s.values) // 8]
        at += len(mine)
        assert 0 < len(mine) <= chunk
        assert {e.parent for e in mine} == {s.parent}
        assert s.file_bytes == sum(e.size for e in mine if e.kind == "file")
        assert s.files == sum(1 for e in mine if e.kind == "file")
        assert s.digest == sum(child_key(os.fsencode(e.name), e.size, e.inode, e.device, e.mode, e.mtime_ns)
                               for e in mine)
        entered = [e.path for e in mine if e.kind == "dir" and (limit is None or e.depth < limit)]
        assert entered == ([s.enter] if s.enter else [])
        assert s.enter is None or s.enter == mine[-1].path  # only the last one is entered
        assert s.dirs == [e.path for e in mine if e.kind == "dir" and e.path != s.enter]
    return segments


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
@pytest.mark.parametrize("rules,kw", [
    (NO_RULES, {}), (WalkRules(), {}), (WalkRules(), {"max_depth": 1}), (WalkRules(), {"recurse": False}),
])
def test_segments_are_the_walk_in_bulk(tmp_path, chunk, rules, kw):
    _resume_tree(tmp_path)
    os.symlink("a", tmp_path / "link")
    _check_segments(tmp_path, rules, chunk, **kw)


def test_segments_from_every_start_after(tmp_path):
    _resume_tree(tmp_path)
    full, _ = collect(tmp_path, WalkRules())
    for entry in full:
        segments = _check_segments(tmp_path, WalkRules(), 2, start_after=entry.path)
        assert sum(len(s.values) for s in segments) // 8 == len(full) - full.index(entry) - 1


def test_segment_is_handed_over_before_its_directory_is_opened(tmp_path):
    """A directory that vanishes after its segment was yielded is reported then, as by walk."""
    make(tmp_path, "d/x", "z")
    seen, errors = [], []
    for s in walk_segments(tmp_path, NO_RULES, on_error=lambda p, x: errors.append((p, x))):
        seen.append([os.path.basename(v) for v in s.values[1::8]])
        if s.enter:
            assert s.enter == str(tmp_path / "d") and errors == []
            shutil.rmtree(tmp_path / "d")
    assert seen == [[b"d"], [b"z"]]
    assert [os.path.basename(p) for p, _ in errors] == ["d"]
