"""The store is narrow in fact: no code outside ``sdjobs/store`` runs SQL, opens a
transaction, touches the connection or opens an SQLite file of its own."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sdjobs"
RAW = re.compile(r"\.sql\(|\.transaction\(|sqlite3\.connect|\bstore\.db\b|\._sql\(|\._transaction\(|\bstore\._db\b")


def offenders() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("store/"):
            continue
        lines = [f"{rel}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
                 if RAW.search(line)]
        if lines:
            found[rel] = lines
    return found


def test_nothing_outside_the_store_reaches_its_connection():
    new = [line for lines in offenders().values() for line in lines]
    assert not new, "raw store access outside sdjobs/store (add a store verb):\n" + "\n".join(new)

