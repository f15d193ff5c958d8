"""The live follow display fits the terminal: at 80 columns it still shows the job id, the percentage,
the rate and the ETA, and the path keeps its file name."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from sdjobs.cli.follow import _render, follow_lines
from sdjobs.core import codec

PATH = "/home/ana/Videos/2023/holiday in the mountains/day-03/GX010234-stabilised-final.mp4"


@pytest.fixture
def running_copy(store):
    job = store.submit("copy", 1, {"sources": ["/home/ana/Videos"], "dest": "/mnt/backup"})
    for _ in range(102):  # a three-digit id, as in the issue
        job = store.submit("copy", 1, {"sources": ["/home/ana/Videos"], "dest": "/mnt/backup"})
    progress = {"phase": "copying", "done": 41_000, "total": 100_000, "unit": "files",
                "bytes_done": 148_000_000_000, "bytes_total": 320_000_000_000, "rate": 85_000_000.0,
                "rate_unit": "bytes", "eta": 2024.0, "path": PATH}
    store._sql("UPDATE job SET status='running', progress=?, warnings=1, errors=2 WHERE id=?",
              (codec.pack(progress), job))
    return store.get(job)


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_first_line_keeps_id_percentage_rate_and_eta(running_copy, width):
    first, second = (line.plain for line in follow_lines(running_copy, width))
    for needle in (f"#{running_copy.id}", "46%", "85.0 MB/s", "ETA 33:44"):
        assert needle in first, (needle, first)
    assert len(first) <= width and len(second) <= width
    assert "GX010234-stabilised-final.mp4" in second or width < 100
    assert second.rstrip().endswith(".mp4") or "…" in second


def test_80_columns_as_a_terminal_draws_it(running_copy):
    out = io.StringIO()
    Console(file=out, width=80, no_color=True, force_terminal=False).print(_render(running_copy))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert f"copy #{running_copy.id}" in lines[0] and "46%" in lines[0] and "ETA 33:44" in lines[0]
    assert lines[1].rstrip().endswith("-final.mp4"), lines[1]   # cut from the left: the file name stays


def test_narrow_terminal_drops_the_bar_not_the_facts(running_copy):
    first = follow_lines(running_copy, 60)[0].plain
    assert f"#{running_copy.id}" in first and "46%" in first and "ETA" in first


def test_a_waiting_job_says_what_for_not_running_0_percent(running_copy):
    out = io.StringIO()
    Console(file=out, width=80, no_color=True, force_terminal=False).print(
        _render(running_copy, "waiting for a worker (held by #4, #7)"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and f"copy #{running_copy.id}" in lines[0], lines
    assert "waiting for a worker (held by #4, #7)" in lines[0] and "%" not in lines[0]
