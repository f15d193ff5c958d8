"""A runner a cold job command starts is told the job type to expect (``--expect``) and imports
its modules while that command is still starting, so that the job is forked warm; a type it
does not know, or one whose modules fail, is left to the job itself."""

import subprocess
import sys


def test_the_runner_a_cold_copy_starts_expects_a_copy(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    r = cli("copy", str(tmp_path / "a"), str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    [runner] = store.runners()
    with open(f"/proc/{runner.pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert argv[argv.index(b"--expect") + 1] == b"copy"


def test_warm_up_imports_the_expected_type_and_ignores_an_unknown_one():
    out = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom sdjobs.runner.background import _warm_up\n"
         "_warm_up('no-such-type')\nbefore = 'sdjobs.jobs.copy.job' in sys.modules\n_warm_up('copy', 'sdjobs.store.data_sqlite')\n"
         "print(before, 'sdjobs.jobs.copy.job' in sys.modules, 'sdjobs.store.data_sqlite' in sys.modules)"],
        capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]
