"""``sdjobs runner``: run jobs in the foreground, or see and stop runners."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ..runner import daemon
from . import output, state
from .groups import NO_DOUBLE_SUGGESTION

runner = typer.Typer(**NO_DOUBLE_SUGGESTION,
                     help="Run jobs: in the foreground (for a service manager), or manage background runners.",
                     invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runner, name="runner")


@runner.callback()
def run(
    ctx: typer.Context,
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1,
                                                   help="Jobs at once and fan-out workers [default: cores].")] = None,
    exit_when_idle: Annotated[bool, typer.Option("--exit-when-idle", help="Exit when no job is left to run.")] = False,
    idle_exit: Annotated[float | None, typer.Option("--idle-exit", metavar="SECONDS",
                                                       help="Exit after this long with nothing to do.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log job starts and ends on stderr.")] = False,
) -> None:
    """Run queued jobs until stopped (SIGTERM/SIGINT pause running jobs with a checkpoint first).

    Logs one line per job start, end and interruption on stderr (timestamped on a terminal; under
    systemd the journal adds the time).

    Example: sdjobs runner --workers 4
    """
    if ctx.invoked_subcommand is not None:
        return
    from .runner_log import LoggingSupervisor
    from ..runner.supervisor import Supervisor

    kind = Supervisor if quiet else LoggingSupervisor
    sup = kind(state.library(), workers, exit_when_idle=exit_when_idle, idle_exit=idle_exit)
    raise typer.Exit(sup.run())


@runner.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """Show live runners (exit 1 when none is alive)."""
    from .hosts_output import label

    store = state.store()
    runners = daemon.live_runners(store)
    names = store.host_names()
    if as_json:
        output.print_json([{**r.as_dict(), "host_name": label(names, r.host)} for r in runners])
    elif not runners:
        output.err("no runner is alive", style="yellow")
    for r in runners if not as_json else []:
        print(f"runner {r.id}: pid {r.pid} on {label(names, r.host)}, {r.mode}, {r.busy}/{r.workers} busy,"
              f" up {output.human_duration(time.time() - r.started_at)}")
    raise typer.Exit(0 if runners else 1)


@runner.command("hosts")
def hosts(as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """List the hosts whose runners share this library (for `--on HOST`), with their live runners.

    Example: sdjobs runner hosts
    """
    from .hosts_output import hosts_cmd

    hosts_cmd(state.store(), as_json)


@runner.command("stop")
def stop(wait: Annotated[float, typer.Option("--wait", metavar="SECONDS", min=0,
                                             help="How long to wait for the runners to exit.")] = 40.0) -> None:
    """Stop every live runner; their running jobs checkpoint and resume on the next start.

    Returns once each runner's process has exited (exit 1 if one is still alive after --wait)."""
    def waiting(pids: list[int]) -> None:
        output.err(f"waiting up to {wait:g} s for runner(s) {', '.join(map(str, pids))} to checkpoint their jobs"
                   " and exit", style="dim")

    stopped, alive = daemon.stop_runners(state.store(), wait=wait, waiting=waiting)
    if alive:
        output.err(f"sdjobs: error: {len(alive)} runner(s) still running after {wait:g} s"
                   f" (pid {', '.join(map(str, alive))}); stopped {len(stopped)}")
        raise typer.Exit(1)
    print(f"stopped {len(stopped)} runner(s)" if stopped else "no runner was alive")
