# mypy: disable-error-code="misc"
# (HostVerbs methods are typed with ``self: Store``, as in store/verbs.py)
"""Hosts: the machines whose runners share one library (issue 18), and which jobs each may take.

A job names its host in ``job.host``: the id of the host whose paths it was given (the
submitting host by default), a name given to ``--on`` before any runner of that name was seen,
or ``any`` (any runner takes it: paths on shared storage). A runner takes the jobs of its host
(by id, or by its name) and ``any`` jobs. Jobs queued before hosts existed are ``any``
(``schema/core.py``): they run where they always could.

Every runner records its host here (``host`` table, ``schema/hosts.py``) when it registers, and
its heartbeat keeps the host's ``last_seen``; ``--on`` resolves a name against these rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..core.hostid import host_name, this_host

if TYPE_CHECKING:
    from .api import Store

ANY = "any"
# Filesystems that hold no user's files: not worth a line in the host's record.
_PSEUDO = {"proc", "sysfs", "devpts", "devtmpfs", "cgroup", "cgroup2", "securityfs", "pstore", "bpf", "debugfs",
           "tracefs", "mqueue", "hugetlbfs", "configfs", "fusectl", "binfmt_misc", "autofs", "rpc_pipefs",
           "nsfs", "efivarfs", "selinuxfs", "ramfs"}


class HostRecord(NamedTuple):
    id: str
    name: str
    mounts: list[list[str]]
    first_seen: float
    last_seen: float


def seen_mounts(table: str = "/proc/self/mounts") -> list[list[str]]:
    """The filesystems this process sees, as ``[mount point, type, source]`` (pseudo ones left out)."""
    import re

    try:
        with open(table, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2] not in _PSEUDO:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])  # \040: a space
            out.append([point, fields[2], fields[0]])
    return out


def register(store: Store, now: float, host_id: str | None = None, name: str | None = None,
             mounts: list[list[str]] | None = None) -> str:
    """Record this host (or the one given) as seen now, with its name and mounts; its id."""
    import json

    host_id = host_id or this_host()
    store._sql("INSERT INTO host (id, name, mounts, first_seen, last_seen) VALUES (?,?,?,?,?)"
               " ON CONFLICT(id) DO UPDATE SET name=excluded.name, mounts=excluded.mounts,"
               " last_seen=excluded.last_seen",
               (host_id, name or host_name(), json.dumps(seen_mounts() if mounts is None else mounts), now, now))
    return host_id


def seen(store: Store, host_id: str, now: float) -> None:
    store._sql("UPDATE host SET last_seen=? WHERE id=? AND last_seen < ?", (now, host_id, now))


def all_hosts(store: Store) -> list[HostRecord]:
    import json

    return [HostRecord(i, n, json.loads(m) if m else [], f, s) for i, n, m, f, s in store._sql(
        "SELECT id, name, mounts, first_seen, last_seen FROM host ORDER BY name, id")]


def resolve(store: Store, text: str) -> str | None:
    """The id of the host ``text`` names (its id, or its name when one host has it), ``any`` for
    ``any``, or None when no runner ever ran on such a host. A name two hosts share is BadInput."""
    from ..core.errors import BadInput

    if text == ANY:
        return ANY
    if store._sql("SELECT 1 FROM host WHERE id=?", (text,)).fetchone():
        return text
    ids = [r[0] for r in store._sql("SELECT id FROM host WHERE name=? ORDER BY id", (text,))]
    if len(ids) > 1:
        raise BadInput(f"--on {text}: {len(ids)} hosts are named so; give one's id: {', '.join(ids)}")
    return ids[0] if ids else None


def names(store: Store) -> dict[str, str]:
    """{host id: its name} of every host seen (to show a job's host as people know it)."""
    return dict(store._sql("SELECT id, name FROM host").fetchall())


def runs_here(host: str) -> bool:
    """Whether a job of ``host`` may run on this host (its paths mean the same files here)."""
    return host in mine()


def mine(host_id: str | None = None) -> tuple[str, str, str]:
    """The values of ``job.host`` a runner of this host takes: ``any``, its id and its name."""
    return ANY, host_id or this_host(), host_name()


class HostVerbs:
    """The hosts' verbs, as methods of ``Store`` (``store/job_plane.py: Hosts``)."""

    def hosts(self: Store) -> list[HostRecord]:
        """Every host a runner of this library ran on, by name."""
        return all_hosts(self)

    def resolve_host(self: Store, text: str) -> str | None:
        """``--on TEXT``: the host id it names, ``any``, or None for a host never seen."""
        return resolve(self, text)

    def host_names(self: Store) -> dict[str, str]:
        return names(self)
