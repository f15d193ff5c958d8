"""One job in full: progress, metrics, context, issues, the live log and the output."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from .. import format as fmt
from ..model import DetailData, Results
from ..sections import sections
from ..widgets.info_panel import InfoPanel
from ..widgets.issue_list import IssueList
from ..widgets.log_tail import LogTail
from ..widgets.output_view import OutputView
from ..widgets.result_table import ResultColumn, ResultTable

TABS = ("overview", "issues", "log", "output")


class DetailScreen(Screen):
    """Follows one job; the app's watcher feeds it ``DetailData`` while it is open."""

    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("1", "tab('overview')", "Overview", show=False),
        Binding("2", "tab('issues')", "Issues", show=False),
        Binding("3", "tab('log')", "Log", show=False),
        Binding("4", "tab('output')", "Output", show=False),
        Binding("y", "copy", "Copy path", show=False),
        Binding("o", "open_path", "Open path", show=False),
        Binding("v", "pager", "All in pager", show=False),
    ]

    def __init__(self, job_id: int, tab: str = "overview") -> None:
        super().__init__()
        self.job_id = job_id
        self.initial_tab = tab
        self.data: DetailData | None = None
        self.loaded = False
        self._early: list[DetailData] = []   # loads that came before the screen was composed
        self._result_rows: dict[str, tuple[dict, ...]] = {}  # per tab: the result rows as stored

    def compose(self) -> ComposeResult:
        yield Static(Text(f"job {self.job_id}", style="bold"), id="detail-title")
        with TabbedContent(initial=self.initial_tab, id="detail-tabs"):
            with TabPane("Overview", id="overview"):
                with VerticalScroll(id="overview-scroll"):
                    yield InfoPanel(id="info")
            with TabPane("Issues", id="issues"):
                yield Static("", id="issues-note")
                yield IssueList(id="issue-list")
                yield ResultTable(id="issue-results", classes="results")
            with TabPane("Log", id="log"):
                yield LogTail(id="log-tail")
            with TabPane("Output", id="output"):
                yield ResultTable(id="output-results", classes="results")
                with VerticalScroll(id="output-scroll"):
                    yield OutputView(id="output-view")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.follow_job(self.job_id)
        self._focus_tab(self.initial_tab)
        early, self._early = self._early, []
        for d in early:
            self.apply(d)

    FOCUS = {"overview": "#overview-scroll", "issues": "#issue-list", "log": "#log-tail", "output": "#output-scroll"}

    def _focus_tab(self, tab: str) -> None:
        """The keys act where the eye is: ↑/↓/PgUp/PgDn scroll the tab shown."""
        selector = self.FOCUS.get(tab)
        if tab == "issues" and self.query_one("#issue-results").display:
            selector = "#issue-results"
        if tab == "output" and self.query_one("#output-results").display:
            selector = "#output-results"
        if selector:
            self.query_one(selector).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id or "")
        self.query_one("#info", InfoPanel).set_showing(event.pane.id == "overview")

    def show_results(self, tab: str, columns: list[ResultColumn], rows, note: str | None = None) -> ResultTable:
        """Show a job's results (rows of ``sdjobs jobs output``) as a table in the Issues or Output tab.

        ``rows`` is any iterator of mappings by column key; the first ResultTable.limit are taken."""
        table = self.query_one("#issue-results" if tab == "issues" else "#output-results", ResultTable)
        table.display = True
        if tab == "issues":
            self.query_one("#issue-list").display = False
        else:
            self.query_one("#output-scroll").display = False
        table.load(columns, rows)
        if note is not None and tab == "issues":
            self.query_one("#issues-note", Static).update(Text(note, style="bold"))
        if self.query_one(TabbedContent).active == tab:
            table.focus()
        return table

    def selected_path(self) -> str | None:
        """The path of the result row under the cursor in the tab shown (a group's first), if any."""
        tab = self.query_one(TabbedContent).active
        rows = self._result_rows.get(tab)
        if not rows:
            return None
        table = self.query_one("#issue-results" if tab == "issues" else "#output-results", ResultTable)
        if not 0 <= table.cursor_row < len(rows):
            return None
        row = rows[table.cursor_row]
        for key in ("path", "keep", "src", "dst", "paths"):
            value = row.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, str) and value:
                return value
        return None

    def action_copy(self) -> None:
        """The selected path, or else the job id, to the terminal's clipboard (OSC 52)."""
        text = self.selected_path() or str(self.job_id)
        self.app.copy_to_clipboard(text)
        self.app.notify(f"Copied {fmt.safe(text)}", timeout=3)

    def action_open_path(self) -> None:
        path = self.selected_path()
        if path is None:
            self.app.notify("No path selected: the Issues or Output tab lists them", severity="warning", timeout=3)
            return
        self._suspended([*_pager(), path])

    def action_pager(self) -> None:
        """The whole result (`sdjobs jobs output`) in $PAGER."""
        import sys

        self._suspended([sys.executable, "-m", "sdjobs", "--library", self.app.library_name, "jobs", "output",
                         str(self.job_id)])

    def _suspended(self, argv: list[str]) -> None:
        import subprocess

        try:
            with self.app.suspend():
                subprocess.run(argv)
        except Exception as exc:  # noqa: BLE001 - no terminal to hand over (a headless run), or no such program
            self.app.notify(f"Cannot run {argv[0]}: {exc}", severity="error", timeout=5)

    def on_unmount(self) -> None:
        self.app.follow_job(None)
        self.app.call_later(self.app.table_shown_again)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def apply(self, d: DetailData) -> None:
        """Show a load; events in it are new ones unless ``d.reset``."""
        if d.job_id != self.job_id:
            return
        if not self.is_mounted:
            self._early.append(d)  # events are incremental: none may be lost
            return
        try:
            self._apply(d)
        except NoMatches:  # the screen is being taken down (the app closes): nothing left to show it on
            pass

    def _apply(self, d: DetailData) -> None:
        self.data = d
        self.loaded = True
        title = self.query_one("#detail-title", Static)
        if d.gone:
            title.update(Text(f"job {self.job_id} is no longer in the library (pruned?)", style="bold red"))
            return
        # each part is drawn again only when it changed (a running job writes 4 times a second)
        v = d.view
        head = Text(f"job {d.job_id}", style="bold")
        if v is not None:
            head.append(f" · {v.type} · ")
            head.append_text(fmt.status_text(v.status, v.control))
            if v.fraction is not None and v.active:
                head.append(f" · {v.fraction * 100:.0f}%")
            if v.phase and v.active:
                head.append(f" · {v.phase}")
            if v.reason:
                head.append(f" · {v.reason}", style="bold" if v.status == "failed" else "")
        self._set(title, head)
        self.query_one("#info", InfoPanel).show(sections(d, self.app.now()))
        issues = self.query_one("#issue-list", IssueList)
        issues.add(d.issues, reset=d.reset)
        self.query_one("#log-tail", LogTail).add(d.events, reset=d.reset)
        rec = d.record
        if rec is not None and not self.query_one("#issue-results").display:
            total = rec.warnings + rec.errors
            note = Text(f"{_count(rec.warnings, 'warning')}, {_count(rec.errors, 'error')}", style="bold")
            if total > issues.count:
                note.append(f" · the newest {issues.count:,} are listed;"
                            f" all of them: sdjobs jobs show {rec.id} --json", style="dim")
            self._set(self.query_one("#issues-note", Static), note)
            label = f"Issues ({total})" if total else "Issues"
            tab = self.query_one(TabbedContent).get_tab("issues")
            if str(tab.label) != label:
                tab.label = label
        if rec is not None:
            self.query_one("#output-view", OutputView).show(rec.id, rec.type, rec.status, rec.output, rec.error,
                                                            d.summary)
        if d.results is not None and d.results.rows:
            self._show_job_results(d.job_id, d.results)

    def _show_job_results(self, job_id: int, res: Results) -> None:
        """A finished job's result rows where the eye goes: a validate job's issues in Issues,
        any other result (a dupes job's groups, a plugin's rows) in Output."""
        tab = "issues" if res.name == "issues" else "output"
        self._result_rows[tab] = res.rows
        rows = [{k: _cell(v) for k, v in r.items()} for r in res.rows]
        more = f", the first {len(rows):,} listed" if res.count > len(rows) else ""
        self.show_results(tab, [_column(k) for k in res.columns], rows,
                          note=f"{res.count:,} {res.name}{more}; all of them: sdjobs jobs output {job_id}")


    def _set(self, widget: Static, text: Text) -> None:
        """Update a one-line Static when its text changed (its height does not change: no layout)."""
        if getattr(widget, "_shown", None) != text:
            widget._shown = text
            widget.update(text, layout=False)


_count = fmt.count
PATH_KEYS = ("path", "paths", "keep", "act", "dst", "src")
NUMBER_KEYS = ("size", "wasted", "bytes", "count", "files")


def _pager() -> list[str]:
    import os
    import shlex

    return shlex.split(os.environ.get("SDJOBS_PAGER") or os.environ.get("PAGER") or "less -FRX")


def _column(key: str) -> ResultColumn:
    """How a result's column shows: paths cut from the left, severities styled, numbers to the right."""
    kind = "path" if key in PATH_KEYS else "severity" if key == "severity" else \
        "number" if key in NUMBER_KEYS else "text"
    return ResultColumn(key, key.upper(), kind)


def _cell(value):
    if isinstance(value, list):  # a dupes group's paths: all of them, the last one's name in view
        return "  ".join(map(str, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else value
