"""The example package and the guide use only ``sdjobs.api``, and the example type-checks
with ``mypy --strict`` against it (as it would installed: sdjobs's own modules are followed
silently, as mypy treats an installed package with py.typed)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sdjobs-linecount"
GUIDE = ROOT / "docs" / "writing-jobs.md"


def sdjobs_imports(source: str) -> list[str]:
    """The sdjobs modules ``source`` imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sdjobs"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sdjobs":
            found += [node.module if node.module != "sdjobs" else f"sdjobs.{a.name}" for a in node.names]
    return found


def python_blocks(markdown: str) -> list[str]:
    return [textwrap.dedent(m.group(2)) for m in re.finditer(r"^( *)```python\n(.*?)^\1```", markdown, re.M | re.S)]


def test_the_checker_sees_every_way_of_importing():
    src = "import sdjobs.core.job\nfrom sdjobs.core import errors\nfrom sdjobs import store\nfrom sdjobs.api import Job\n"
    assert sdjobs_imports(src) == ["sdjobs.core.job", "sdjobs.core", "sdjobs.store", "sdjobs.api"]


def test_the_example_and_the_guide_import_only_sdjobs_api():
    sources = {str(p): p.read_text() for p in EXAMPLE.rglob("*.py")}
    blocks = python_blocks(GUIDE.read_text())
    assert len(blocks) >= 2
    sources.update({f"{GUIDE}, python block {i + 1}": b for i, b in enumerate(blocks)})
    for where, source in sources.items():
        others = [m for m in sdjobs_imports(source) if m != "sdjobs.api"]
        assert not others, f"{where} imports {others}: a job author imports only sdjobs.api"
    assert any(sdjobs_imports(s) for s in sources.values())


mypy_missing = importlib.util.find_spec("mypy") is None


def mypy(path: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-color-output",
                           "--cache-dir", str(cache), path.name], cwd=path.parent, capture_output=True, text=True,
                          env={**os.environ, "MYPYPATH": str(ROOT)}, timeout=300)


@pytest.mark.skipif(mypy_missing, reason="mypy is not installed")
def test_the_example_type_checks_strictly_against_sdjobs_api(tmp_path_factory):
    cache = tmp_path_factory.mktemp("mypy-cache")
    proc = mypy(EXAMPLE / "sdjobs_linecount.py", cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # ... and the types mean something: misuse of the API is caught
    bad = tmp_path_factory.mktemp("bad") / "badjob.py"
    bad.write_text(textwrap.dedent('''\
        import dataclasses
        from sdjobs.api import Job, JobContext

        @dataclasses.dataclass
        class Cfg:
            root: str

        @dataclasses.dataclass
        class State:
            done: int = 0

        class Bad(Job[Cfg]):
            name = "bad"

            def run(self, ctx: JobContext) -> None:
                self.config.roots                      # line 16: no such config field
                state = ctx.load_state(State) or State()
                state.todo                             # line 18: no such state field
                ctx.error("/a/path", OSError())        # line 19: the old order
                ctx.flush()                            # line 20: engine-only
                ctx.progress(don=3)                    # line 21: no such progress field
        '''))
    proc = mypy(bad, cache)
    lines = sorted({int(n) for n in re.findall(r"^badjob\.py:(\d+): error", proc.stdout, re.M)})
    assert lines == [16, 18, 19, 20, 21], proc.stdout
