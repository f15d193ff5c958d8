"""The indexer's writer process killed on its own (as the OOM killer does) is a crash of the
index job: it resumes from its checkpoint to a complete index, neither failing nor hanging.
(Pool workers and a runner's death: test_workers.py.)"""

import os
import signal
import sys
from pathlib import Path

from conftest import children, wait_for

sys.path.insert(0, str(Path(__file__).parent.parent / "jobs"))
from index_helpers import expected, make_tree  # noqa: E402


def index_tree(root: Path) -> None:
    root.mkdir()
    make_tree(root)
    for i in range(60):
        d = root / f"d{i % 4}"
        d.mkdir(exist_ok=True)
        (d / f"f{i:03d}.dat").write_bytes(os.urandom(i * 37 % 500 + 1))


def test_the_index_writer_killed_is_a_crash_and_the_index_resumes(cli, lib, store, tmp_path, monkeypatch,
                                                                  start_runner):
    monkeypatch.setenv("SDJOBS_INDEX_BATCH", "8")
    monkeypatch.setenv("SDJOBS_INDEX_TEST_DELAY", "0.1")
    root = tmp_path / "tree"
    index_tree(root)
    start_runner("--workers", "2")
    job = int(cli("index", str(root), "--detach", check=True).stdout)
    job_pid = wait_for(lambda: store.get(job).pid, what="the job process")
    writer = wait_for(lambda: children(job_pid) and children(job_pid)[0], what="the writer process")
    os.kill(writer, signal.SIGKILL)
    assert cli("jobs", "wait", job, "--timeout", "60", timeout=90).returncode == 0
    rec = store.get(job)
    assert rec.status == "completed" and rec.attempts == 1, (rec.status, rec.error)
    assert rec.output["entries"] == len(expected(root))
