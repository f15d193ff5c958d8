"""``sdjobs jobs output ID``: a finished job's result, for people and for programs.

The rows come from the store (``sdjobs.store.results``) and are streamed:
dupes groups, validate issues, or a plugin's rows (a table whose columns are
the rows' keys). A job without result rows (copy, delete, index, thumbs)
shows its summary counts and its recorded errors and warnings as rows. The
foreground ``sdjobs dupes`` and ``sdjobs validate`` print through ``render``
too, so that ``--format fdupes`` and ``--json`` are the same bytes either way.
The JSON shapes are documented in docs/output.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from typing import IO, Annotated
from collections.abc import Iterable, Iterator

import typer

from ..core.display import safe
from ..core.errors import BadInput
from ..core.status import FINISHED
from . import output, state

FORMATS = ("table", "json", "jsonl", "fdupes")
_PEEK = 500  # rows read ahead to size a table's columns
_KIND_WIDTH = 18


def register(jobs: typer.Typer) -> None:
    jobs.command("output")(output_cmd)


def output_cmd(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="table|json|jsonl|fdupes",
                                     help="fdupes: a dupes job's paths, groups separated by a blank line.")] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout (--format json).")] = False,
    as_jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON row a line, streamed (--format jsonl).")] = False,
    severity: Annotated[str | None, typer.Option(
        "--severity", metavar="LEVEL", help="Only rows of this severity or worse: critical, error, warning, info.")] = None,
    min_size: Annotated[str | None, typer.Option("--min-size", metavar="SIZE",
                                                    help="Only rows (dupes groups) of files this big or bigger.")] = None,
    no_pager: Annotated[bool, typer.Option("--no-pager", help="Do not page the table on a terminal.")] = False,
) -> None:
    """A job's result: dupes groups, validate issues, a plugin's rows, or a job's counts and errors.

    On a terminal the table goes through $PAGER (less -FRX if unset; PAGER=cat
    turns it off). --json and --jsonl are documented in docs/output.md.

    Examples:

      sdjobs jobs output 12

      sdjobs jobs output 12 --format fdupes > dupes.txt

      sdjobs jobs output 14 --severity error --json | jq '.issues[].path'

      sdjobs jobs output 12 --jsonl --min-size 100M | jq -r .paths[0]
    """
    if as_json and as_jsonl:
        raise BadInput("--json and --jsonl: choose one")
    fmt = "json" if as_json else "jsonl" if as_jsonl else fmt
    if fmt not in FORMATS:
        raise BadInput(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    from .units import parse_size

    store = state.store()
    store.recover_orphans()
    rec = store.get(job_id)
    size = parse_size(min_size) if min_size is not None else None
    with paged(enabled=fmt == "table" and not no_pager):
        render(store, rec, fmt, min_size=size, severity=severity)


def render(store, rec, fmt: str, *, min_size: int | None = None, severity: str | None = None) -> None:
    """Print the result of the finished job ``rec`` on stdout in ``fmt``."""
    name = store.results_name(rec.id)
    if name is None and rec.status not in FINISHED:
        raise BadInput(f"job {rec.id} is {rec.status}: its result is there when it finishes"
                       f" (sdjobs jobs wait {rec.id})")
    if name is None and rec.type in ("dupes", "validate") and rec.status in ("completed", "completed-with-errors"):
        from ..core.errors import NotFound

        raise NotFound(f"the result of job {rec.id} is no longer there (its file in library-data/results was removed)")
    if name is None:
        source = _EventRows(store, rec)
    else:
        source = _StoredRows(store, rec.id, name)
    _check_filters(rec, source, fmt, min_size, severity)
    texts = source.texts(min_size=min_size, severity=severity)
    out = sys.stdout
    if fmt == "jsonl":
        _write_lines(texts, out)
    elif fmt == "json":
        write_document(rec, source.name, texts, out)
    elif fmt == "fdupes":
        from .dupes_output import write_fdupes

        out.flush()
        write_fdupes(texts, out.buffer)
        out.buffer.flush()
    else:
        rows = map(json.loads, texts)
        summary = _summary(rec)
        if source.name == "groups":
            from .dupes_output import write_table

            write_table(rows, summary, out)
        elif name is None:  # a job's counts, then what went wrong
            out.write(_no_issues(rec) + "\n")
            write_issues(rows, out, empty="")
        elif source.name == "issues":
            write_issues(rows, out)
        else:
            write_generic(rows, source.columns, out)
    out.flush()


# -- sources of rows -------------------------------------------------------------
class _StoredRows:
    def __init__(self, store, job_id: int, name: str) -> None:
        self.store, self.job_id, self.name = store, job_id, name
        self.columns = store.results_columns(job_id)

    def texts(self, *, min_size, severity) -> Iterator[str]:
        return self.store.result_texts(self.job_id, min_size=min_size, severity=severity)


class _EventRows:
    """A job with no result rows: its recorded errors and warnings (paths and
    messages) stand in, as issues, next to the counts of its summary."""

    name = "issues"
    columns = ["severity", "kind", "path", "message", "action"]

    def __init__(self, store, rec) -> None:
        self.store, self.rec = store, rec

    def texts(self, *, min_size, severity) -> Iterator[str]:
        from ..store.results import at_least, dumps

        wanted = at_least(severity) if severity else None
        for e in self.store.events(self.rec.id, kinds=["error", "warning"]):
            if e.retries != self.rec.retries or (wanted and e.kind not in wanted):
                continue  # an earlier run's (see `jobs show`)
            yield dumps({"severity": e.kind, "kind": e.kind, "path": e.path, "message": e.message,
                         "action": ""})


def _check_filters(rec, source, fmt: str, min_size, severity) -> None:
    if fmt == "fdupes" and source.name != "groups":
        raise BadInput(f"--format fdupes is for dupes jobs; job {rec.id} is a {rec.type} job")
    if min_size is not None and "size" not in source.columns:
        raise BadInput(f"--min-size: the rows of job {rec.id} ({rec.type}) have no size")
    if severity is not None and "severity" not in source.columns:
        raise BadInput(f"--severity: the rows of job {rec.id} ({rec.type}) have no severity")


def _summary(rec) -> dict:
    return {k: v for k, v in (rec.output or {}).items() if k != "results"} if isinstance(rec.output, dict) \
        else ({"output": rec.output} if rec.output is not None else {})


def _no_issues(rec) -> str:
    from .follow import summary

    return summary(rec)


# -- writers -----------------------------------------------------------------------
def write_document(rec, name: str, texts: Iterable[str], out: IO[str]) -> None:
    """``{"job": ID, "status": ..., "summary": {...}, "<name>": [rows...]}`` on one
    line, the rows copied as stored (never parsed), a chunk at a time."""
    head = json.dumps({"job": rec.id, "status": rec.status, "summary": _summary(rec)}, ensure_ascii=True,
                      default=output._json_default)
    out.write(f"{head[:-1]}, {json.dumps(name)}: [")
    sep = ""
    for chunk in _chunks(texts):
        out.write(sep + ",".join(chunk))
        sep = ","
    out.write("]}\n")


def _write_lines(texts: Iterable[str], out: IO[str]) -> None:
    for chunk in _chunks(texts):
        out.write("\n".join(chunk) + "\n")


def _chunks(texts: Iterable[str], n: int = 2000) -> Iterator[list[str]]:
    chunk: list[str] = []
    for t in texts:
        chunk.append(t)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_issues(rows: Iterable[dict], out: IO[str], *, empty: str = "no issues found") -> None:
    """SEVERITY KIND PATH, then the message and the fix on the next line."""
    from ..fs.names import display_path

    it = iter(rows)
    head = [r for _, r in zip(range(_PEEK), it, strict=False)]
    if not head:
        out.write(empty + "\n" if empty else "")
        return
    w = min(_KIND_WIDTH, max(len(str(i.get("kind") or "")) for i in head))
    out.write(f"{'SEVERITY':<9} {'KIND':<{w}} PATH\n")
    for chunk in _chunks(_chain(head, it), 500):
        lines = []
        for i in chunk:
            lines.append(f"{safe(i.get('severity') or ''):<9} {safe(i.get('kind') or ''):<{w}}"
                         f" {display_path(i['path']) if i.get('path') else ''}")
            fix = f"; fix: {safe(i['action'])}" if i.get("action") else ""
            lines.append(f"{'':<9} {'':<{w}}   {safe(i.get('message') or '')}{fix}")
        out.write("\n".join(lines) + "\n")


def write_generic(rows: Iterable[dict], columns: list[str], out: IO[str]) -> None:
    """A plain table whose columns are the rows' keys, sized on the first rows
    (longer cells are cut with an ellipsis; the last column never is)."""
    it = iter(rows)
    head = [r for _, r in zip(range(_PEEK), it, strict=False)]
    if not head:
        out.write("no rows\n")
        return
    cols = list(columns) or list(dict.fromkeys(k for r in head for k in r))
    widths = [min(60, max([len(c)] + [output.cell_width(_cell(r.get(c))) for r in head])) for c in cols]
    line = lambda cells: "  ".join(  # noqa: E731
        (c if i == len(cols) - 1 else output.shorten(c, widths[i]).ljust(widths[i])) for i, c in enumerate(cells)
    ).rstrip()
    out.write(line([c.upper() for c in cols]) + "\n")
    for chunk in _chunks(_chain(head, it), 500):
        out.write("\n".join(line([_cell(r.get(c)) for c in cols]) for r in chunk) + "\n")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return ", ".join(_cell(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return f"{v:g}"
    return safe(v)


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


# -- the pager ---------------------------------------------------------------------
def pager_command() -> str | None:
    """As git does: $SDJOBS_PAGER, else $PAGER, else ``less -FRX``; empty or ``cat``: none."""
    for var in ("SDJOBS_PAGER", "PAGER"):
        if var in os.environ:
            cmd = os.environ[var].strip()
            break
    else:
        cmd = "less -FRX"
    return None if cmd in ("", "cat") else cmd


@contextlib.contextmanager
def paged(enabled: bool = True):
    """Send stdout through the pager while in the block, when stdout is a terminal."""
    cmd = pager_command() if enabled and sys.stdout.isatty() else None
    if cmd is None:
        yield
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # quit if one screen, colours, keep the screen (git's default)
    try:
        proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        yield  # no such pager: print as if there were none
        return
    real = sys.stdout
    sys.stdout = io.TextIOWrapper(proc.stdin, encoding=real.encoding or "utf-8",
                                  errors=real.errors or "strict", write_through=False)
    try:
        yield
    except BrokenPipeError:
        pass  # the reader quit the pager: nothing more to show
    finally:
        try:
            sys.stdout.close()
        except (BrokenPipeError, ValueError):
            pass
        sys.stdout = real
        proc.wait()
