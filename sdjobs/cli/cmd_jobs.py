"""``sdjobs jobs``: list, inspect and control jobs from any terminal."""

from __future__ import annotations

import re
import time
from typing import Annotated

import typer

from ..core.display import safe
from ..core.errors import BadInput
from ..core.status import FINISHED
from . import output, state
from .submit import PRIORITY_RANGE
from .groups import NO_DOUBLE_SUGGESTION

jobs = typer.Typer(**NO_DOUBLE_SUGGESTION, help="List, inspect and control jobs.", no_args_is_help=True)
Ids = Annotated[list[int], typer.Argument(help="Job ids.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(jobs, name="jobs")


@jobs.command("ls")
def ls(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include the whole history.")] = False,
    status: Annotated[list[str] | None, typer.Option("--status", "-s", help="Only this status (repeatable).")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", "-t", help="Only this job type (repeatable).")] = None,
    action: Annotated[list[str] | None, typer.Option(
        "--action", help="Only jobs started by this command word, e.g. copy, watch (repeatable).")] = None,
    limit: Annotated[int, typer.Option("--recent", help="How many finished jobs to show without --all.")] = 20,
    page: Annotated[int | None, typer.Option(
        "--limit", "-n", min=1, help="One page of the whole library, newest first: at most N jobs.")] = None,
    before: Annotated[int | None, typer.Option(
        "--before", metavar="ID", help="The page of jobs older than job ID (with --limit; 50 by default).")] = None,
    host: Annotated[list[str] | None, typer.Option(
        "--host", metavar="HOST", help="Only jobs meant for this host, or 'any' (repeatable).")] = None,
    as_json: Json = False,
) -> None:
    """Active jobs and recent history; --limit and --before page through the whole library.

    Example: sdjobs jobs ls --status failed --json

    Example: sdjobs jobs ls --action copy --limit 100 --before 5230
    """
    from . import jobs_ls

    jobs_ls.show(jobs_ls.gather(state.store(), all_=all_, status=status, type_=type_, action=action, limit=limit,
                                page=page, before=before, host=host, as_json=as_json))


@jobs.command("show")
def show(job_id: Annotated[int, typer.Argument(help="Job id.")], as_json: Json = False,
         events: Annotated[int, typer.Option("--events", help="How many warnings/errors to show.")] = 50) -> None:
    """Everything in a job's record: config, progress, metrics, context, issues, output.

    Example: sdjobs jobs show 12 --json | jq .output
    """
    store = state.store()
    store.recover_orphans()
    rec = store.get(job_id)
    issues = store.events(job_id, kinds=["warning", "error"], limit=events if not as_json else None)
    result = _result(store, rec)
    from ..core.action import mask_mapping

    waiting = store.waiting([rec]).get(rec.id)
    rec.config = mask_mapping(rec.config)  # shown, never run from: a secret stays unseen
    from .hosts_output import label

    host = label(store.host_names(), rec.host)
    if as_json:
        d = rec.to_dict()
        d["waiting"] = waiting
        d["host_name"] = host
        d["issues"] = [{"kind": e.kind, "path": e.path, "message": e.message, "ts": e.ts, "run": e.retries}
                       for e in issues]
        d["result"] = result
        output.print_json(d)
        return
    from rich.table import Table
    from rich.text import Text

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    p = rec.progress
    rows = [
        ("job", f"{rec.id} ({rec.type} v{rec.type_version})"),
        ("status", Text.assemble((rec.status, output.STATUS_STYLE.get(rec.status, "")),
                                 f" (requested: {rec.control})" if rec.control else "")),
        ("waiting", waiting or ""),
        ("priority", str(rec.priority)),
        ("host", host if rec.host == "any" else f"{host} (runs only there)"),
        ("command", output.what(rec.context, program=True)),
        ("action", rec.action or ""),
        ("started by", f"{rec.context.get('initiator') or rec.context.get('user', '?')}"
                       f" in {rec.context.get('cwd', '?')}"),
        ("created", _ts(rec.created_at)), ("started", _ts(rec.started_at)),
        ("paused", _ts(rec.paused_at)), ("finished", _ts(rec.finished_at)),
        ("phase", p.phase or ""), ("progress", output.progress_text(p)),
        ("rate", output.human_rate(p.rate, p.rate_unit)), ("eta", output.human_duration(p.eta)),
        ("current", output.shorten(p.path or p.message or "", 100)),
        ("metrics", f"{output.human_bytes(rec.bytes_done)}, {rec.items_done:,} items,"
                    f" {output.human_duration(rec.run_seconds)} running"),
        ("attempt", f"{rec.attempt} of {rec.max_attempts}" + (f" ({rec.attempts} crashed)" if rec.attempts else "")),
        ("retried", f"{rec.retries} time(s); issues of earlier runs are marked" if rec.retries else ""),
        ("warnings", str(rec.warnings)), ("errors", str(rec.errors)),
        ("parent", str(rec.parent_id or "")), ("children", ", ".join(map(str, rec.children))),
        ("after", ", ".join(map(str, rec.depends_on))),
        ("settings", ", ".join(f"{k}={v}" for k, v in rec.settings.items())),
        ("config", ", ".join(f"{k}={v!r}" for k, v in rec.config.items())),
        ("error", rec.error or ""),
        ("result", f"{result['rows']:,} {result['name']}: {result['command']}" if result else ""),
    ]
    for k, v in p.fields.items():
        rows.append((k, str(v)))
    if rec.output is not None:
        from .follow import summary

        rows.append(("output", summary(rec).split(": ", 1)[-1] if rec.status in FINISHED else ""))

    for k, v in rows:
        if v:  # a str would be read as markup; names are text, their escapes shown (core/display.py)
            t.add_row(k, v if isinstance(v, Text) else Text(safe(v)))
    con = output.console()
    con.print(t)
    for e in issues:
        earlier = (f"(run {e.retries + 1}) ", "dim") if e.retries != rec.retries else ""
        con.print(Text.assemble("  ", earlier, (e.kind, "red" if e.kind == "error" else "yellow"),
                                f" {safe(output.shorten(e.path or '', 70))} {safe(e.message)}"), highlight=False)


def _result(store, rec) -> dict | None:
    """Where the job's result is: how many rows, and the command that prints them."""

    name = store.results_name(rec.id)
    if name is None:
        return None
    return {"name": name, "rows": store.count_results(rec.id), "columns": store.results_columns(rec.id),
            "command": f"sdjobs jobs output {rec.id}"}


def _ensure_runner(ids: list[int] | None = None) -> None:
    """A runner here for those of the jobs ``ids`` this host's runner would take (by default, one),
    its doorbell rung: they are queued again (runner/doorbell.py)."""
    from ..runner import doorbell
    from ..runner.daemon import ensure_runner

    store = state.store()
    for host in dict.fromkeys(store.get(i).host for i in ids) if ids else [None]:
        ensure_runner(store, host=host)
    doorbell.ring(str(state.library().data_dir))


def _ts(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def _each(ids: list[int], verb) -> None:
    store = state.store()
    store.recover_orphans()  # a job whose runner died is interrupted, not running
    failed = False
    for job_id in ids:
        try:
            print(f"{job_id}: {verb(store, job_id)}")
        except BadInput as exc:
            output.err(f"sdjobs: error: {exc}")
            failed = True
    if failed:
        raise typer.Exit(2)


@jobs.command("pause")
def pause(ids: Ids) -> None:
    """Pause jobs: they checkpoint at their next check and free their worker."""
    from ..runner import control

    _each(ids, control.pause)


@jobs.command("resume")
def resume(ids: Ids, follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Then follow the job live, as `jobs follow` (one job).")] = False) -> None:
    """Resume paused or interrupted jobs from their last checkpoint."""
    from ..runner import control

    if follow and len(ids) != 1:
        raise BadInput("--follow follows one job: give one id")
    _each(ids, control.resume)
    _ensure_runner(ids)
    if follow:
        jobs_follow.follow_job(ids[0])


@jobs.command("cancel")
def cancel(ids: Ids) -> None:
    """Cancel jobs: they stop, clean up, and stay in the history as cancelled."""
    from ..runner import control

    _each(ids, control.cancel)


@jobs.command("retry")
def retry(ids: Ids, from_scratch: Annotated[bool, typer.Option(
        "--from-scratch", help="Forget the checkpoint and start from the beginning.")] = False) -> None:
    """Run failed jobs again, from their last checkpoint."""
    from ..runner import control

    _each(ids, lambda s, i: control.retry(s, i, from_scratch=from_scratch))
    _ensure_runner(ids)


@jobs.command("wait")
def wait(ids: Ids, timeout: Annotated[float | None, typer.Option(help="Give up after SECONDS (exit 1).")] = None,
         as_json: Json = False) -> None:
    """Wait until jobs finish; exit 0 only if all completed.

    Example: sdjobs jobs wait 12 13 && echo all done
    """
    from .follow import exit_code, summary, wait_until

    store = state.store()
    deadline = None if timeout is None else time.monotonic() + timeout
    recs = []
    for job_id in ids:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        recs.append(wait_until(store, job_id, lambda r: r.status in FINISHED, timeout=left))
    if as_json:
        from .follow import outcome
        from .jobs_ls import brief

        output.print_json([{**brief(r), **outcome(store, r)} for r in recs])
    else:
        for r in recs:
            output.err(summary(r), style="green" if r.status == "completed" else "red")
    raise typer.Exit(max(int(exit_code(r)) if r.status in FINISHED else 1 for r in recs))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text.strip())
    if not m:
        raise BadInput(f"bad age {text!r}: use a number and a unit, e.g. 30d, 12h, 90m")
    return float(m.group(1)) * _UNITS[m.group(2)]


@jobs.command("prune")
def prune(older_than: Annotated[str, typer.Option("--older-than", help="Age such as 30d, 12h.")] = "30d",
          as_json: Json = False) -> None:
    """Delete finished jobs older than an age from the history.

    Example: sdjobs jobs prune --older-than 30d
    """
    from ..runner.leftovers import clean_up_before_prune

    clean_up_before_prune(state.store(), parse_age(older_than))  # (never orphans a job's temporaries)
    done = state.store().prune(parse_age(older_than))
    if as_json:
        output.print_json({"pruned": done.jobs, "files": done.files, "bytes": done.bytes})
    else:
        from ..core.humanize import plural

        files = f", {plural(done.files, 'result file')} ({output.human_bytes(done.bytes)})" if done.files else ""
        print(f"pruned {plural(done.jobs, 'job')}{files}")


@jobs.command("set")
def set_(job_id: Annotated[int, typer.Argument(help="Job id.")],
         priority: Annotated[int | None, typer.Option(help="New priority.", **PRIORITY_RANGE)] = None,
         max_workers: Annotated[int | None, typer.Option("--max-workers", min=1, help="Cap fan-out workers.")] = None,
         bwlimit: Annotated[str | None, typer.Option("--bwlimit", help="Bytes per second, e.g. 50M (copy).")] = None) -> None:
    """Change a job's priority or limits, even while it runs."""
    store = state.store()
    store.get(job_id)
    if priority is not None:
        store.set_priority(job_id, priority)
    changes = {}
    if max_workers is not None:
        changes["max_workers"] = max_workers
    if bwlimit is not None:
        from .units import parse_size

        changes["bwlimit"] = parse_size(bwlimit)
    if changes:
        store.set_settings(job_id, **changes)
    print(f"{job_id}: updated")


from . import jobs_follow, jobs_logs, jobs_output  # noqa: E402  (commands in their own modules)

jobs_logs.register(jobs)
jobs_follow.register(jobs)
jobs_output.register(jobs)
