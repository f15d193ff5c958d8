"""What every job command shares: options, validation, submission, following."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import sys
import time
from typing import Annotated, Any

import typer

from ..runner import doorbell
from . import output, state
from .exitcodes import Exit

Detach = Annotated[bool, typer.Option("--detach", "-d", help="Only enqueue the job and print its id.")]
PRIORITY_RANGE = {"min": -(2**31), "max": 2**31 - 1}  # typer's bounds: a clear message, exit 2
Priority = Annotated[int, typer.Option("--priority", "-p", help="Higher runs first (default 0).", **PRIORITY_RANGE)]
Json = Annotated[bool, typer.Option("--json", help="Print the final job record as JSON on stdout.")]
After = Annotated[list[int] | None, typer.Option("--after", help="Wait until job ID finishes (repeatable).")]
MaxWorkers = Annotated[int | None, typer.Option("--max-workers", min=1,
                                                   help="Cap the worker processes this job fans out to.")]

target: str | None = None  # --on, as given to the command running now (see On)


def _on(value: str | None) -> str | None:
    global target
    target = value
    return value


# Every submitting command takes --on; its value reaches ``submit`` through this callback, so that a
# command need not pass it along (the command server forks a fresh process for each command).
On = Annotated[str | None, typer.Option(
    "--on", metavar="HOST", callback=_on,
    help="Run it on HOST's runner (its paths are HOST's), or on any runner with 'any' [default: this host].")]


def action_context(inputs: dict[str, Any], action: str | None = None) -> dict[str, Any]:
    """What started the job (``core/action.py``): the command line shell-quoted and with the
    values of secret-named ``--set`` keys masked, the inputs masked the same way (the job's
    config, what it runs with, is stored apart and whole), who, where, and the schedule, if any."""
    from ..core.action import mask_argv, mask_mapping, quote

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = str(os.getuid())
    host = socket.gethostname()
    argv = mask_argv(["sdjobs", *sys.argv[1:]])
    context = {"argv": argv, "command": quote(argv), "action": action, "inputs": mask_mapping(inputs),
               "user": user, "cwd": os.getcwd(), "host": host, "time": time.time(), "initiator": f"{user}@{host}"}
    schedule = _schedule()
    if schedule is not None:
        context["schedule"] = schedule
        context["initiator"] = f"schedule {schedule['id']}"
    return context


def _schedule() -> dict | None:
    """The schedule whose runner started this command ($SDJOBS_SCHEDULE, runner/scheduler.py)."""
    sid = os.environ.get("SDJOBS_SCHEDULE", "")
    if not sid.isdigit():
        return None
    from ..core.errors import NotFound

    try:
        rec = state.store().schedule(int(sid))
    except NotFound:  # removed meanwhile: the id is still what started it
        rec = None
    return {"id": int(sid), "cron": rec.cron if rec is not None else None}


def command_action(job_type: str) -> str:
    """The command word of the command running now (``copy``, ``watch``...); for ``sdjobs run
    TYPE`` (and outside a command) the job type, a plugin's action name."""
    from ..core.action import command_word

    word = command_word(["sdjobs", *sys.argv[1:]])
    return job_type if word in (None, "run") else word


class Captured(Exception):
    """Raised by ``submit`` while ``capture`` is set: the submission the command would have made
    (``sdjobs schedule add`` stores it, to submit it at each run)."""

    def __init__(self, job_type: str, config: Any, *, priority: int, after: list[int] | None, settings: dict | None,
                 inputs: dict | None, host: str | None = None) -> None:
        super().__init__(job_type)
        self.job_type, self.config, self.priority, self.after = job_type, config, priority, after
        self.settings, self.inputs, self.host = settings, inputs, host


capture = False


def target_host(store, on: str | None) -> str:
    """The host a job is sent to: this host's id by default, else what ``--on`` names (a known
    host's id, or ``any``). A host no runner has run on yet is accepted with a warning: its runner
    may come later, and until it does the job says what it waits for."""
    from ..core.errors import BadInput
    from ..core.hostid import this_host

    if on is None:
        return this_host()
    text = on.strip()
    if not text or any(not c.isprintable() for c in text):
        raise BadInput(f"--on needs a host name, a host id or 'any', not {on!r}")
    host = store.resolve_host(text)
    if host is None:
        output.err(f"warning: no runner has run on host {text!r} yet: the job waits until one does"
                   " (known hosts: sdjobs runner hosts)", style="yellow")
        return text
    return host


def submit(job_type: str, config: Any, *, priority: int = 0, after: list[int] | None = None,
           settings: dict | None = None, inputs: dict | None = None, host: str | None = None) -> int:
    """Validate and enqueue, for ``host`` (by default the one ``--on`` named, else this host);
    raises BadInput (exit 2) before anything is written."""
    from ..core import registry
    from ..core.fields import build_config

    host = target_host(state.store(), host if host is not None else target)
    if capture:
        raise Captured(job_type, config, priority=priority, after=after, settings=settings, inputs=inputs,
                       host=host)
    cls = registry.get(job_type)
    if isinstance(config, dict):
        config = build_config(cls.Config, config)
    config = cls.prepare(config)
    cls.validate(config)
    store = state.store()
    action = command_action(job_type)
    context = action_context(inputs if inputs is not None else _asdict(config), action)
    if (plugin := registry.plugin_module(cls)) is not None:
        context["plugin"] = plugin  # for a runner started without the $SDJOBS_PLUGINS of this command
    # From the INSERT on, the job exists: a Ctrl-C is held until this returns, then raised as
    # Submitted, which says which job to pause (raised in between, it left no trace of the job).
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        job_id = store.submit(job_type, cls.version, config, priority=priority, after=after or [],
                              settings=settings, context=context, action=action, host=host)
        doorbell.ring(str(state.library().data_dir))  # this host's runner claims it now, not at its next look
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # (a Ctrl-C held meanwhile is raised here)
    except KeyboardInterrupt:
        raise Submitted(job_id) from None
    return job_id


class Submitted(KeyboardInterrupt):
    """Ctrl-C while ``submit`` wrote the job: it exists, as ``job_id``."""

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.job_id = job_id


def launch(job_type: str, config: Any, *, detach: bool, priority: int = 0, as_json: bool = False,
           after: list[int] | None = None, max_workers: int | None = None, settings: dict | None = None,
           inputs: dict | None = None):
    """Submit, start a runner if none is alive, then follow until the job stops and return its
    record; with ``detach``, print the id (or JSON) and exit 0 instead."""
    from ..runner.daemon import ensure_runner
    from .follow import follow, interrupted

    settings = dict(settings or {})
    if max_workers:
        settings["max_workers"] = max_workers
    job_id = None
    try:
        job_id = submit(job_type, config, priority=priority, after=after, settings=settings, inputs=inputs)
        store = state.store()
        ensure_runner(store, host=store.get(job_id).host)  # none here for a job of another host
    except KeyboardInterrupt as exc:  # (typer's own handling of it exits 130 and says nothing)
        job_id = exc.job_id if isinstance(exc, Submitted) else job_id
        if job_id is None:
            raise  # nothing was submitted
        if detach:
            output.err(f"job {job_id} is submitted: sdjobs jobs follow {job_id}", style="yellow")
            raise SystemExit(Exit.INTERRUPTED) from None
        return interrupted(state.store(), job_id)  # as a Ctrl-C while following it
    if detach:
        if as_json:
            output.print_json({"id": job_id, "status": "queued"})
        else:
            print(job_id)
        raise typer.Exit(0)
    return follow(store, job_id)


def run_job(job_type: str, config: Any, *, detach: bool, priority: int, as_json: bool,
            after: list[int] | None = None, max_workers: int | None = None, settings: dict | None = None,
            inputs: dict | None = None) -> None:
    """``launch``, then print the outcome and exit with the job's exit code."""
    from .follow import exit_code, report

    rec = launch(job_type, config, detach=detach, priority=priority, as_json=as_json, after=after,
                 max_workers=max_workers, settings=settings, inputs=inputs)
    report(state.store(), rec, as_json=as_json)
    raise typer.Exit(int(exit_code(rec)))


def _asdict(config: Any) -> dict:
    import dataclasses

    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
