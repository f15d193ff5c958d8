"""A job's result: its output when it finished, its error when it failed."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from ..model import FINISHED_NAMES
from ..outputs import render_output


class OutputView(Static):
    """Rendered once per change of status: outputs can be large."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key: tuple | None = None

    def show(self, job_id: int, job_type: str, status: str, output: Any, error: str | None,
             summary: str | None = None) -> None:
        key = (job_id, status, error, summary)
        if key == self._key:
            return
        self._key = key
        if status not in FINISHED_NAMES:
            self.update(Text(f"The output appears here when the job finishes (it is {status}).", style="dim"))
            return
        parts = []
        if error:
            parts += [Text("error: ", style="bold red") + Text(error), Text("")]
        if summary:
            parts += [Text(summary, style="bold"), Text("")]
        try:
            parts.append(render_output(job_type, output, job_id))
        except Exception as exc:  # noqa: BLE001 - an output of a shape nobody foresaw: say so, show it raw
            parts += [Text(f"(could not lay this output out: {exc})", style="dim"), Text(repr(output)[:20000])]
        self.update(Group(*parts))
