"""The store is narrow in fact: no code outside ``sdjobs/store`` runs SQL, opens a
transaction, touches the connection or opens an SQLite file of its own.

``PENDING`` lists the files that still do, on the data plane, while their verbs move into
``store/data_plane.py`` (issue 17); each one that moves comes off the list, and a file
that no longer needs its place fails the test so that the list only shrinks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sdjobs"
RAW = re.compile(r"\.sql\(|\.transaction\(|sqlite3\.connect|\bstore\.db\b|\._sql\(|\._transaction\(|\bstore\._db\b")
PENDING: set[str] = set()  # files allowed raw access while their verbs move into store/ (none left)


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
    found = offenders()
    new = [line for rel, lines in found.items() if rel not in PENDING for line in lines]
    assert not new, "raw store access outside sdjobs/store (add a store verb):\n" + "\n".join(new)


@pytest.mark.parametrize("rel", sorted(PENDING))
def test_the_pending_list_only_shrinks(rel):
    assert rel in offenders(), f"{rel} reaches the store through its verbs now: take it off PENDING"
