"""Lists fit the terminal (no row wraps) and carry no padding on a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from sdjobs.cli import output
from sdjobs.core import codec

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
LONG = "/home/ana/Videos/2023/holiday in the mountains with a long folder name/day-03"


@pytest.fixture
def busy(store):
    """A running copy whose progress and command line are as long as they get; its runner is this
    process, unregistered at the end (the library fixture would stop it: SIGTERM to pytest)."""
    job = busy_library(store)
    yield job
    for runner in store.runners(live_only=False):
        store.unregister_runner(runner.id)


def busy_library(store) -> int:
    job = store.submit("copy", 1, {"sources": [LONG], "dest": "/mnt/backup/videos"},
                       context={"argv": ["sdjobs", "copy", LONG, "/mnt/backup/videos", "--verify", "--priority", "3"]})
    progress = {"phase": "copying-and-verifying", "done": 41_000, "total": 100_000, "unit": "files",
                "bytes_done": 148_000_000_000, "bytes_total": 320_000_000_000, "rate": 85_000_000.0,
                "rate_unit": "bytes", "eta": 2024.0, "path": LONG + "/x.mp4"}
    runner = store.register_runner(1, "foreground")   # alive (this process): not recovered as an orphan
    store._sql("UPDATE job SET status='running', progress=?, runner_id=? WHERE id=?",
              (codec.pack(progress), runner, job))
    store.heartbeat(runner, [job], busy=1)
    done = store.submit("validate", 1, {"paths": [LONG]}, context={"argv": ["sdjobs", "validate", LONG]})
    store._sql("UPDATE job SET status='completed-with-errors', finished_at=created_at WHERE id=?", (done,))
    return job


def in_terminal(args: list[str], columns: int) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", *args], stdin=slave, stdout=slave, stderr=slave,
                            env={**env, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return ANSI.sub("", seen.decode("utf-8", "replace")).replace("\r", "")


@pytest.mark.parametrize("columns", [80, 100])
def test_jobs_ls_never_wraps_a_row_on_a_terminal(lib, busy, columns):
    job = busy
    text = in_terminal(["jobs", "ls"], columns)
    lines = [line for line in text.split("\n") if line.strip()]
    assert len(lines) == 3, text       # header and two rows: none wrapped onto a second line
    assert all(len(line) <= columns for line in lines), "\n".join(lines)
    assert lines[1].lstrip().startswith(str(job)) and "running" in lines[1]


def test_piped_lists_have_no_padding(cli, busy):
    job = busy
    for args in (["jobs", "show", str(job)], ["jobs", "ls"]):
        proc = cli(*args, check=True)
        lines = proc.stdout.splitlines()
        assert lines and not [line for line in lines if line != line.rstrip()], (args, proc.stdout)
        if args[1] == "show":
            assert LONG in proc.stdout  # nothing cut on a pipe


def test_rich_tables_on_a_pipe_are_not_padded(capsys):
    """`thumbs ls`, `locations` and `jobs show` print rich tables through output.console()."""
    from rich.table import Table

    table = Table("NAME", "SIZE")
    table.add_row("a", "1")
    table.add_row("a much longer name", "2,000")
    output.console().print(table)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3 and all(line == line.rstrip() for line in lines), lines


def test_fit_widths_narrows_the_widest_first():
    widths = [3, 8, 21, 40, 12]
    output.fit_widths(["ID", "TYPE", "STATUS", "PROGRESS", "COMMAND"], widths, 60, squeeze="COMMAND")
    assert sum(widths) + 2 * 4 <= 60 and widths[0] == 3 and widths[4] == len("COMMAND")


@pytest.mark.parametrize("path,width,expected", [
    ("/home/ana/Photos/2021/IMG_0001.jpg", 40, "/home/ana/Photos/2021/IMG_0001.jpg"),
    ("/home/ana/Photos/2021/IMG_0001.jpg", 20, "…/2021/IMG_0001.jpg"),
    ("/home/ana/Photos/2021/IMG_0001.jpg", 15, "…/IMG_0001.jpg"),
    ("/home/ana/Photos/2021/IMG_0001.jpg", 12, "IMG_0001.jpg"),
    ("/a/holiday-in-the-mountains-2019.mp4", 16, "holiday-in…9.mp4"),
])
def test_shorten_keeps_the_file_name(path, width, expected):
    assert output.shorten(path, width) == expected and output.cell_width(expected) <= width
