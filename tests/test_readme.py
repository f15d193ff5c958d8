"""The README's commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert len(blocks) >= 2
    install_and_run, test = blocks[0], blocks[1]
    assert "sdjobs " in install_and_run and "pip install" in install_and_run
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci, f"the README's test command {test!r} is not a line of .ci/run"
