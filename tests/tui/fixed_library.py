"""A library with fixed content and fixed timestamps, for snapshot tests.

Jobs go in through ``Store.submit`` and are then put in their state with
``store.sql`` updates (no runner), so the screen is the same on every run:
the dashboard is given ``NOW`` as its clock and ``lookup`` as its registry.
"""

from __future__ import annotations

from pathlib import Path

from sdjobs.core import codec
from sdjobs.store.api import Store
from sdjobs.store.library import Library

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


class Installed:
    """A job type as the dashboard sees it: a name, a description, a summary."""

    def __init__(self, description: str) -> None:
        self.description = description

    def summarize(self, output) -> str:
        return ", ".join(f"{k}={v}" for k, v in output.items() if not isinstance(v, (list, dict)))


TYPES = {
    "copy": Installed("Copy files and trees like cp -a, as a resumable job"),
    "dupes": Installed("Find groups of files with identical content"),
    "validate": Installed("Check files for drift and corruption"),
    "index": Installed("Index a tree"),
    "thumbs": Installed("Make thumbnails"),
}


def lookup(name: str):
    """Job types as installed for the snapshots (photo-sort is a plugin that is not): fixed here, so
    that the screens do not change when a job module's description does."""
    return TYPES.get(name)


def ctx(*argv: str, cwd: str = "/home/ana") -> dict:
    return {"argv": ["sdjobs", *argv], "inputs": {}, "user": "ana", "cwd": cwd, "host": "desk",
            "time": NOW - 3600}


def add(store: Store, job_type: str, status: str, config: dict, *, age: float, context: dict | None = None,
        priority: int = 0, parent: int | None = None, progress: dict | None = None, output=None,
        error: str | None = None, ran: float = 0.0, warnings: int = 0, errors: int = 0,
        bytes_done: int = 0, items: int = 0, events=(), after: tuple[int, ...] = ()) -> int:
    job_id = store.submit(job_type, 1, config, priority=priority, parent_id=parent, context=context or {},
                          after=list(after))
    created = NOW - age
    started = created + 1 if status != "queued" else None
    finished = started + ran if status in ("completed", "completed-with-errors", "failed", "cancelled") else None
    store._sql("UPDATE job SET status=?, created_at=?, updated_at=?, started_at=?, finished_at=?, paused_at=?,"
              " progress=?, output=?, error=?, run_seconds=?, warnings=?, errors=?, bytes_done=?, items_done=?,"
              " attempts=? WHERE id=?",
              (status, created, finished or created + 2, started, finished,
               created + ran if status == "paused" else None, codec.pack(progress) if progress else None,
               codec.pack(output), error, ran, warnings, errors, bytes_done, items, 1 if started else 0, job_id))
    for n, (kind, path, message) in enumerate(events):
        store._sql("INSERT INTO job_event (job_id, ts, kind, path, message) VALUES (?,?,?,?,?)",
                  (job_id, created + 2 + n, kind, path.encode() if path else None, message))
    return job_id


def build(path: Path) -> Store:
    store = Store(Library(path))
    add(store, "copy", "completed", {"sources": ["/home/ana/Photos"], "dest": "/mnt/backup"}, age=3 * 86400,
        context=ctx("copy", "Photos", "/mnt/backup"), ran=754, bytes_done=48_200_000_000, items=21_408,
        progress={"phase": "copying", "done": 21408, "total": 21408, "unit": "files"},
        output={"files": 21408, "dirs": 1203, "bytes": 48_200_000_000})
    add(store, "dupes", "completed", {"paths": ["/home/ana/Photos"]}, age=26 * 3600, ran=93,
        context=ctx("dupes", "Photos"), items=21_408,
        output={"files": 21408, "groups": [
            {"size": 4_200_000, "paths": ["/home/ana/Photos/2021/IMG_0001.jpg",
                                          "/home/ana/Photos/export/IMG_0001.jpg"]},
            {"size": 120_000, "paths": ["/home/ana/Photos/a.png", "/home/ana/Photos/b.png",
                                        "/home/ana/Photos/c.png"]}]})
    add(store, "validate", "completed-with-errors", {"paths": ["/srv/archive"], "mode": "integrity"},
        age=5 * 3600, ran=301, errors=2, context=ctx("validate", "/srv/archive", "--mode", "integrity"),
        output={"checked": 5120, "issues": [
            {"severity": "warning", "kind": "empty-file", "path": "/srv/archive/notes.txt",
             "action": "delete it or restore it"},
            {"severity": "critical", "kind": "hash-changed", "path": "/srv/archive/2019/scan-004.tif",
             "action": "restore from backup: content changed with the same size and mtime"}]})
    add(store, "copy", "failed", {"sources": ["/home/ana/Videos"], "dest": "/mnt/usb"}, age=2 * 3600, ran=40,
        context=ctx("copy", "Videos", "/mnt/usb"), error="disk full: /mnt/usb has 0 B free, 1.2 GB needed",
        progress={"phase": "copying", "bytes_done": 2_000_000_000, "bytes_total": 3_200_000_000})
    add(store, "photo-sort", "paused", {"root": "/home/ana/Photos"}, age=40 * 60, ran=120,
        context=ctx("run", "photo-sort", "--set", "root=Photos"),
        progress={"phase": "sorting", "done": 300, "total": 1200, "unit": "photos"})
    parent = add(store, "index", "running", {"paths": ["/home/ana"]}, age=9 * 60, ran=0,
                 context=ctx("index", "/home/ana", "--thumbs"), items=52_000,
                 progress={"phase": "walking", "done": 52_000, "unit": "files", "path": "/home/ana/src/linux/fs",
                           "rate": 8_400.0, "rate_unit": "files", "fields": {"dirs": 4_100, "skipped": 12}})
    add(store, "thumbs", "queued", {"paths": ["/home/ana/Photos"]}, age=8 * 60, parent=parent, priority=1)
    add(store, "copy", "running", {"sources": ["/home/ana/Videos/2023"], "dest": "/mnt/backup/videos"},
        age=4 * 60, context=ctx("copy", "Videos/2023", "/mnt/backup/videos", "--verify"), warnings=1, errors=2,
        bytes_done=1_480_000_000, items=410,
        progress={"phase": "copying", "done": 410, "total": 1000, "unit": "files", "bytes_done": 1_480_000_000,
                  "bytes_total": 3_200_000_000, "rate": 85_000_000.0, "rate_unit": "bytes", "eta": 20.2,
                  "path": "/home/ana/Videos/2023/holiday.mp4", "updated_at": NOW - 1},
        events=[("log", None, "copying 1,000 files (3.2 GB) to /mnt/backup/videos"),
                ("warning", "/home/ana/Videos/2023/old.mov", "modification time in the future; kept as is"),
                ("error", "/home/ana/Videos/2023/locked.mkv", "PermissionError: [Errno 13] Permission denied"),
                ("error", "/home/ana/Videos/2023/gone.mp4", "FileNotFoundError: vanished while copying"),
                ("log", None, "phase copying")])
    add(store, "copy", "queued", {"sources": ["/home/ana/Music"], "dest": "/mnt/backup"}, age=60, priority=5,
        context=ctx("copy", "Music", "/mnt/backup", "--priority", "5"))
    add(store, "validate", "queued", {"paths": ["/mnt/backup/videos"]}, age=30, after=(8,),
        context=ctx("validate", "/mnt/backup/videos", "--after", "8"))
    # The running jobs belong to a live runner (this process), so that nothing recovers them as orphans.
    runner = store.register_runner(2, "foreground")
    running = [r[0] for r in store._sql("SELECT id FROM job WHERE status='running'")]
    store._sql("UPDATE job SET runner_id=? WHERE status='running'", (runner,))
    store.heartbeat(runner, running, busy=len(running))
    return store
