"""``sdjobs run TYPE``: submit any registered job type; ``sdjobs types``: what is registered."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from ..core.errors import BadInput, shown
from . import output
from .submit import After, Detach, Json, MaxWorkers, On, Priority, run_job


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("types")(types)


def run(
    job_type: Annotated[str, typer.Argument(metavar="TYPE", show_default=False,
                                            help="A job type, built in or from a plugin (see `sdjobs types`).")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", "-s", metavar="KEY=VALUE",
        help="Set a config field (repeatable). Lists: a,b,c or the key repeated; JSON for [..] and {..}.")] = None,
    config_file: Annotated[str | None, typer.Option(
        "--config", "-c", metavar="FILE", help="A JSON object of config fields ('-' reads stdin); --set wins.")] = None,
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Submit a job of any registered type, its config checked against the type's fields.

    Examples:

      sdjobs run copy --set sources=/data/a --set dest=/mnt/b

      sdjobs run linecount --set paths=~/src --detach

      sdjobs run copy --config copy.json --after 12
    """
    from ..core import registry
    from ..core.fields import build_config

    cls = registry.find(job_type)
    if cls is None:
        known = ", ".join(registry.all_types()) or "none"
        raise BadInput(f"unknown job type {shown(job_type)} (known: {known}; see `sdjobs types`)")
    data = _read_config(config_file) if config_file else {}
    data.update(parse_sets(set_ or [], {f.name: f for f in _fields(cls)}))
    try:
        config = build_config(cls.Config, data)
    except BadInput as exc:
        raise BadInput(f"{job_type}: {exc} (see `sdjobs types {job_type}`)") from None
    run_job(job_type, config, detach=detach, priority=priority, as_json=as_json, after=after,
            max_workers=max_workers, inputs=data)


def _fields(cls) -> list:
    from ..core.fields import fields_of

    return fields_of(cls.Config)


def _read_config(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise BadInput(f"--config {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"--config {path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"--config {path}: expected a JSON object of config fields, got {type(data).__name__}")
    return data


def parse_sets(items: list[str], fields: dict) -> dict[str, Any]:
    """``KEY=VALUE`` strings into a dict; a key given twice becomes a list."""
    data: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise BadInput(f"--set needs KEY=VALUE, got {shown(item)}")
        parsed: Any = value
        if value[:1] in ("[", "{") and key in fields and fields[key].type is not str:
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                raise BadInput(f"--set {key}: not valid JSON: {exc}") from None
        if key in data:
            prev = data[key]
            data[key] = (prev if isinstance(prev, list) else _as_list(prev)) + _as_list(parsed)
        else:
            data[key] = parsed
    return data


def _as_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v for v in value.split(",") if v != ""]
    return [value]


def types(
    name: Annotated[str | None, typer.Argument(metavar="[TYPE]", help="Show only this type.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List the registered job types (built in and from plugins) with their config fields.

    Examples:

      sdjobs types

      sdjobs types copy --json
    """
    from ..core import registry

    found = registry.all_types()
    if name is not None:
        if name not in found:
            raise BadInput(f"unknown job type {name!r} (known: {', '.join(found) or 'none'})")
        found = {name: found[name]}
    rows = [describe(cls) for cls in found.values()]
    if as_json:
        output.print_json(rows)
    else:
        _print_types(rows)
    for problem in registry.plugin_errors:
        output.err(f"warning: {problem}", style="yellow")


def describe(cls) -> dict[str, Any]:
    module = cls.__module__
    return {
        "name": cls.name, "version": cls.version, "resumable": cls.resumable, "description": cls.description,
        "source": "built-in" if module.startswith("sdjobs.jobs.") else module,
        "fields": [{"name": f.name, "type": f.type_name, "required": f.required,
                    "default": None if f.required else _plain(f.default), "help": f.help}
                   for f in _fields(cls)],
    }


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _print_types(rows: list[dict]) -> None:
    out = sys.stdout.write
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        extra = "" if r["resumable"] else ", not resumable"
        source = "" if r["source"] == "built-in" else f", from {r['source']}"
        out(f"{r['name']:<{width}}  {r['description']}  (v{r['version']}{extra}{source})\n")
        fw = max((len(f["name"]) for f in r["fields"]), default=0)
        tw = max((len(f["type"]) for f in r["fields"]), default=0)
        for f in r["fields"]:
            default = "required" if f["required"] else f"default {json.dumps(f['default'])}"
            help_ = f"  {f['help']}" if f["help"] else ""
            out(f"{'':<{width}}  --set {f['name']:<{fw}}  {f['type']:<{tw}}  {default}{help_}\n")
        if not r["fields"]:
            out(f"{'':<{width}}  (no config fields)\n")
