"""``sdjobs __complete KIND``: the words a shell completes, printed fast (shell completion scripts call it).

It imports nothing of sdjobs but the library's path rules, opens the library read-only
with sqlite3 (never creating it, never starting a runner), and prints one candidate a
line: ``WORD`` or ``WORD<TAB>DESCRIPTION``. Kinds:

    ids [STATUS...]   job ids, newest first, described by type and status (only these statuses)
    types             job types: the built-in ones and every type the library has seen
    statuses          job statuses
    themes            dashboard themes

Anything that goes wrong prints nothing: a completion never shows an error.
"""

import os
import sys

STATUSES = ("queued", "running", "paused", "interrupted", "completed", "completed-with-errors", "failed",
            "cancelled")
BUILTIN_TYPES = ("copy", "delete", "dupes", "index", "thumbs", "validate")
# Textual's built-in themes (tests/cli/test_complete.py checks this list against textual.theme)
THEMES = ("ansi-dark", "ansi-light", "atom-one-dark", "atom-one-light", "catppuccin-frappe", "catppuccin-latte",
          "catppuccin-macchiato", "catppuccin-mocha", "dracula", "flexoki", "gruvbox", "monokai", "nord",
          "rose-pine", "rose-pine-dawn", "rose-pine-moon", "solarized-dark", "solarized-light", "textual-dark",
          "textual-light", "tokyo-night")
MAX_IDS = 500


def _connect(library):
    import sqlite3

    from ..store.libpath import resolve_db_path

    path = resolve_db_path(library)
    if not os.path.isfile(path):
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
    db.execute("PRAGMA query_only=1")
    return db


def candidates(kind, args, library=None):
    if kind == "statuses":
        return list(STATUSES)
    if kind == "themes":
        return list(THEMES)
    db = _connect(library) if kind in ("ids", "types") else None
    if kind == "types":
        seen = [r[0] for r in db.execute("SELECT DISTINCT type FROM job")] if db else []
        return sorted(set(BUILTIN_TYPES) | set(seen))
    if kind == "ids":
        if db is None:
            return []
        wanted = [s for s in args if s in STATUSES]
        where = f" WHERE status IN ({','.join('?' * len(wanted))})" if wanted else ""
        rows = db.execute(f"SELECT id, type, status FROM job{where} ORDER BY id DESC LIMIT {MAX_IDS}", wanted)
        return [f"{job_id}\t{job_type} {status}" for job_id, job_type, status in rows]
    return []


def main(argv):
    """``argv``: KIND [ARGS...] [--library PATH]."""
    library = None
    if "--library" in argv:
        i = argv.index("--library")
        library = argv[i + 1] if i + 1 < len(argv) else None
        argv = argv[:i] + argv[i + 2:]
    if not argv:
        return 2
    try:
        words = candidates(argv[0], argv[1:], library)
    except Exception:  # noqa: BLE001 - a locked, missing or foreign library: no candidates
        words = []
    sys.stdout.write("".join(w.replace("\n", " ") + "\n" for w in words))
    return 0
