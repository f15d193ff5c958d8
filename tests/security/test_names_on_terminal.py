"""A file named with terminal escapes cannot retitle, clear or drive the terminal of whoever
lists its job: every human output escapes control characters (as GNU ls does on a terminal);
--json keeps the exact name. Runs as any user (no attacker needed: the name is the attack)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

# OSC 0 (set the window title), then "clear the screen", a C1 CSI and a byte that is not UTF-8.
EVIL = b"evil\x1b]0;PWNED\x07\x1b[2J\xc2\x9b\xff.txt"
SHOWN = "evil\\x1b]0;PWNED\\x07\\x1b[2J\\x9b\\xff.txt"
RAW = (b"\x1b]", b"\x07", b"\x1b[2J", b"\xc2\x9b", b"\x9b", b"\xff")


def on_terminal(*args, env=None, colour=False, timeout=60.0) -> bytes:
    """Run sdjobs with stdin, stdout and stderr on a pseudo-terminal; everything it printed."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", **(env or {})}
    if colour:
        env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", *map(os.fsencode, args)], stdin=slave,
                            stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
            break
    os.close(master)
    proc.wait(10)
    return out


def assert_no_raw(out: bytes, where: str) -> None:
    for seq in RAW:
        assert seq not in out, f"{where} printed {seq!r} raw: {out[-3000:]!r}"


@pytest.fixture
def evil_job(lib, tmp_path):
    """A finished copy of the evil name, with a warning and an error about it."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    evil = os.path.join(os.fsencode(src), EVIL)
    with open(evil, "wb") as f:
        f.write(b"x" * 1000)
    out = on_terminal("copy", evil, os.fsencode(dst))
    assert os.path.exists(os.path.join(os.fsencode(dst), EVIL)), out
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    store = Store(Library(lib))
    try:
        job = store.list_jobs()[0].id
        name = os.fsdecode(evil)
        message = "odd name " + EVIL[:-5].decode()  # messages are UTF-8
        store.write(job, None, {"bytes": 1000, "items": 1, "warnings": 1, "errors": 1},
                    [(time.time(), "warning", name, message), (time.time(), "error", name, "planted")], None)
    finally:
        store.close()
    return job, out, name


def test_the_followed_copy_shows_the_name_escaped(evil_job):
    _job, out, _name = evil_job
    assert_no_raw(out, "copy (follow display and summary)")


def test_job_listings_escape_names(evil_job):
    job, _out, _name = evil_job
    for command in (["jobs", "ls"], ["jobs", "ls", "--all"], ["jobs", "show", str(job)], ["jobs", "logs", str(job)]):
        for colour in (False, True):
            out = on_terminal(*command, colour=colour)
            assert_no_raw(out, " ".join(command))
            if command[1] != "ls":  # ls cuts long commands, before the name
                assert SHOWN.encode() in out, (command, out)


def test_error_lines_escape_names(lib, tmp_path):
    missing = os.path.join(os.fsencode(tmp_path), EVIL)
    out = on_terminal("copy", missing, os.fsencode(tmp_path / "dst"))
    assert b"error" in out and b"PWNED" in out, out
    assert_no_raw(out, "the error line")


def test_json_keeps_the_exact_name(evil_job, cli):
    job, _out, name = evil_job
    data = cli.json("jobs", "show", str(job))
    assert name in data["context"]["argv"]
    assert {i["path"] for i in data["issues"]} == {name}
    assert os.fsencode(name) == os.fsencode(data["issues"][0]["path"])


def test_the_dashboard_shows_names_as_text_never_markup_or_escapes():
    from rich.console import Console
    from sdjobs.store.records import Event
    from sdjobs.tui import format as fmt
    from sdjobs.tui.widgets.log_tail import event_line

    name = os.fsdecode(EVIL) + "[bold red]markup[/]"
    console = Console(file=open(os.devnull, "w"), force_terminal=True, color_system="truecolor")
    for shown in (event_line(Event(1, 1, 0.0, "error", name, name)), fmt.plain(name),
                  fmt.plain(fmt.short_path(name, 200)), fmt.plain(fmt.started_by({"argv": ["sdjobs", name]}, None))):
        with console.capture() as cap:
            console.print(shown)
        out = cap.get().encode("utf-8", "surrogateescape")
        assert_no_raw(out, "the dashboard")
        assert "[bold red]markup[/]" in shown.plain
