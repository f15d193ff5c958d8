"""A job's result rows in the store: what ``sdjobs jobs output`` prints.

Verbs: ``append`` and ``truncate`` (the job's side, fenced by its claim like
every other write of a running job), ``rows``, ``texts``, ``count``,
``columns``, ``name`` (the readers': CLI and dashboard). A row is a dict of
JSON values, kept as compact ASCII JSON text (names that are not UTF-8 come
back as Python decodes them, with surrogate escapes), in the order the job
emitted it. Readers stream: nothing here loads a whole result.

Rows go with their job: ``jobs prune`` deletes them (ON DELETE CASCADE).

Jobs that finished before results were stored here (sdjobs 0.x up to this
schema) named a file in their output (``results_file``: a JSON array of dupes
groups, or msgpack ``{"issues": [...]}`` of validate) or kept the result
inline (``results``): the readers fall back on those, so that
``jobs output`` still shows them (loaded whole: they were written whole).
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, cast
from collections.abc import Iterable, Iterator

if TYPE_CHECKING:
    from .api import Store


# Severities of result rows, worst first (validate's, and a plugin's if it uses them):
# ``--severity error`` keeps error and critical rows.
SEVERITIES = ("critical", "error", "warning", "info")
BAD = ("critical", "error")  # a result with rows of these ends the job completed-with-errors
_FETCH = 20  # chunks read at a time


def dumps(row: dict) -> str:
    """A row as stored: compact ASCII JSON (json's C encoder, and ``\\udcXX`` for a
    name that is not UTF-8, which ``json.loads`` turns back into the same str)."""
    return json.dumps(row, ensure_ascii=True, separators=(",", ":"), default=_default)


def _default(o):
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("utf-8", "surrogateescape")
    raise TypeError(f"a result row holds JSON values, not {type(o).__name__}")


def keyed(row: dict) -> tuple[str, int | None, str | None]:
    """(text, size, severity) of a dict row, as ``append`` takes it."""
    size, sev = row.get("size"), row.get("severity")
    return (dumps(row), size if isinstance(size, int) and not isinstance(size, bool) else None,
            sev if isinstance(sev, str) else None)


# -- the job's side -------------------------------------------------------------
CHUNK_ROWS = 500          # rows per stored chunk, at most
CHUNK_BYTES = 256 << 10   # and about this much text
_SEP = ","                # between the sizes, and the severities, of a chunk's rows


def append(store: Store, job_id: int, rows: Iterable[tuple[str, int | None, str | None]], *, start: int,
           columns: Iterable[str] = (), name: str | None = None, claim: int | None = None) -> int:
    """Add rows (text, size, severity) numbered from ``start``, in one transaction;
    ``columns`` (keys of the rows, in order) are added to the job's; returns how many.
    A text is compact JSON without a line break (``dumps`` writes such). Rows of
    severity error or critical count in the job's errors, in the same transaction."""
    chunks, n = _chunks(job_id, rows, start)
    bad = sum(_bad(c[5]) for c in chunks)
    with store._transaction():
        if claim is not None:
            store._check_claim(job_id, claim)
        old = store._sql("SELECT name, columns FROM job_result_set WHERE job_id=?", (job_id,)).fetchone()
        cols = json.loads(old[1]) if old else []
        cols += [c for c in columns if c not in cols]
        store._sql("INSERT INTO job_result_set (job_id, name, columns) VALUES (?,?,?) ON CONFLICT(job_id)"
                   " DO UPDATE SET name=excluded.name, columns=excluded.columns",
                   (job_id, name or (old[0] if old else "rows"), json.dumps(cols)))
        if chunks:
            store._executemany("INSERT INTO job_result (job_id, seq, n, max_size, sizes, severities, rows)"
                               " VALUES (?,?,?,?,?,?,?)", chunks)
        if bad:
            store._sql("UPDATE job SET errors=errors+? WHERE id=?", (bad, job_id))
    return n


def _chunks(job_id: int, rows: Iterable[tuple[str, int | None, str | None]], start: int) -> tuple[list, int]:
    """The rows as chunk records (list comprehensions and joins: well under 1 us a row)."""
    rows = rows if isinstance(rows, list) else list(rows)
    out: list[tuple] = []
    a = 0
    while a < len(rows):
        part = rows[a:a + CHUNK_ROWS]
        texts = [t for t, _, _ in part]
        if sum(map(len, texts)) > CHUNK_BYTES:  # long rows: fewer of them
            k = next(i for i, n in enumerate(itertools.accumulate(map(len, texts)), 1) if n > CHUNK_BYTES)
            part, texts = part[:k], texts[:k]
        text = "\n".join(texts)
        if text.count("\n") != len(texts) - 1:  # one a line: a line break can only be JSON whitespace
            text = "\n".join([t if "\n" not in t else dumps(json.loads(t)) for t in texts])
        sizes = [z for _, z, _ in part]
        known: list[int] = cast("list[int]", sizes) if None not in sizes else [z for z in sizes if z is not None]
        sevs = [v for _, _, v in part]
        out.append((job_id, start + a, len(part), max(known) if known else None,
                    _SEP.join(["" if z is None else str(int(z)) for z in sizes]) if known is not sizes
                    else _SEP.join(map(str, map(int, known))),
                    _SEP * (len(part) - 1) if not any(sevs) else _SEP.join([_clean(v) for v in sevs]), text))
        a += len(part)
    return out, len(rows)


def _bad(severities: str) -> int:
    """How many of a chunk's rows are of severity error or critical."""
    if not any(b in severities for b in BAD):
        return 0
    return sum(v in BAD for v in severities.split(_SEP))


def _clean(sev: str | None) -> str:
    return "" if not sev else sev if sev in SEVERITIES else sev.replace(_SEP, ";").replace("\n", " ")


def truncate(store: Store, job_id: int, keep: int, *, claim: int | None = None) -> int:
    """Drop the rows from number ``keep`` on (emitted after the checkpoint a run
    resumes from), and their errors from the job's count; returns how many of
    them were error or critical rows."""
    if not store._sql("SELECT EXISTS(SELECT 1 FROM job_result WHERE job_id=? AND seq+n>?)"
                      " OR (? = 0 AND EXISTS(SELECT 1 FROM job_result_set WHERE job_id=?))",
                      (job_id, keep, keep, job_id)).fetchone()[0]:
        return 0  # nothing to drop: no write (every job start comes here)
    bad = 0
    with store._transaction():
        if claim is not None:
            store._check_claim(job_id, claim)
        cut = store._sql("SELECT seq, sizes, severities, rows FROM job_result WHERE job_id=? AND seq<? AND seq+n>?",
                         (job_id, keep, keep)).fetchone()
        for (sevs,) in store._sql("SELECT severities FROM job_result WHERE job_id=? AND seq>=?", (job_id, keep)):
            bad += _bad(sevs)
        store._sql("DELETE FROM job_result WHERE job_id=? AND seq+n>?", (job_id, keep))
        if cut:  # the chunk that straddles ``keep``: its first rows stay
            seq, sizes, sevs, text = cut
            k = keep - seq
            sizes, sevs = sizes.split(_SEP), sevs.split(_SEP)
            bad += sum(s in BAD for s in sevs[k:])
            rows = list(zip(text.split("\n")[:k], [int(x) if x else None for x in sizes[:k]], sevs[:k], strict=False))
            store._executemany(
                "INSERT INTO job_result (job_id, seq, n, max_size, sizes, severities, rows) VALUES (?,?,?,?,?,?,?)",
                _chunks(job_id, [(t, z, v or None) for t, z, v in rows], seq)[0])
        if keep == 0:
            store._sql("DELETE FROM job_result_set WHERE job_id=?", (job_id,))
        if bad:
            store._sql("UPDATE job SET errors=CASE WHEN errors > ? THEN errors - ? ELSE 0 END WHERE id=?",
                       (bad, bad, job_id))
    return bad


# -- the readers' side ----------------------------------------------------------
def name(store: Store, job_id: int) -> str | None:
    """What the rows are called (``groups``, ``issues``, ``rows``); None when the
    job has no result (it has not finished, or its type keeps none)."""
    row = store._sql("SELECT name FROM job_result_set WHERE job_id=?", (job_id,)).fetchone()
    if row:
        return row[0]
    old = _legacy(store, job_id)
    return next(iter(old)) if old else None


def columns(store: Store, job_id: int) -> list[str]:
    """The keys of the job's rows, in the order they first appeared."""
    row = store._sql("SELECT columns FROM job_result_set WHERE job_id=?", (job_id,)).fetchone()
    if row:
        return json.loads(row[0])
    old = _legacy(store, job_id)
    seen: dict[str, None] = {}
    for r in next(iter(old.values()), []) if old else []:
        seen.update(dict.fromkeys(r))
    return list(seen)


def count(store: Store, job_id: int, *, min_size: int | None = None, severity: str | None = None) -> int:
    if min_size is None and severity is None and _stored(store, job_id):
        return store._sql("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM job_result WHERE job_id=?",
                          (job_id,)).fetchone()[0]
    return sum(1 for _ in texts(store, job_id, min_size=min_size, severity=severity))


def texts(store: Store, job_id: int, *, min_size: int | None = None, severity: str | None = None,
          offset: int = 0, limit: int | None = None) -> Iterator[str]:
    """The rows' JSON texts in order, read a chunk at a time; ``offset`` and ``limit``
    (counted after the filters) page through them (without filters, a page far in
    costs no more than the first)."""
    if not _stored(store, job_id):
        found: Iterator[str] = map(dumps, _legacy_rows(store, job_id, min_size, severity))
        yield from itertools.islice(found, offset, None if limit is None else offset + limit)
        return
    where, params = "job_id=?", [job_id]
    skip = offset
    if min_size is None and severity is None and offset:
        where += " AND seq+n>?"  # jump to the chunk that holds row ``offset``
        params.append(offset)
        first = store._sql("SELECT MIN(seq) FROM job_result WHERE job_id=? AND seq+n>?", (job_id, offset)).fetchone()[0]
        skip = max(0, offset - first) if first is not None else 0
    if min_size is not None:
        where += " AND max_size>=?"
        params.append(min_size)
    found = itertools.islice(_read(store, where, params, min_size, severity), skip,
                             None if limit is None else skip + limit)
    yield from found


def _read(store: Store, where: str, params: list, min_size: int | None, severity: str | None) -> Iterator[str]:
    wanted = {_clean(s) for s in at_least(severity)} if severity is not None else None
    cur = store._sql(f"SELECT sizes, severities, rows FROM job_result WHERE {where} ORDER BY seq", params)
    try:
        while batch := cur.fetchmany(_FETCH):
            for sizes, sevs, text in batch:
                lines = text.split("\n")
                if min_size is None and wanted is None:
                    yield from lines
                    continue
                keep = [True] * len(lines)
                if min_size is not None:
                    keep = [k and x != "" and int(x) >= min_size for k, x in zip(keep, sizes.split(_SEP), strict=False)]
                if wanted is not None:
                    keep = [k and v in wanted for k, v in zip(keep, sevs.split(_SEP), strict=False)]
                yield from (t for t, k in zip(lines, keep, strict=False) if k)
    finally:
        cur.close()


def rows(store: Store, job_id: int, *, min_size: int | None = None, severity: str | None = None,
         offset: int = 0, limit: int | None = None) -> Iterator[dict]:
    """The rows as dicts, in order (an iterator: a result can have millions); see ``texts``."""
    return map(json.loads, texts(store, job_id, min_size=min_size, severity=severity, offset=offset, limit=limit))


def at_least(severity: str) -> tuple[str, ...]:
    """``severity`` and the worse ones; an unknown severity (a plugin's) only itself."""
    if severity not in SEVERITIES:
        return (severity,)
    return SEVERITIES[: SEVERITIES.index(severity) + 1]


def _in(values) -> str:
    return "(" + ",".join("?" * len(values)) + ")"


# -- results of jobs that ran before this table --------------------------------
def _stored(store: Store, job_id: int) -> bool:
    return store._sql("SELECT 1 FROM job_result_set WHERE job_id=?", (job_id,)).fetchone() is not None


def _legacy(store: Store, job_id: int) -> dict | None:
    """{"groups"|"issues": [rows]} of a job that ran before results were stored here."""
    row = store._sql("SELECT output FROM job WHERE id=?", (job_id,)).fetchone()
    from ..core import codec

    output = codec.unpack(row[0]) if row and row[0] is not None else None
    if not isinstance(output, dict):
        return None
    if output.get("results_file"):
        path = str(output["results_file"])
        try:
            if path.endswith(".json"):
                with open(path, encoding="ascii") as f:
                    return {"groups": json.load(f)}
            with open(path, "rb") as f:
                found = codec.unpack(f.read())
        except FileNotFoundError:
            return None
        return found if isinstance(found, dict) and found else None
    found = output.get("results")
    return found if isinstance(found, dict) and found else None


def _legacy_rows(store: Store, job_id: int, min_size: int | None, severity: str | None) -> Iterator[dict]:
    old = _legacy(store, job_id) or {}
    wanted = at_least(severity) if severity is not None else None
    for r in next(iter(old.values()), []):
        if min_size is not None and not (isinstance(r.get("size"), int) and r["size"] >= min_size):
            continue
        if wanted is not None and r.get("severity") not in wanted:
            continue
        yield {k: v for k, v in r.items() if k != "mtimes"}
