"""dupes over an indexed location: the groups of stored hashes, kept from one run to the next.

Grouping a location's stored full hashes is most of the work of a re-run
over an unchanged tree (about 1 s of CPU for 200,000 files), and its answer
depends on the index alone. So it is kept beside the library
(``dupes_queries.groups_dir``), one set of files per location and query:

- ``.head``: the key (the location's row as the last index run left it, and
  the query: directory, spelling, size filters, walk rules, mtimes or not),
  the totals, and the stored files without a full hash;
- ``.groups``: the rendered groups, as ``dupes.indexed.group_stored`` gives them;
- ``.json``: the same groups as the results file's text.

They are used only when the key matches. Any index run of the location
drops them when it ends or is given up (``index_store.drop_run``), so a run
that changed entries and then was cancelled cannot leave stale groups
behind; groups worked out while an index job ran (or ended) are not kept.
The tree itself is still checked against the index on every run
(``dupes.verify``): the kept groups stand in for the stored hashes, never for the tree.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from xxhash import xxh3_64_hexdigest

from ...core import codec
from ...store import dupes_queries as q

FORMAT = 1
KEEP_PER_LOCATION = 8   # queries kept per location (the least recently written go)


@dataclasses.dataclass
class Kept:
    base: Path              # the files' path without the suffix
    groups: int
    duplicates: int
    wasted: int
    in_groups: int
    unhashed: list[tuple]   # (path, size, inode, device, mtime_ns)

    @property
    def json(self) -> str:
        return str(self.base.with_suffix(".json"))

    def load(self) -> list[tuple] | None:
        """The rendered groups (None if they went meanwhile)."""
        try:
            with open(self.base.with_suffix(".groups"), "rb") as f:
                return [tuple(g) for g in codec.unpack(f.read())]
        except OSError:
            return None


def _key(p) -> list:
    return [FORMAT, p.location_id, list(p.loc_state), p.real, p.given, p.rules, p.min_size, p.max_size,
            p.with_mtimes]


def _base(p) -> Path:
    query = repr([p.real, p.given, sorted(p.rules.items()), p.min_size, p.max_size, p.with_mtimes])
    return q.groups_dir(p.db) / f"{p.location_id}-{xxh3_64_hexdigest(query.encode('utf-8', 'surrogateescape'))}"


def lookup(p) -> Kept | None:
    """The kept groups for this plan, if the index is as it was when they were worked out."""
    base = _base(p)
    try:
        with open(base.with_suffix(".head"), "rb") as f:
            head = codec.unpack(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(head, dict) or head.get("key") != _key(p):
        return None
    return Kept(base, head["groups"], head["duplicates"], head["wasted"], head["in_groups"],
                [tuple(u) for u in head["unhashed"]])


def save(p, since: float, groups: list[tuple], unhashed: list[tuple]) -> None:
    """Keep the groups worked out from the index as it was at ``since`` (time.time()
    before the plan read the location), unless an index job has run since."""
    conn = q.connect_ro(p.db)
    try:
        if q.index_busy_since(conn, since):
            return
    finally:
        conn.close()
    base = _base(p)
    base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    head = {"key": _key(p), "groups": len(groups), "duplicates": sum(-g[1] - 1 for g in groups),
            "wasted": -sum(g[0] for g in groups), "in_groups": sum(-g[1] for g in groups), "unhashed": unhashed}
    # .head last: it is what makes the others count
    _write(base.with_suffix(".groups"), codec.pack(groups))
    _write(base.with_suffix(".json"), ("[" + ",".join([g[5] for g in groups]) + "]").encode("ascii"))
    _write(base.with_suffix(".head"), codec.pack(head))
    conn = q.connect_ro(p.db)
    try:
        busy = q.index_busy_since(conn, since)  # one started while these were written: its end may be past
    finally:
        conn.close()
    if busy:
        q.forget_groups(p.db, p.location_id)
    _prune(base.parent, p.location_id)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _prune(d: Path, location_id: int) -> None:
    heads = []
    for name in os.listdir(d):
        if name.startswith(f"{location_id}-") and name.endswith(".head"):
            try:
                heads.append((os.stat(d / name).st_mtime_ns, name[:-5]))
            except OSError:
                pass
    heads.sort()
    for _mtime, stem in heads[:-KEEP_PER_LOCATION]:
        for suffix in (".head", ".groups", ".json"):
            try:
                os.unlink(d / (stem + suffix))
            except OSError:
                pass
