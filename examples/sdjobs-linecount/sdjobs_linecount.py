"""linecount: count lines of code by language, as a resumable sdjobs job."""

import dataclasses
import os
import time
from typing import Any

from sdjobs.api import Job, JobContext, NotFound, setting

LANGUAGES = {".py": "Python", ".c": "C", ".h": "C", ".rs": "Rust", ".go": "Go", ".js": "JavaScript",
             ".ts": "TypeScript", ".sh": "Shell", ".java": "Java", ".rb": "Ruby", ".md": "Markdown"}


def count_lines(path: str) -> tuple[str, int, int, str | None]:
    """Runs in a worker process: (path, lines, bytes, error)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return path, 0, 0, exc.strerror
    return path, data.count(b"\n"), len(data), None


@dataclasses.dataclass
class LinecountConfig:
    paths: list[str]
    pace: float = setting(0.0, help="seconds to rest after each file, to stay gentle on a busy disk")


@dataclasses.dataclass
class LinecountState:
    next: int = 0  # files[:next] are counted in lines
    lines: dict[str, int] = dataclasses.field(default_factory=dict)


class Linecount(Job[LinecountConfig]):
    name = "linecount"
    version = 1
    description = "Count lines of code by language"

    @classmethod
    def prepare(cls, c: LinecountConfig) -> LinecountConfig:
        c.paths = [os.path.abspath(os.path.expanduser(p)) for p in c.paths]  # resolved in the user's shell
        return c

    @classmethod
    def validate(cls, c: LinecountConfig) -> None:
        for p in c.paths:
            if not os.path.isdir(p):
                raise NotFound(f"linecount: {p} is not a directory")

    def run(self, ctx: JobContext) -> dict[str, Any]:
        ctx.phase("scan", message="listing source files")
        files = sorted(os.path.join(d, n) for root in self.config.paths for d, _, names in os.walk(root)
                       for n in names if os.path.splitext(n)[1] in LANGUAGES)
        state = ctx.load_state(LinecountState) or LinecountState()
        ctx.phase("count", total=len(files), unit="files")
        for path, lines, size, error in ctx.map(count_lines, files[state.next:], chunksize=16):
            if error:
                ctx.error(error, path=path)  # non-critical: recorded, and the count goes on
            lang = LANGUAGES[os.path.splitext(path)[1]]
            state.lines[lang] = state.lines.get(lang, 0) + lines
            state.next += 1
            ctx.add_items(1)
            ctx.add_bytes(size)
            ctx.progress(done=state.next, path=path, fields={"lines": sum(state.lines.values())})
            ctx.checkpoint(state)  # cheap: written every ~2 s and whenever the job stops
            ctx.check_interrupt()  # pause, cancel and shutdown take effect here
            time.sleep(self.config.pace)
        return {"files": len(files), "lines": dict(sorted(state.lines.items()))}

    @classmethod
    def summarize(cls, out: Any) -> str:
        return f"{sum(out['lines'].values()):,} lines in {out['files']:,} files: " + ", ".join(
            f"{lang} {n:,}" for lang, n in sorted(out["lines"].items(), key=lambda kv: -kv[1]))
