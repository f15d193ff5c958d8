"""The CLI imports the watcher, never the other way round (issue 17)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sdjobs

WATCH = Path(sdjobs.__file__).parent / "watch.py"


def _imported(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out += [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def test_watch_module_imports_nothing_from_the_cli():
    names = _imported(ast.parse(WATCH.read_text()))  # lazy imports inside functions count too
    assert names, "the parser found no import at all: the check would prove nothing"
    bad = [n for n in names if n.startswith((".cli", "sdjobs.cli")) or n in (".", "..")]
    assert not bad, f"sdjobs/watch.py imports the CLI: {bad}"


def test_importing_watch_loads_no_cli_module():
    code = "import sys, sdjobs.watch; print(sorted(m for m in sys.modules if m.startswith('sdjobs.cli')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
