"""The `sdjobs thumbs` command line: `thumbs PATH...` (= `thumbs make PATH...`),
`thumbs ls`, a folder named ls, bad usage, --detach, stdout/stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


def small_jpeg(path: Path, size=(300, 200)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.linear_gradient("L").convert("RGB").resize(size).save(path, "JPEG")
    return path


def test_help_shows_both_commands_and_examples(cli):
    top = cli("thumbs", "--help", check=True).stdout
    assert "make" in top and "ls" in top
    make = cli("thumbs", "make", "--help", check=True).stdout
    for text in ("--size", "--format", "--quality", "--regenerate", "--freedesktop", "Examples"):
        assert text in make
    assert "--json" in cli("thumbs", "ls", "--help", check=True).stdout


@pytest.mark.parametrize("args, message", [
    (["/no/such/dir"], "no such file or directory"),
    (["{tmp}", "--size", "0"], "bad --size"),
    (["{tmp}", "--size", "huge"], "bad --size"),
    (["{tmp}", "--size", "a/b=12"], "bad variant name"),
    (["{tmp}", "--format", "gif"], "--format must be webp, jpeg or png"),
    (["{tmp}", "--quality", "0"], "quality"),
])
def test_bad_usage_exits_2_and_enqueues_nothing(cli, lib, tmp_path, args, message):
    proc = cli("thumbs", *[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stdout == ""
    assert "no jobs" in cli("jobs", "ls").stderr


def test_a_folder_named_ls_and_the_ls_command(cli, lib, tmp_path):
    small_jpeg(tmp_path / "ls" / "inside-ls.jpg")
    small_jpeg(tmp_path / "other" / "b.jpg", (100, 400))
    run = lambda *a: subprocess.run([sys.executable, "-m", "sdjobs", *a], cwd=tmp_path, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    made = run("thumbs", "./ls", "--size", "64")
    assert made.returncode == 0, made.stderr
    assert "1 image rendered" in made.stderr
    assert made.stdout == ""  # stdout is for data; the summary goes to stderr
    made = run("thumbs", "make", "other", "--size", "64")  # the explicit spelling
    assert made.returncode == 0, made.stderr
    again = run("thumbs", "other/b.jpg", "ls", "ls/inside-ls.jpg", "--size", "64", "--json")  # nested: once
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["output"]["up_to_date"] == 2
    assert json.loads(again.stdout)["config"]["paths"] == [str(tmp_path / "other" / "b.jpg"), str(tmp_path / "ls")]

    everything = json.loads(run("thumbs", "ls", "--json").stdout)
    assert [Path(i["path"]).name for i in everything] == ["inside-ls.jpg", "b.jpg"]
    assert everything[1]["thumbnails"][0]["width"] == 16 and everything[1]["thumbnails"][0]["height"] == 64
    only = json.loads(run("thumbs", "ls", "ls", "--json").stdout)  # `ls PATH`: here PATH is the folder "ls"
    assert [Path(i["path"]).name for i in only] == ["inside-ls.jpg"]
    nothing = run("thumbs", "ls", "other/none")
    assert nothing.returncode == 0 and nothing.stdout == "" and "no thumbnails recorded" in nothing.stderr


def test_detach_prints_the_id_and_options_reach_the_job(cli, lib, tmp_path):
    src = small_jpeg(tmp_path / "pics" / "a.jpg", (600, 300))
    proc = cli("thumbs", "--size", "detail", "-s", "tiny=32", "-f", "png", tmp_path / "pics", "--detach", check=True)
    job = int(proc.stdout.strip())
    assert cli("jobs", "wait", job).returncode == 0
    rec = cli.json("jobs", "show", job)
    assert rec["config"]["sizes"] == ["detail=1024", "tiny=32"] and rec["config"]["format"] == "png"
    assert rec["config"]["paths"] == [str(tmp_path / "pics")]
    listed = cli.json("thumbs", "ls", src)
    assert {(t["variant"], t["width"], t["height"], t["format"]) for t in listed[0]["thumbnails"]} == {
        ("detail", 600, 300, "png"), ("tiny", 32, 16, "png")}
    assert all(t["path"].endswith(".png") and os.path.isfile(t["path"]) for t in listed[0]["thumbnails"])


def test_thumbs_does_not_slow_down_cli_start(cli, lib):
    """Pillow stays out of the CLI process until a job runs."""
    code = "import sys, sdjobs.cli.cmd_thumbs, sdjobs.jobs.thumbs.job; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
