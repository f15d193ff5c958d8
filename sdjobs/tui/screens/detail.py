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
from ..model import DetailData
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
    ]

    def __init__(self, job_id: int, tab: str = "overview") -> None:
        super().__init__()
        self.job_id = job_id
        self.initial_tab = tab
        self.data: DetailData | None = None
        self.loaded = False
        self._early: list[DetailData] = []   # loads that came before the screen was composed

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


    def _set(self, widget: Static, text: Text) -> None:
        """Update a one-line Static when its text changed (its height does not change: no layout)."""
        if getattr(widget, "_shown", None) != text:
            widget._shown = text
            widget.update(text, layout=False)


_count = fmt.count
