"""``sdjobs config``: the library's own settings (``retention``...), stored in the library."""

from __future__ import annotations

from typing import Annotated

import typer

from . import output, state
from .groups import NO_DOUBLE_SUGGESTION

config = typer.Typer(**NO_DOUBLE_SUGGESTION, no_args_is_help=True, help=(
    "The library's settings, stored in the library and used by every runner.\n\n"
    "retention: finished jobs older than this are pruned with their result files, by the runner"
    " at start and daily (30d, 12h, 2w, or off); retention-failed: failed jobs are kept this long"
    " instead."))
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
Name = Annotated[str, typer.Argument(metavar="NAME", help="A setting (see `sdjobs config ls`).", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(config, name="config")


def _row(store, name: str, set_: dict) -> dict:
    from ..core.settings import SETTINGS

    s = SETTINGS[name]
    value, when = set_.get(name, (None, None))
    return {"name": name, "value": value if value is not None else s.default, "set": value is not None,
            "default": s.default, "updated_at": when, "help": s.help}


@config.command("ls")
def ls(as_json: Json = False) -> None:
    """Every setting with its value, and whether it was set or is the default.

    Example: sdjobs config ls --json
    """
    from ..core.settings import SETTINGS

    store = state.store()
    set_ = store.library_settings()
    rows = [_row(store, name, set_) for name in SETTINGS]
    if as_json:
        output.print_json(rows)
        return
    output.columns(("NAME", "VALUE", "SOURCE", "MEANING"),
                   [(r["name"], r["value"] or "-", "set" if r["set"] else "default", r["help"]) for r in rows],
                   squeeze="MEANING")


@config.command("get")
def get(name: Name, as_json: Json = False) -> None:
    """Print a setting's value (its default when it was not set).

    Example: sdjobs config get retention
    """
    from ..core.settings import setting

    setting(name)
    store = state.store()
    row = _row(store, name, store.library_settings())
    if as_json:
        output.print_json(row)
    else:
        print(row["value"])


@config.command("set")
def set_(name: Name, value: Annotated[str, typer.Argument(metavar="VALUE", show_default=False)],
         as_json: Json = False) -> None:
    """Set a setting; a runner applies it within a minute.

    Examples:

      sdjobs config set retention 30d

      sdjobs config set retention-failed 90d
    """

    store = state.store()
    stored = store.put_library_setting(name, value)
    if as_json:
        output.print_json(_row(store, name, store.library_settings()))
    else:
        output.err(f"{name} = {stored}", style="green")


@config.command("unset")
def unset(name: Name, as_json: Json = False) -> None:
    """Put a setting back to its default.

    Example: sdjobs config unset retention
    """

    store = state.store()
    was = store.unset_library_setting(name)
    row = _row(store, name, store.library_settings())
    if as_json:
        output.print_json(row)
    else:
        output.err(f"{name} = {row['value'] or '(unset)'} (default)" + ("" if was else "; it was not set"),
                   style="green")
