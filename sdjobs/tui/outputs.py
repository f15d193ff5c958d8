"""A finished job's output as rich renderables.

Any dict or list is rendered generically (key/value grids, tables for lists
of records). Two shapes get their own view whatever the job type: ``groups``
(duplicate groups: size, then the paths) and ``issues`` (validation issues,
sorted by severity). Big outputs are cut with a note on how to see them all.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from . import format as fmt

MAX_GROUPS = 200
MAX_ROWS = 500
MAX_PATHS_PER_GROUP = 20
SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
SEVERITY_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "cyan"}
PATH_KEYS = ("path", "file", "src", "dst", "source", "destination")
MEMBER_KEYS = ("paths", "files", "members", "items")


def render_output(job_type: str, output: Any, job_id: int | None = None) -> RenderableType:
    more = f"sdjobs jobs show {job_id} --json" if job_id else "sdjobs jobs show ID --json"
    parts: list[RenderableType] = []
    if isinstance(output, dict):
        rest = dict(output)
        groups, issues = rest.pop("groups", None), rest.pop("issues", None)
        if rest:
            parts.append(mapping_table(rest))
        if isinstance(groups, list):
            parts += [Text(""), _groups(groups, more)]
        elif groups is not None:
            parts.append(mapping_table({"groups": groups}))
        if isinstance(issues, list):
            parts += [Text(""), _issues(issues, more)]
        elif issues is not None:
            parts.append(mapping_table({"issues": issues}))
    elif isinstance(output, list):
        parts.append(_list(output, more))
    elif output is None:
        parts.append(Text("no output", style="dim"))
    else:
        parts.append(Text(scalar(output)))
    return Group(*parts)


def scalar(value: Any, key: str = "") -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return fmt.short_path(value, 400) if key in PATH_KEYS or value.startswith("/") else fmt.safe(value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int) and ("bytes" in key or key in ("size", "wasted", "freed")):
        return f"{value:,} ({fmt.human_bytes(value)})" if value >= 1000 else f"{value} B"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def _value(value: Any, key: str, more: str) -> RenderableType:
    if isinstance(value, dict):
        return mapping_table(value)
    if isinstance(value, list):
        return _list(value, more, key=key)
    return Text(scalar(value, key))


def mapping_table(d: dict) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in d.items():
        grid.add_row(str(key), _value(value, str(key), ""))
    return grid


def _list(items: list, more: str, key: str = "") -> RenderableType:
    if not items:
        return Text("none", style="dim")
    if all(isinstance(i, dict) for i in items):
        return _records(items, more)
    if all(not isinstance(i, (dict, list)) for i in items):
        shown = [scalar(i, key) for i in items[:MAX_ROWS]]
        text = Text("\n".join(shown) if any(len(s) > 30 for s in shown) else ", ".join(shown))
        return Group(text, *_cut(len(items), MAX_ROWS, more))
    return Group(*[_value(i, key, more) for i in items[:MAX_ROWS]], *_cut(len(items), MAX_ROWS, more))


def _records(items: list[dict], more: str) -> RenderableType:
    columns: list[str] = []
    for item in items[:MAX_ROWS]:
        columns += [str(k) for k in item if str(k) not in columns]
    columns.sort(key=lambda c: (c not in PATH_KEYS, 0))
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for c in columns:
        table.add_column(c.upper(), overflow="fold")
    for item in items[:MAX_ROWS]:
        table.add_row(*[Text(_cell(item.get(c), c)) for c in columns])
    return Group(table, *_cut(len(items), MAX_ROWS, more))


def _cell(value: Any, key: str) -> str:
    if isinstance(value, (dict, list)):
        return ", ".join(scalar(v, key) for v in (value.values() if isinstance(value, dict) else value))
    return "" if value is None else scalar(value, key)


def _cut(total: int, shown: int, more: str) -> list[Text]:
    if total <= shown:
        return []
    return [Text(f"… and {total - shown:,} more (all of them: {more})", style="dim italic")]


def _members(group: Any) -> tuple[list, dict]:
    """A duplicate group's paths and its other fields, whatever its shape."""
    if isinstance(group, list):
        return group, {}
    if isinstance(group, dict):
        for key in MEMBER_KEYS:
            if isinstance(group.get(key), list):
                return group[key], {k: v for k, v in group.items() if k != key}
        return [], group
    return [group], {}


def _groups(groups: list, more: str) -> RenderableType:
    wasted_total = 0
    parts: list[RenderableType] = []
    for n, group in enumerate(groups[:MAX_GROUPS], 1):
        members, info = _members(group)
        size = info.get("size")
        head = Text(f"group {n}", style="bold")
        head.append(f" · {fmt.count(len(members), 'file')}")
        if isinstance(size, (int, float)):
            head.append(f" · {fmt.human_bytes(size)} each")
            wasted = info.get("wasted", size * max(0, len(members) - 1))
            if isinstance(wasted, (int, float)):
                head.append(f" · {fmt.human_bytes(wasted)} wasted", style="yellow")
        extra = {k: v for k, v in info.items() if k not in ("size", "wasted")}
        if extra:
            head.append(" · " + ", ".join(f"{k} {_cell(v, k)}" for k, v in extra.items()), style="dim")
        parts.append(head)
        for m in members[:MAX_PATHS_PER_GROUP]:
            path = m.get("path") if isinstance(m, dict) else m
            parts.append(Text("  " + scalar(path, "path")))
        if len(members) > MAX_PATHS_PER_GROUP:
            parts.append(Text(f"  … and {len(members) - MAX_PATHS_PER_GROUP} more", style="dim"))
    for group in groups:
        members, info = _members(group)
        size = info.get("size")
        if isinstance(size, (int, float)):
            wasted = info.get("wasted", size * max(0, len(members) - 1))
            wasted_total += wasted if isinstance(wasted, (int, float)) else 0
    title = Text(f"{len(groups):,} duplicate groups", style="bold underline")
    if wasted_total:
        title.append(f" · {fmt.human_bytes(wasted_total)} wasted in all", style="bold yellow")
    return Group(title, *parts, *_cut(len(groups), MAX_GROUPS, more))


def _issues(issues: list, more: str) -> RenderableType:
    def rank(issue: Any) -> tuple:
        sev = str(issue.get("severity", "")) if isinstance(issue, dict) else ""
        return (SEVERITY_ORDER.get(sev, 9),)

    ordered = sorted(issues, key=rank)
    counts: dict[str, int] = {}
    for issue in issues:
        sev = str(issue.get("severity", "issue")) if isinstance(issue, dict) else "issue"
        counts[sev] = counts.get(sev, 0) + 1
    title = Text(f"{len(issues):,} issues", style="bold underline")
    if counts:
        title.append("  " + " · ".join(f"{n} {s}" for s, n in sorted(counts.items(),
                                                                     key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))))
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for col in ("SEVERITY", "KIND", "PATH", "DETAIL"):
        table.add_column(col, overflow="fold", no_wrap=col in ("SEVERITY", "KIND"))
    for issue in ordered[:MAX_ROWS]:
        if not isinstance(issue, dict):
            table.add_row("", "", "", Text(scalar(issue)))
            continue
        sev = str(issue.get("severity", ""))
        detail = [str(issue[k]) for k in ("message", "detail") if issue.get(k)]
        action = issue.get("action") or issue.get("suggested_action") or issue.get("suggestion")
        if action:
            detail.append(f"→ {action}")
        others = {k: v for k, v in issue.items() if k not in ("severity", "kind", "path", "message", "detail",
                                                              "action", "suggested_action", "suggestion")}
        detail += [f"{k}: {_cell(v, k)}" for k, v in others.items()]
        table.add_row(Text(sev, style=SEVERITY_STYLE.get(sev, "")), fmt.plain(issue.get("kind", "")),
                      Text(scalar(issue.get("path", ""), "path")), fmt.plain(" ".join(detail)))
    return Group(title, table, *_cut(len(issues), MAX_ROWS, more))
