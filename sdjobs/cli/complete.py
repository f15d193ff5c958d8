"""``sdjobs __complete KIND``: the words a shell completes, printed fast (shell completion scripts call it).

It imports nothing of sdjobs but the store's read-only glance (store/peek.py), which opens
the library read-only (never creating it, never starting a runner), and prints one candidate a
line: ``WORD`` or ``WORD<TAB>DESCRIPTION``. Kinds:

    ids [STATUS...]   job ids, newest first, described by type and status (only these statuses)
    types             job types: the built-in ones and every type the library has seen
    statuses          job statuses
    themes            dashboard themes

Anything that goes wrong prints nothing: a completion never shows an error.
"""

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


def candidates(kind, args, library=None):
    if kind == "statuses":
        return list(STATUSES)
    if kind == "themes":
        return list(THEMES)
    from ..store import peek

    if kind == "types":
        return sorted(set(BUILTIN_TYPES) | set(peek.job_types(library)))
    if kind == "ids":
        wanted = [s for s in args if s in STATUSES]
        return [f"{job_id}\t{job_type} {status}" for job_id, job_type, status in peek.job_ids(library, wanted, MAX_IDS)]
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
