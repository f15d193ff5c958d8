"""`sdjobs jobs ls` with no runner alive runs without typer and peewee (cli/jobs_ls.py: fast,
store/reader.py), and shows exactly what the typer command shows: the same lines, JSON, errors
and exit codes, whatever the options; what it does not handle (help, bad values, a library to
create, jobs whose runner died) it leaves to the full CLI before printing anything."""

import os
import subprocess
import sys
import time

from sdjobs.core import codec

PROFILE = {"PYTHONPROFILEIMPORTTIME": "1"}
# The typer command itself, as a served command or the full CLI runs it.
FULL = "import sys; sys.argv[0] = 'sdjobs'; from sdjobs.cli.main import run; run()"


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _full(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FULL, *args], capture_output=True, text=True)


def _fill(store) -> None:
    now = time.time() - 43_200  # ages in days, half a day from the next (the two runs compared are not at once)
    rows = [("copy" if i % 3 else "index", 1, status, i % 4, codec.pack({}), now - 86_400 * i, now - 86_400 * i,
             None if status == "queued" else now - 86_400 * i + 1, codec.pack({"argv": ["sdjobs", "copy", f"/s/{i}", "/d"]}),
             "copy" if i % 3 else "watch", "any" if i % 5 else "otherhost")
            for i, status in enumerate(["completed", "failed", "queued", "completed-with-errors", "cancelled"] * 8)]
    with store._transaction():
        store._executemany("INSERT INTO job (type, type_version, status, priority, config, created_at, updated_at,"
                           " finished_at, context, action, host) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)


def test_jobs_ls_without_a_runner_imports_neither_typer_nor_peewee(cli, store):
    _fill(store)
    r = cli("jobs", "ls", env=PROFILE)
    assert r.returncode == 0
    # (dataclasses: inspect, ast and dis with it; json: only for --json. core/plain.py says what they cost)
    heavy = _imported(r.stderr) & {"typer", "click", "peewee", "rich", "dataclasses", "inspect", "json"}
    assert not heavy, f"jobs ls imported {heavy}"
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "TYPE", "STATUS"]
    statuses = [line.split()[2] for line in lines[1:]]
    assert statuses[:8] == ["queued"] * 8 and len(statuses) == 8 + 20  # the active jobs, then 20 finished


def test_every_option_shows_what_the_typer_command_shows(cli, store):
    _fill(store)
    for args in ([], ["--json"], ["-a"], ["--all", "--json"], ["--status", "failed", "-s", "queued"],
                 ["--type=index", "--recent", "3"], ["--action", "watch"], ["-n", "7"], ["--limit=5", "--before", "30"],
                 ["--host", "any", "--json"], ["--host", "otherhost"], ["--status", "bogus"], ["--limit", "0"],
                 ["--recent", "x"], ["--json", "extra"], ["--help"], ["-s"], ["--host", " "]):
        fast, full = cli("jobs", "ls", *args), _full("jobs", "ls", *args)
        assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr), args


def test_a_job_whose_runner_died_is_recovered_as_the_full_store_does(cli, store):
    job = store.submit("copy", 1, {})
    store._sql("UPDATE job SET status='running', runner_id=NULL WHERE id=?", (job,))
    r = cli("jobs", "ls", "--json", check=True)
    assert [j["status"] for j in __import__("json").loads(r.stdout)] == ["interrupted"]
    assert store.get(job).status == "interrupted"


def test_a_library_not_there_yet_is_created_as_before(cli, lib):
    assert not lib.exists()
    r = cli("jobs", "ls")
    assert (r.returncode, r.stdout, r.stderr.strip()) == (0, "", "no jobs")
    assert lib.exists()


def test_a_library_named_by_option_is_the_one_listed(cli, store, tmp_path):
    _fill(store)
    other = tmp_path / "other" / "library.db"
    r = cli("-L", str(other), "jobs", "ls")
    assert (r.returncode, r.stdout, r.stderr.strip()) == (0, "", "no jobs")
    r = cli(f"--library={os.environ['SDJOBS_LIBRARY']}", "jobs", "ls", "-n", "1", check=True)
    assert r.stdout.splitlines()[1].split()[0] == "40" and r.stderr.strip() == "more: add --before 40"


def test_a_reader_that_goes_away_ends_it_as_the_full_cli_does(lib, store):
    rows = [("copy", 1, "completed", 0, codec.pack({}), 1.0, 1.0, 2.0, codec.pack({"argv": ["sdjobs", "copy", "x" * 60]}))
            for _ in range(3000)]  # some 300 kB of lines: more than a pipe holds
    with store._transaction():
        store._executemany("INSERT INTO job (type, type_version, status, priority, config, created_at, updated_at,"
                           " finished_at, context) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    outcomes = []
    for cmd in ([sys.executable, "-m", "sdjobs"], [sys.executable, "-c", FULL]):
        proc = subprocess.Popen([*cmd, "jobs", "ls", "--all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.readline()
        proc.stdout.close()  # as `| head -1` does
        outcomes.append((proc.wait(timeout=60), proc.stderr.read()))
    assert outcomes[0] == outcomes[1] == (1, b"")
