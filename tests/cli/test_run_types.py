"""`sdjobs run TYPE` submits any registered job type with a checked config;
`sdjobs types` lists the types with their descriptions and fields."""

from __future__ import annotations

import json


def test_types_lists_built_in_and_plugin_types_with_fields(cli):
    text = cli("types", check=True).stdout
    assert "copy" in text and "Copy or move files" in text
    assert "test-steps" in text and "--set steps" in text and "default 20" in text
    listed = {t["name"]: t for t in cli.json("types")}
    assert listed["copy"]["source"] == "built-in" and listed["test-steps"]["source"] == "testjobs"
    fields = {f["name"]: f for f in listed["copy"]["fields"]}
    assert fields["sources"] == {"name": "sources", "type": "list[str]", "required": True, "default": None, "help": ""}
    assert fields["on_conflict"]["type"] == "fail|skip|overwrite|rename" and fields["on_conflict"]["default"] == "fail"
    [one] = cli.json("types", "test-steps")
    assert one["description"] == "Test job: count steps slowly" and one["version"] == 1 and one["resumable"]
    proc = cli("types", "nope")
    assert proc.returncode == 2 and "unknown job type 'nope'" in proc.stderr and "copy" in proc.stderr


def test_run_submits_follows_and_reports_like_any_job_command(cli, tmp_path):
    proc = cli("run", "test-steps", "--set", "steps=3", "--set", "delay=0", "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["type"] == "test-steps" and rec["status"] == "completed" and rec["output"]["steps"] == 3
    assert rec["config"]["steps"] == 3 and rec["config"]["delay"] == 0.0  # coerced from text to the field types
    assert rec["config"]["fail_at"] == -1  # defaults filled in
    assert rec["context"]["argv"][1:] == ["run", "test-steps", "--set", "steps=3", "--set", "delay=0", "--json"]
    assert rec["context"]["inputs"] == {"steps": "3", "delay": "0"}

    failed = cli("run", "test-steps", "--set", "steps=5", "--set", "delay=0", "--set", "fail_at=1")
    assert failed.returncode == 1 and "failed at step 1" in failed.stderr


def test_config_file_and_repeated_keys(cli, tmp_path):
    (tmp_path / "a").write_text("A")
    (tmp_path / "b").write_text("B")
    (tmp_path / "out").mkdir()
    conf = tmp_path / "copy.json"
    conf.write_text(json.dumps({"sources": [str(tmp_path / "zzz")], "dest": str(tmp_path / "out"), "verify": True}))
    # --set wins over the file; a key given twice is a list
    proc = cli("run", "copy", "--config", conf, "--set", f"sources={tmp_path / 'a'}", "--set",
               f"sources={tmp_path / 'b'}", "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["config"]["verify"] is True and rec["output"]["files"] == 2
    assert (tmp_path / "out" / "a").read_text() == "A" and (tmp_path / "out" / "b").read_text() == "B"
    steps = cli.json("run", "test-steps", "--config", "-", "--set", "delay=0", input='{"steps": 2}')
    assert steps["config"]["steps"] == 2 and steps["status"] == "completed"


def test_bad_input_names_the_field_and_enqueues_nothing(cli, tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{nope")
    a_list = tmp_path / "list.json"
    a_list.write_text("[1, 2]")
    cases = [
        (["run", "test-steps", "--set", "steps=many"], "test-steps: field 'steps': expected an integer, got 'many'"),
        (["run", "test-steps", "--set", "stepz=3"], "test-steps: unknown field 'stepz' (fields: steps, delay"),
        (["run", "copy", "--set", f"dest={tmp_path}"], "copy: missing required field 'sources' (list[str])"),
        (["run", "copy", "--set", "sources=a", "--set", "dest=b", "--set", "on_conflict=maybe"],
         "field 'on_conflict': expected one of fail, skip, overwrite, rename, got 'maybe'"),
        (["run", "test-steps", "--set", "steps"], "--set needs KEY=VALUE, got 'steps'"),
        (["run", "test-steps", "--config", bad_json], f"--config {bad_json}: not valid JSON"),
        (["run", "test-steps", "--config", a_list], "expected a JSON object of config fields, got list"),
        (["run", "test-steps", "--config", tmp_path / "missing.json"], "No such file or directory"),
        (["run", "nope"], "unknown job type 'nope'"),
        (["run", "copy", "--set", f"sources={tmp_path / 'gone'}", "--set", f"dest={tmp_path}"],
         "no such file or directory"),  # the type's own validate()
    ]
    for args, message in cases:
        proc = cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert cli.json("jobs", "ls", "--all") == []
