"""Hosts as people see them: a job's HOST cell, the ``--host`` filter, ``sdjobs runner hosts``.

A job's host is stored as the host's id (``core/hostid.py``: a machine id unless
``$SDJOBS_HOST`` names it) or ``any``; it is shown by the name its runner recorded
(``store/hosts.py``). The HOST column of ``jobs ls`` appears once the library has more than
one host, or a listed job is meant for a host other than this one: a library used from one
machine looks as it always did.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from ..core.errors import BadInput


def label(names: dict[str, str], host: str | None) -> str:
    """The host of a job or runner for people: its name when it is known, else what was given."""
    if host is None or host == "any":
        return "any"
    return names.get(host, host)


def show_column(names: dict[str, str], hosts: Iterable[str]) -> bool:
    from ..core.hostid import this_host

    here = this_host()
    return len(names) > 1 or any(h not in (here, "any") for h in hosts)


def filter_values(store, given: Sequence[str] | None) -> list[str] | None:
    """``--host NAME`` (repeatable) as the values ``job.host`` may hold for it: the host's id
    and the name itself (a job sent --on a name before its host was seen keeps the name)."""
    if not given:
        return None
    values: list[str] = []
    for text in given:
        text = text.strip()
        if not text:
            raise BadInput("--host needs a host name, a host id or 'any'")
        resolved = store.resolve_host(text)
        values += [text] if resolved in (None, text) else [resolved, text]
    return list(dict.fromkeys(values))


def hosts_cmd(store, as_json: bool) -> None:
    """Every host a runner of this library ran on, with its live runners."""
    from . import output

    live: dict[str, list] = {}
    for r in store.runners():
        live.setdefault(r.host, []).append(r)
    rows = store.hosts()
    if as_json:
        output.print_json([{"id": h.id, "name": h.name, "first_seen": h.first_seen, "last_seen": h.last_seen,
                            "runners": [r.id for r in live.get(h.id, [])], "mounts": h.mounts} for h in rows])
        return
    if not rows:
        output.err("no runner has run on this library yet", style="dim")
        return
    now = time.time()
    output.columns(("HOST", "ID", "RUNNERS", "LAST SEEN"),
                   [(h.name, h.id, ", ".join(str(r.id) for r in live.get(h.id, [])) or "none",
                     output.human_age(h.last_seen) if now - h.last_seen > 5 else "now") for h in rows])
