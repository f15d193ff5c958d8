"""How outputs and amounts are laid out: any shape renders, special shapes read well."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from sdjobs.core.progress import Progress
from sdjobs.tui import format as fmt
from sdjobs.tui.outputs import render_output


def text(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(renderable)
    return out.getvalue()


def test_duplicate_groups_in_every_shape_show_paths_and_waste():
    out = text(render_output("dupes", {"groups": [
        {"size": 2_000_000, "paths": ["/p/a.jpg", "/p/b.jpg", "/p/c.jpg"]},
        {"size": 10, "files": [{"path": "/q/x"}, {"path": "/q/y"}], "hash": "ab12"},
        ["/r/1", "/r/2"],
    ], "wasted": 4_000_010}))
    assert "3 duplicate groups" in out and "4.0 MB wasted in all" in out
    for path in ("/p/a.jpg", "/p/c.jpg", "/q/y", "/r/2"):
        assert path in out
    assert "hash ab12" in out


def test_issues_are_sorted_by_severity_with_their_action():
    out = text(render_output("validate", {"issues": [
        {"severity": "info", "kind": "empty", "path": "/a", "action": "nothing"},
        {"severity": "critical", "kind": "hash-changed", "path": "/b", "suggested_action": "restore"},
        "a bare string issue",
    ]}))
    assert out.index("critical") < out.index("info")
    assert "→ restore" in out and "a bare string issue" in out and "1 critical" in out


@pytest.mark.parametrize("output", [None, 3, "done", [1, 2], [{"a": 1}, {"b": [1, {"c": 2}]}],
                                    {"nested": {"deep": [1, 2, {"x": b"\xff\xfe"}]}}, {"groups": "odd"},
                                    {"issues": 7}, [[[]]], {"files": 10**12, "bytes": 1234567}])
def test_any_output_renders(output):
    assert text(render_output("whatever", output)) is not None


def test_big_outputs_are_cut_with_a_pointer_to_the_rest():
    out = text(render_output("dupes", {"groups": [["/a", "/b"]] * 1000}, job_id=12))
    assert "… and 800 more" in out and "sdjobs jobs show 12 --json" in out


def test_amounts_and_bars():
    assert fmt.done_text(Progress(done=3, total=10, unit="files")) == "3/10 files"
    assert fmt.done_text(Progress(bytes_done=1_500_000_000, bytes_total=3_200_000_000)) == "1.5/3.2 GB"
    assert fmt.done_text(Progress(percent=45.2)) == "45%"
    assert fmt.done_text(Progress(done=1_234_567, unit="files")) == "1.2M files"
    assert fmt.progress_bar(0.5, 8).plain == "████░░░░  50%"
    assert fmt.progress_bar(2.0, 4).plain == "████ 100%"
    assert fmt.progress_bar(None, 4, status="queued").plain == ""
    assert fmt.human_age(100.0, now=100.0 + 3 * 3600 + 5) == "3h"
    assert fmt.human_rate(85_000_000, "bytes") == "85.0 MB/s"
    assert fmt.human_rate(8400, "files") == "8.4k files/s"
    assert fmt.started_by({"argv": ["/usr/bin/sdjobs", "copy", "a", "b"]}, None) == "copy a b"
    assert fmt.started_by({}, 7) == "child of 7"
