"""Two runners with different host identities on one library (issue 18), as real processes.

Each takes only its own host's jobs and both share ``--on any`` jobs; SIGKILL of host b's runner
leaves b's running jobs ``interrupted`` once its lease runs out (host a's runner does not take
them), and b's runner resumes them when it starts again. No job ever runs twice at once: each run
of a test-host-steps job holds an exclusive lock for its whole run and says OVERLAP when it finds
it taken, and every step records the host that ran it.

Runs on SQLite, and on PostgreSQL once this tree has a PostgreSQL store (skipped until then).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import wait_for

LEASE = 2.0  # $SDJOBS_LEASE_SECONDS for every process of the test (the runners heartbeat each second)


@pytest.fixture(params=["sqlite", "postgres"])
def library(request, lib, tmp_path, monkeypatch) -> str:
    """The library every process of the test uses: a SQLite file, or a fresh PostgreSQL database."""
    monkeypatch.setenv("SDJOBS_LEASE_SECONDS", str(LEASE))
    monkeypatch.setenv("SDJOBS_CLI_SERVER", "0")  # each command in its own process, with its own $SDJOBS_HOST
    monkeypatch.setenv("SDJOBS_RUNNER_IDLE_EXIT", "60")
    if request.param == "sqlite":
        return str(lib)
    url = request.getfixturevalue("postgres_url")
    probe = tmp_path / "probe"
    probe.mkdir()
    proc = subprocess.run([sys.executable, "-m", "sdjobs", "--library", url, "runner", "hosts", "--json"],
                          capture_output=True, text=True, cwd=probe, timeout=60)
    if proc.returncode != 0 or any(probe.iterdir()):
        pytest.skip(f"no PostgreSQL store in this tree yet: {proc.stderr.strip()[:200] or 'made a folder'}")
    monkeypatch.setenv("SDJOBS_LIBRARY", url)
    return url


class Host:
    """The sdjobs commands and the runner of one host (``$SDJOBS_HOST``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.env = {**os.environ, "SDJOBS_HOST": name}
        self.runner: subprocess.Popen | None = None

    def cli(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "sdjobs", *map(str, args)], capture_output=True, text=True,
                              env=self.env, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"[{self.name}] sdjobs {' '.join(map(str, args))} exited {proc.returncode}:"
                                 f"\n{proc.stderr}")
        return proc

    def json(self, *args, check: bool = True):
        return json.loads(self.cli(*args, "--json", check=check).stdout)

    def submit(self, marker: Path, *, steps: int, delay: float = 0.05, gate: Path | None = None,
               on: str | None = None, priority: int = 0) -> int:
        sets = [f"steps={steps}", f"delay={delay}", f"marker={marker}", f"gate={gate or ''}"]
        args = ["run", "test-host-steps", *[a for s in sets for a in ("--set", s)], "--detach",
                "--priority", priority]
        if on is not None:
            args += ["--on", on]
        return int(self.cli(*args).stdout)

    def start_runner(self, workers: int = 2) -> None:
        self.runner = subprocess.Popen([sys.executable, "-m", "sdjobs", "runner", "--workers", str(workers)],
                                       env=self.env, start_new_session=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        pid = self.runner.pid
        wait_for(lambda: any(r["pid"] == pid for r in self.json("runner", "status", check=False)),
                 what=f"host {self.name}'s runner to register")

    def kill_runner(self) -> None:
        """SIGKILL the runner and its job processes: the host is gone."""
        if self.runner is not None and self.runner.poll() is None:
            os.killpg(self.runner.pid, signal.SIGKILL)
            self.runner.wait(10)


@pytest.fixture
def hosts(library):
    a, b = Host("a"), Host("b")
    yield a, b
    for h in (a, b):
        if h.runner is not None and h.runner.poll() is None:
            h.runner.send_signal(signal.SIGTERM)
            try:
                h.runner.wait(40)
            except subprocess.TimeoutExpired:
                h.kill_runner()


def runs(marker: Path) -> list[tuple[str, int, int]]:
    """(host, pid, step) of each step recorded, and OVERLAP lines as (OVERLAP, pid, -1)."""
    out = []
    for line in marker.read_text().splitlines() if marker.exists() else []:
        host, pid, *step = line.split()
        out.append((host, int(pid), int(step[0]) if step else -1) if host != "OVERLAP" else ("OVERLAP", 0, -1))
    return out


def check_steps(marker: Path, steps: int, hosts: set[str], *, resumed: int = 0) -> None:
    """Every step ran, on one of ``hosts``, never two runs at once; after each of ``resumed``
    interruptions at most the step in flight ran again."""
    rows = runs(marker)
    assert not [r for r in rows if r[0] == "OVERLAP"], f"{marker.name}: two runs at once: {rows}"
    done = [s for _, _, s in rows]
    assert sorted(set(done)) == list(range(steps)), f"{marker.name}: steps {done}"
    assert len(done) - steps <= resumed, f"{marker.name}: steps repeated: {done}"
    assert {h for h, _, _ in rows} <= hosts, f"{marker.name}: ran on {sorted({h for h, _, _ in rows})}"


def check_claims(host: Host, job: int, hosts: set[str]) -> None:
    """The job's event log: each run claimed under a new claim number, by a runner of ``hosts``."""
    events = [json.loads(line) for line in host.cli("jobs", "logs", job, "--json").stdout.splitlines()]
    claims = [e["fields"] for e in events if e["kind"] == "claimed"]
    assert claims and [c["claim"] for c in claims] == sorted({c["claim"] for c in claims}), claims
    assert {c["host"] for c in claims} <= hosts, claims


def status(host: Host, job: int) -> str:
    return host.json("jobs", "show", job)["status"]


def test_two_hosts_share_a_library(hosts, tmp_path):
    a, b = hosts
    gate = tmp_path / "gate"
    m = {name: tmp_path / f"{name}.steps" for name in ("any1", "any2", "any3", "any4", "a1", "a2", "b1", "b2")}
    # 4 --on any jobs held at a gate: a's runner (2 workers) takes two, then b's takes the other
    # two; the gate opens once all four run, each where it was claimed. (Each host's runner is
    # started before its jobs are submitted, or the command would start one in the background.)
    a.start_runner()
    shared = [a.submit(m[f"any{i}"], steps=8, gate=gate, on="any") for i in (1, 2, 3, 4)]
    wait_for(lambda: sum(status(a, j) == "running" for j in shared) == 2, what="a's runner to take two any jobs")
    b.start_runner()
    wait_for(lambda: all(status(a, j) == "running" for j in shared), what="b's runner to take the other two")
    own_a = [a.submit(m["a1"], steps=8), b.submit(m["a2"], steps=8, on="a")]  # from a by default; from b, --on a
    own_b = [b.submit(m["b1"], steps=60, delay=0.1), a.submit(m["b2"], steps=60, delay=0.1, on="b")]
    gate.touch()

    listed = {r["id"]: r for r in a.json("jobs", "ls")}
    assert [listed[j]["host"] for j in shared + own_a + own_b] == ["any"] * 4 + ["a", "a", "b", "b"]
    assert {r["id"] for r in a.json("jobs", "ls", "--host", "b")} == set(own_b)
    wait_for(lambda: all(status(a, j) == "completed" for j in shared + own_a), what="the any and a jobs to complete")
    hosts_of_shared = [{h for h, _, _ in runs(m[f"any{i}"])} for i in (1, 2, 3, 4)]
    assert sorted(map(sorted, hosts_of_shared)) == [["a"], ["a"], ["b"], ["b"]], hosts_of_shared
    for i in (1, 2, 3, 4):
        check_steps(m[f"any{i}"], 8, {"a", "b"})
    for name in ("a1", "a2"):
        check_steps(m[name], 8, {"a"})

    # b goes away while its jobs run: after the lease, a's runner marks them interrupted, and
    # leaves them so (they are b's: their paths are b's)
    wait_for(lambda: all(len(runs(m[n])) >= 3 for n in ("b1", "b2")), what="b's jobs to run")
    b.kill_runner()
    wait_for(lambda: all(status(a, j) == "interrupted" for j in own_b), timeout=LEASE + 30,
             what="b's jobs interrupted after its lease")
    before = {n: len(runs(m[n])) for n in ("b1", "b2")}
    shown = a.json("jobs", "show", own_b[0])
    assert shown["host"] == "b" and shown["attempts"] == 1
    for _ in range(3):  # a's runner recovers every 5 s: they stay interrupted and untouched
        time.sleep(2)
        assert [status(a, j) for j in own_b] == ["interrupted", "interrupted"]
    assert {n: len(runs(m[n])) for n in ("b1", "b2")} == before, "a's runner ran a job of host b"

    # b comes back: its runner resumes them from their checkpoints; a pause and a resume asked
    # from host a reach the job running on b (they are requests in the library, not signals)
    b.start_runner()
    wait_for(lambda: status(a, own_b[0]) == "running", what="b's job to resume")
    assert a.cli("jobs", "pause", own_b[0]).stdout.strip() == f"{own_b[0]}: pausing"
    wait_for(lambda: status(a, own_b[0]) in ("paused", "completed"), what="the pause to reach host b")
    a.cli("jobs", "resume", own_b[0])
    wait_for(lambda: all(status(a, j) == "completed" for j in own_b), timeout=60, what="b's jobs to complete")
    for name in ("b1", "b2"):
        check_steps(m[name], 60, {"b"}, resumed=1)
    for j in own_a:
        check_claims(a, j, {"a"})
    for j in own_b:
        check_claims(a, j, {"b"})
    for j in shared:
        check_claims(a, j, {"a", "b"})
    runners = a.json("runner", "status", check=False)
    assert sorted(r["host_name"] for r in runners) == ["a", "b"]
