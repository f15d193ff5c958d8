"""Checkpoints written before the jobs' state became dataclasses (plain dicts, some without
the keys added later) still resume where they were."""

from __future__ import annotations

import os
import shutil

from dupes_helpers import write

from sdjobs.core import codec, registry
from sdjobs.core.fields import build_config
from sdjobs.jobs.dupes.results import results_of
from sdjobs.store import events
from sdjobs.runner.fanout import FanOut
from sdjobs.runner.host import execute


def resume_inline(store, job_type: str, config: dict, state: dict, before_resume=None):
    """Submit ``job_type`` as if an earlier sdjobs had run it up to checkpointing ``state``
    (a dict, as that sdjobs packed it), then run it here to its end."""
    cls = registry.get(job_type)
    cfg = cls.prepare(build_config(cls.Config, dict(config)))
    cls.validate(cfg)
    job_id = store.submit(job_type, cls.version, cfg)
    if before_resume:
        before_resume()
    zero = {"bytes": 0, "items": 0, "warnings": 0, "errors": 0}
    store.write(job_id, None, zero, [], (codec.pack(state), cls.version))
    runner = store.register_runner(2, "test")
    [rec] = store.claim(runner, 1)
    execute(store, rec, runner, FanOut(2))
    store.unregister_runner(runner)
    return store.get(job_id)


def test_delete_resumes_a_dict_checkpoint_without_synced(store, lib, tmp_path):
    paths = [str(tmp_path / n) for n in "abcd"]
    for p in paths:
        write(p, b"x" * 10)
    old = {"i": 2, "plan": {"files": 4, "bytes": 40, "dirs": {}},  # no "synced": written before it existed
           "out": {"mode": "permanent", "targets": 2, "files": 2, "dirs": 0, "bytes": 20, "gone": 0,
                   "skipped": 0, "refused": 0}}

    def first_run_deleted():
        for p in paths[:2]:
            os.unlink(p)

    rec = resume_inline(store, "delete", {"paths": paths, "mode": "permanent", "yes": True, "library": str(lib)},
                        old, before_resume=first_run_deleted)
    assert rec.status == "completed", rec.error
    assert not any(os.path.lexists(p) for p in paths)
    # the first two counted once, as the earlier run did, not as gone: the checkpoint was honoured
    assert (rec.output["targets"], rec.output["files"], rec.output["bytes"], rec.output["gone"]) == (4, 4, 40, 0)


def test_validate_resumes_a_dict_checkpoint_without_listed(store, lib, tmp_path):
    root = tmp_path / "tree"
    for n in ("one.txt", "two.txt", "three.txt"):
        write(root / n, b"hello\n")
    items = [[str(root / n), "file", None, 6] for n in ("one.txt", "two.txt")]  # the list the first run made
    planted = ["warning", "planted", str(root / "one.txt"), "found by the first run", ""]
    old = {"items": items, "notes": [], "done": 1, "issues": [planted], "hashed": 0}  # no "listed"
    rec = resume_inline(store, "validate", {"paths": [str(root)], "mode": "corruption", "library": str(lib)}, old)
    assert rec.status == "completed", rec.error
    assert rec.output["checked"] == 2  # the checkpoint's list, not a new listing of three files
    issues = results_of(store, rec.id)["issues"]
    assert [(i["kind"], i["path"]) for i in issues] == [("planted", str(root / "one.txt"))]



def first_run_copied(src, dst) -> None:
    dst.parent.mkdir(parents=True)
    shutil.copy2(src, dst)
    shutil.copystat(src.parent, dst.parent)


def test_copy_resumes_a_dict_checkpoint_of_an_older_version(store, lib, tmp_path):
    """A copy checkpointed as a dict by a version without ``fresh``, ``walked`` or ``renamed_tops``."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    for i in range(5):
        write(src / f"d{i % 2}" / f"f{i}", bytes([i]) * (i * 1000 + 1))
    old = {"planned": True, "token": "0123456789ab", "links": {}, "dirmeta": {}, "current": None,
           "out": {"files": 1, "bytes": 1, "dirs": 0, "links": 0, "skipped": 0, "renamed": 0}}
    rec = resume_inline(store, "copy", {"sources": [str(src)], "dest": str(dst)}, old,
                        before_resume=lambda: first_run_copied(src / "d0" / "f0", dst / "d0" / "f0"))
    assert rec.status == "completed", [(e.path, e.message) for e in events.read(store, rec.id, kinds=["error"])]
    for i in range(5):
        assert (dst / f"d{i % 2}" / f"f{i}").read_bytes() == bytes([i]) * (i * 1000 + 1)
    assert rec.output["files"] == 5  # the first run's one, and this run's four
    assert not [p for p in dst.rglob("*") if ".sdjobs-" in p.name]
