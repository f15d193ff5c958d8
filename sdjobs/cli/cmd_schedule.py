"""``sdjobs schedule``: run job commands on a cron expression while a runner is alive.

``schedule add`` parses the job command and runs it up to the point where it
would submit its job (``cli/submit.py``'s ``capture``): the schedule stores
that submission (job type, config, settings) and submits it at each run,
through the store, with the type's prepare and validate run then.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from ..core.errors import BadInput
from . import output, state
from .groups import NO_DOUBLE_SUGGESTION

if TYPE_CHECKING:
    from ..store.schedules import ScheduledJob

schedule = typer.Typer(
    **NO_DOUBLE_SUGGESTION,
    help="Run job commands on a cron expression while a runner is alive.\n\n"
         "Runs missed while no runner was alive run once on the next start, not once per missed slot;"
         " a run whose previous job is still active is skipped.",
    no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(schedule, name="schedule")


@schedule.command("add", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def add(
    ctx: typer.Context,
    cron: Annotated[str, typer.Argument(metavar="CRON", show_default=False, help=(
        "minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\"; ranges 1-5, steps */15, lists 1,15,"
        " names MON-FRI and JAN-DEC; or @hourly, @daily, @weekly, @monthly, @yearly."))],
    command: Annotated[list[str], typer.Argument(metavar="-- COMMAND...", show_default=False,
                                                 help="A job command as you would type it after `sdjobs`.")],
    as_json: Json = False,
) -> None:
    """Add a schedule: run a job command whenever the cron expression fires.

    The command runs detached, from the current directory, as if typed here.

    Examples:

      sdjobs schedule add "0 3 * * *" -- index ~/Photos

      sdjobs schedule add "*/30 9-18 * * MON-FRI" -- copy ~/work /mnt/backup --on-conflict overwrite

      sdjobs schedule add @weekly -- run linecount --set paths=~/src
    """
    from ..core.cron import CronExpr
    from ..runner.daemon import live_runners
    from ..runner.scheduler import next_run

    try:
        CronExpr.parse(cron)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if command and command[0] == "--":  # options of `add` end at CRON, so click keeps this "--"
        command = command[1:]
    job = job_of_command(command)
    store = state.store()
    sid = store.add_schedule(cron.strip(), command, os.getcwd(), job)
    rec = store.schedule(sid)
    nxt = next_run(rec)
    if as_json:
        output.print_json(_brief(rec))
    else:
        print(sid)
        output.err(f"schedule {sid}: `sdjobs {_show(command)}` at {cron.strip()!r}; next run {_when(nxt)}",
                   style="green")
    if not live_runners(store):
        from ..runner.daemon import ensure_runner

        ensure_runner(store)  # a background runner stays up while schedules exist
        output.err("note: schedules run while a runner is alive; a background runner was started, and"
                   " `sdjobs runner` runs one in the foreground (for example as a systemd user service)",
                   style="yellow")


def job_of_command(argv: list[str]) -> ScheduledJob:
    """The job a job command (one that takes --detach) submits, its arguments parsed and checked
    as the command will (nothing is submitted); BadInput for anything else."""
    try:
        from click import ClickException as ParseError
    except ImportError:  # typer >= 0.25 carries its own click
        from typer import TyperException as ParseError

    from ..runner.scheduler import command_args

    if not argv:
        raise BadInput('schedule add needs a job command: sdjobs schedule add "CRON" -- COMMAND...')
    import typer.main

    from .main import build_app

    root = typer.main.get_command(build_app())  # every command: the running app holds just `schedule`
    root_ctx = root.make_context("sdjobs", [], resilient_parsing=True)
    names = [n for n in root.list_commands(root_ctx) if _is_job_command(root.get_command(root_ctx, n))]
    cmd = root.get_command(root_ctx, argv[0])
    if not _is_job_command(cmd):
        raise BadInput(f"{argv[0]!r} is not a job command; schedules run one of: {', '.join(names)}")
    if "--help" in argv or "-h" in argv:
        raise BadInput(f"`sdjobs {_show(argv)}` only prints help; give it what it should work on")
    args = command_args(argv)
    try:  # parse its arguments as the command will, so a typo fails now, not at 3 am
        with cmd.make_context(args[0], list(args[1:]), parent=root_ctx) as cmd_ctx:
            if cmd_ctx.params.get("after"):
                raise BadInput(f"`sdjobs {_show(argv)}`: a schedule runs its job again and again, so it cannot"
                               " wait --after one job")
            if cmd_ctx.params.get("ephemeral"):
                raise BadInput(f"`sdjobs {_show(argv)}`: --ephemeral submits no job; it cannot be scheduled")
            return _captured(cmd, cmd_ctx, argv)
    except ParseError as exc:  # click's UsageError and friends
        raise BadInput(f"`sdjobs {_show(argv)}`: {exc.format_message()}") from None


def _captured(cmd, cmd_ctx, argv: list[str]) -> ScheduledJob:
    """Run the command up to its submission, as it will run: detached, with no terminal."""
    from ..core import registry
    from ..core.action import command_word
    from ..store.schedules import ScheduledJob
    from . import submit

    stdin = sys.stdin
    submit.capture = True
    try:
        with open(os.devnull) as sys.stdin:
            cmd.invoke(cmd_ctx)
    except submit.Captured as sub:
        config = sub.config if isinstance(sub.config, dict) else dataclasses.asdict(sub.config)
        word = command_word(["sdjobs", *argv])
        return ScheduledJob(sub.job_type, config, dict(sub.settings or {}), priority=sub.priority,
                            action=sub.job_type if word in (None, "run") else word, inputs=sub.inputs,
                            plugin=registry.plugin_module(registry.get(sub.job_type)), host=sub.host)
    except typer.Exit:
        pass
    finally:
        submit.capture = False
        sys.stdin = stdin
    raise BadInput(f"`sdjobs {_show(argv)}` submits no job; it cannot be scheduled")


def _is_job_command(cmd) -> bool:
    return cmd is not None and not hasattr(cmd, "list_commands") and any(
        "--detach" in getattr(p, "opts", ()) for p in cmd.params)


@schedule.command("ls")
def ls(as_json: Json = False) -> None:
    """List schedules with their next run and their last job.

    Example: sdjobs schedule ls --json
    """

    store = state.store()
    recs = store.schedules()
    if as_json:
        output.print_json([_brief(r, store) for r in recs])
        return
    if not recs:
        output.err("no schedules", style="dim")
        return
    from rich.table import Table
    from rich.text import Text

    from ..runner.scheduler import next_run

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("ID", "CRON", "NEXT", "LAST RUN", "LAST JOB", "RUNS", "COMMAND", "NOTE"):
        table.add_column(col, no_wrap=col not in ("COMMAND", "NOTE"), justify="right" if col in ("ID", "RUNS") else "left")
    for r in recs:
        last = ""
        if r.last_job_id:
            status = _job_status(store, r.last_job_id)
            last = f"{r.last_job_id} {status}" if status else f"{r.last_job_id} (pruned)"
        cells = (str(r.id), r.cron, _when(next_run(r)), _ts(r.last_run_at), last, str(r.runs),
                 _show(r.argv), r.last_error or "")
        table.add_row(*(Text(c) for c in cells))  # Text: a command's [brackets] are not markup
    output.console().print(table)


@schedule.command("rm")
def rm(ids: Annotated[list[int], typer.Argument(help="Schedule ids.", show_default=False)]) -> None:
    """Remove schedules (jobs they already started are not touched).

    Example: sdjobs schedule rm 3
    """

    store = state.store()
    missing = []
    for sid in ids:
        if store.remove_schedule(sid):
            print(f"{sid}: removed")
        else:
            missing.append(sid)
    if missing:
        raise BadInput(f"no schedule {missing[0]}")


def _brief(r, store=None) -> dict:
    from ..runner.scheduler import next_run

    nxt = next_run(r)
    d = r.to_dict()
    d.pop("pending_pid")
    from ..core.action import mask_argv, mask_mapping

    d["argv"] = mask_argv(d["argv"])
    d["job"] = mask_mapping(d["job"])  # (None for a schedule of v1 not yet run)
    d["next_run"] = nxt.timestamp() if nxt else None
    d["command"] = _show(r.argv)
    if store is not None and r.last_job_id:
        d["last_job_status"] = _job_status(store, r.last_job_id)
    return d


def _job_status(store, job_id: int) -> str | None:
    return store.job_status(job_id)


def _show(argv: list[str]) -> str:
    """The command as shown (the schedule keeps it whole, to run it): secret-named --set values masked."""
    from ..core.action import mask_argv

    return shlex.join(mask_argv(argv)).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _when(dt) -> str:
    if dt is None:
        return "never"
    if dt.timestamp() <= time.time():
        return "due (runs when a runner is alive)"
    return f"{dt:%Y-%m-%d %H:%M}"


def _ts(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""
