"""dupes over an indexed location: the groups of stored hashes, kept from one run to the next.

Grouping a location's stored full hashes is most of the work of a re-run
over an unchanged tree (about 1 s of CPU for 200,000 files), and its answer
depends on the index alone. So it is kept beside the library
(``store/kept_groups.py``), one set of files per location and query:

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
from typing import Any

from xxhash import xxh3_64_hexdigest

from ...core import codec

FORMAT = 1


@dataclasses.dataclass
class Kept:
    where: Any              # where they are kept (``store/kept_groups.py:KeptGroups``)
    location_id: int
    name: str               # the query's name
    groups: int
    duplicates: int
    wasted: int
    in_groups: int
    unhashed: list[tuple]   # (path, size, inode, device, mtime_ns)

    @property
    def json(self) -> str:
        return self.where.json_path(self.location_id, self.name)

    def load(self) -> list[tuple] | None:
        """The rendered groups (None if they went meanwhile)."""
        data = self.where.groups(self.location_id, self.name)
        return None if data is None else [tuple(g) for g in codec.unpack(data)]


def _key(p) -> list:
    return [FORMAT, p.location_id, list(p.loc_state), p.real, p.given, p.rules, p.min_size, p.max_size,
            p.with_mtimes]


def _name(p) -> str:
    query = repr([p.real, p.given, sorted(p.rules.items()), p.min_size, p.max_size, p.with_mtimes])
    return xxh3_64_hexdigest(query.encode("utf-8", "surrogateescape"))


def lookup(p) -> Kept | None:
    """The kept groups for this plan, if the index is as it was when they were worked out."""
    store, name = p.reader.kept(), _name(p)
    raw = store.head(p.location_id, name)
    if raw is None:
        return None
    try:
        head = codec.unpack(raw)
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("key") != _key(p):
        return None
    return Kept(store, p.location_id, name, head["groups"], head["duplicates"], head["wasted"], head["in_groups"],
                [tuple(u) for u in head["unhashed"]])


def save(p, since: float, groups: list[tuple], unhashed: list[tuple]) -> None:
    """Keep the groups worked out from the index as it was at ``since`` (time.time()
    before the plan read the location), unless an index job has run since."""
    if p.reader.index_busy_since(since):
        return
    store = p.reader.kept()
    head = {"key": _key(p), "groups": len(groups), "duplicates": sum(-g[1] - 1 for g in groups),
            "wasted": -sum(g[0] for g in groups), "in_groups": sum(-g[1] for g in groups), "unhashed": unhashed}
    store.write(p.location_id, _name(p), codec.pack(head), codec.pack(groups),
                ("[" + ",".join([g[5] for g in groups]) + "]").encode("ascii"))
    if p.reader.index_busy_since(since):  # one started while these were written: its end may be past
        store.forget(p.location_id)
