"""The detail screen's overview as titled key/value sections (plain data in, rich Text out)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from . import format as fmt
from .model import DetailData, FINISHED_NAMES, Relative
from .outputs import mapping_table, scalar


def _relative(r: Relative) -> Text:
    text = Text(f"{r.id} ", style="bold")
    text.append(r.type + " ")
    text.append_text(fmt.status_text(r.status))
    if r.fraction is not None and r.status not in FINISHED_NAMES:
        text.append(f" {r.fraction * 100:.0f}%")
    return text


def _kv(value: Any, key: str = "") -> RenderableType:
    if isinstance(value, dict):
        return mapping_table(value) if value else ""
    if isinstance(value, (list, tuple)):
        return ", ".join(scalar(v, key) for v in value)
    return "" if value is None else scalar(value, key)


def sections(d: DetailData, now: float) -> list:
    """Every section that can be drawn; one that cannot says why instead of taking the screen down."""
    out: list = []
    if d.problem:
        out.append(("Problems", [("record", Text(d.problem, style="red"))]))
    if d.view is None:
        return out
    builders = [("Outcome", _outcome)] if d.record is not None and _has_outcome(d) else []
    builders += [("Job", _job)]
    if d.record is not None:
        builders += [("Progress", _progress), ("Metrics", _metrics), ("Started by", _started_by),
                     ("Times", _times), ("Related jobs", _related), ("Configuration", _configuration)]
    for title, build in builders:
        try:
            out.append((title, build(d, now)))
        except Exception as exc:  # noqa: BLE001 - a section that cannot be laid out says so; the others still show
            out.append((title, [("unreadable", Text(f"{type(exc).__name__}: {exc}", style="red"))]))
    return out


def _has_outcome(d: DetailData) -> bool:
    rec = d.record
    return rec.status in FINISHED_NAMES or bool(rec.error) or rec.status == "interrupted"


def _outcome(d: DetailData, now: float) -> list:
    """How it ended, first: the status, what it did, why it failed, what went wrong on the way."""
    rec = d.record
    status = fmt.status_text(rec.status)
    if rec.finished_at:
        status.append(f"  {fmt.timestamp(rec.finished_at)}", style="dim")
        if rec.run_seconds:
            status.append(f" after {fmt.human_duration(rec.run_seconds)}", style="dim")
    issues = fmt.issue_count(rec.errors, rec.warnings)
    return [
        ("status", status),
        ("reason", Text(fmt.safe(str(rec.error)), style="bold red" if rec.status == "failed" else "red")
         if rec.error else ""),
        ("result", d.summary or ""),
        ("issues", Text(issues + "  (2: Issues tab)", style="yellow") if issues else ""),
    ]


def _job(d: DetailData, now: float) -> list:
    rec, view = d.record, d.view
    kind = Text(f"{view.type}")
    if rec is not None:
        kind.append(f" v{rec.type_version}")
    if d.description is None:
        kind.append("  (this job type is not installed here: it is shown as recorded)", style="italic yellow")
    elif d.description:
        kind.append(f" · {d.description}", style="dim")
    status = fmt.status_text(view.status, view.control)
    if view.control and view.status == "running":
        status.append(f" (requested: {view.control})", style="dim")
    what = fmt.what_text(view.sources, view.dest, 400)
    return [("type", kind), ("status", status), ("what", what), ("priority", str(view.priority))]


def _progress(d: DetailData, now: float) -> list:
    rec = d.record
    p = rec.progress
    running = rec.status == "running"
    prog: list = [("phase", str(p.phase or ""))]
    if p.fraction() is not None or running:
        prog.append(("progress", fmt.progress_bar(p.fraction(), 30, status=rec.status)))
    prog += [
        ("done", fmt.full_progress_text(p)),
        ("rate", fmt.human_rate(p.rate, p.rate_unit) if running else ""),
        ("eta", fmt.human_duration(p.eta) if running and p.eta is not None else ""),
        ("current", fmt.short_path(p.path, 300) if p.path else ""),
        ("message", str(p.message or "")),
    ]
    for key, value in (p.fields or {}).items():
        prog.append((str(key), _kv(value, str(key))))
    if p.updated_at:
        prog.append(("updated", f"{fmt.human_age(p.updated_at, now)} ago"))
    return prog


def _metrics(d: DetailData, now: float) -> list:
    rec = d.record
    return [
        ("bytes", fmt.human_bytes(rec.bytes_done) if rec.bytes_done else ""),
        ("items", f"{rec.items_done:,}" if rec.items_done else ""),
        ("run time", fmt.human_duration(rec.run_seconds) if rec.run_seconds else ""),
        ("warnings", Text(str(rec.warnings), style="yellow") if rec.warnings else "0"),
        ("errors", Text(str(rec.errors), style="red") if rec.errors else "0"),
        ("attempt", f"{rec.attempt} of {rec.max_attempts}" + (f" ({rec.attempts} crashed)" if rec.attempts else "")),
    ]


def _started_by(d: DetailData, now: float) -> list:
    rec = d.record
    ctx = rec.context if isinstance(rec.context, dict) else {}
    when = ctx.get("time")
    return [
        ("command", fmt.started_by(ctx, None) or (f"child of job {rec.parent_id}" if rec.parent_id else "")),
        ("user", str(ctx.get("user", "")) + (f" on {ctx['host']}" if ctx.get("host") else "")),
        ("directory", fmt.short_path(str(ctx.get("cwd")), 300) if ctx.get("cwd") else ""),
        ("submitted", fmt.timestamp(when) if isinstance(when, (int, float)) else ""),
        ("inputs", _kv(ctx.get("inputs"))),
    ]


def _times(d: DetailData, now: float) -> list:
    rec = d.record
    return [
        ("created", fmt.timestamp(rec.created_at)), ("started", fmt.timestamp(rec.started_at)),
        ("paused", fmt.timestamp(rec.paused_at) if rec.status in ("paused", "interrupted") else ""),
        ("finished", fmt.timestamp(rec.finished_at)),
    ]


def _related(d: DetailData, now: float) -> list:
    rec = d.record
    return [
        ("parent", _relative(d.parent) if d.parent else (str(rec.parent_id) if rec.parent_id else "")),
        ("children", Text("\n").join(_relative(c) for c in d.children) if d.children else ""),
        ("after", ", ".join(map(str, rec.depends_on))),
    ]


def _configuration(d: DetailData, now: float) -> list:
    rec = d.record
    return [
        ("config", _kv(rec.config)),
        ("settings", _kv(rec.settings)),
    ]
