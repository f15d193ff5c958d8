"""copy on generated trees, judged against cp -a: hard links within and across directories, files on
both sides of the large-file threshold (lowered here so that trees stay small), empty files, symlinks
(relative, absolute, dangling, loops), FIFOs, names that are not UTF-8, hold newlines, start with '-'
or are 255 bytes long. Hypothesis prints the falsifying example (and a blob to replay it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from hypothesis import HealthCheck, example, given, settings, strategies as st

from dupes_helpers import run_inline
from test_copy_trust import manifest

from sdjobs.jobs.copy import planner as copy_planner
NAMES = st.one_of(
    st.sampled_from([b"a", b"-dash", b"new\nline", b"caf\xe9", b"\xff\xfe", b"x" * 255, b"sp ace", b".hidden"]),
    st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")),
)
ENTRY = st.tuples(
    st.sampled_from(["file", "big", "empty", "link", "symlink", "dangling", "loop", "fifo", "dir"]),
    st.integers(0, 3),  # directory it goes in
    NAMES,
    st.integers(0, 2**16),  # seed for content and targets
)


def build(root: bytes, entries) -> None:
    dirs = [root, os.path.join(root, b"d1"), os.path.join(root, b"d1", b"d2"), os.path.join(root, b"d3")]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    files = []
    for kind, where, name, seed in entries:
        path = os.path.join(dirs[where], name)
        if os.path.lexists(path) or (kind == "link" and not files):
            continue
        if kind in ("file", "big", "empty"):
            size = {"file": 1 + seed % 20_000, "big": 70_000 + seed, "empty": 0}[kind]
            with open(path, "wb") as f:
                f.write(os.urandom(size))
            files.append(path)
        elif kind == "link":
            os.link(files[seed % len(files)], path)
        elif kind == "symlink":
            os.symlink(os.path.relpath(files[seed % len(files)], dirs[where]) if files else b"a", path)
        elif kind == "dangling":
            os.symlink(b"/nonexistent/" + name, path)
        elif kind == "loop":
            os.symlink(name, path)
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            os.makedirs(path)


@settings(max_examples=30, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=st.lists(ENTRY, min_size=1, max_size=25), verify=st.booleans())
@example(entries=[("big", 0, b"B", 1), ("file", 1, b"x" * 255, 2), ("link", 2, b"y" * 255, 0), ("link", 3, b"-l", 1),
                  ("fifo", 1, b"f" * 255, 0), ("symlink", 3, b"s" * 255, 1), ("big", 3, b"\xff", 3)], verify=True)
def test_generated_trees_copy_as_cp_a_does(store, monkeypatch, entries, verify):
    monkeypatch.setattr(copy_planner, "SMALL", 64 * 1024)  # "big" files take the large-file thread (the pool forks after)
    work = tempfile.mkdtemp(prefix="sdjobs-gen-")
    try:
        src = os.path.join(work.encode(), b"src")
        build(src, entries)
        subprocess.run([b"cp", b"-a", src, os.path.join(work.encode(), b"by-cp")], check=True)
        rec = run_inline(store, "copy", {"sources": [os.fsdecode(src)], "dest": os.path.join(work, "by-sdjobs"),
                                         "verify": verify})
        assert rec.status == "completed", (rec.status, rec.error, entries)
        assert manifest(os.path.join(work, "by-sdjobs")) == manifest(os.path.join(work, "by-cp"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
