"""thumbs: thumbnails of every image under some paths, as sidecars in the library.

Phases: discovery (walk the paths, count the images), render (walk again;
skip what is up to date, fan the rest out over the worker pool, one task per
image, see ``thumbs.worker``), done.

Sidecars live in the library's data folder, sharded by content identity
(``thumbs/ab/<cas_id>-<variant>.<fmt>``), so identical images share them.
``thumb_source`` remembers each file's (mtime, size, content id): a re-run
of an unchanged tree does no image work, and with ``--regenerate`` a resumed
job still skips what it already rendered itself.

Resume: results come back in walk order; after each one its rows are
committed and the checkpoint (walk position and counters) is written, so a
paused or killed job redoes at most the images that were in flight. Files
settled without the pool (up to date, shared, known failures) count only
once the tasks before them are recorded, so nothing is counted or reported
twice. Memory: one task is one image, decoded once; images that decode to
more than 25 Mpx take a library-wide lock, so two of them never decode at
the same time (``thumbs.worker``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections import deque
from typing import Any, Literal
from collections.abc import Iterator

from ...core.errors import BadInput, NotFound
from ...core.humanize import plural
from ...core.job import Job

Format = Literal["webp", "jpeg", "png"]
NAMED_VARIANTS = {"small": 128, "grid": 256, "grid@2x": 512, "detail": 1024}
MAX_PX = 8192
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._+-]{0,63}")
# Extensions that say "image": content that turns out not to be one is an
# error (mislabelled). Other files are thumbnailed when their first bytes are
# an image format Pillow reads, and skipped silently otherwise.
IMAGE_EXTS = frozenset(
    "jpg jpeg jpe jfif png apng gif webp bmp dib tif tiff ico ppm pgm pbm pnm pam tga qoi psd dds icns"
    " jp2 j2k jpx avif pcx sgi rgb rgba ras xbm".split())
SNIFFED_OK = frozenset({"JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "ICO", "PPM", "PSD", "QOI", "DDS", "ICNS"})
COMMIT_EVERY = 0.5  # seconds between commits of rows for images that needed no work


def parse_variant(text: str) -> tuple[str, int]:
    """'256' -> ('256', 256); 'grid' -> ('grid', 256); 'hero=1600' -> ('hero', 1600)."""
    text = text.strip()
    name, _, px = text.partition("=")
    if not px:
        if text in NAMED_VARIANTS:
            return text, NAMED_VARIANTS[text]
        name, px = text, text
    if not px.isdigit() or not 1 <= int(px) <= MAX_PX:
        raise BadInput(f"bad --size {text!r}: use pixels (1..{MAX_PX}), one of "
                       f"{', '.join(f'{k} ({v})' for k, v in NAMED_VARIANTS.items())}, or NAME=PIXELS")
    if not _NAME_RE.fullmatch(name):
        raise BadInput(f"bad variant name {name!r}: letters, digits and @._+- only")
    return name, int(px)


@dataclasses.dataclass
class ThumbsConfig:
    paths: list[str]
    sizes: list[str] = dataclasses.field(default_factory=lambda: ["256"])
    format: Format = "webp"
    quality: int = 80
    regenerate: bool = False
    freedesktop: bool = False


@dataclasses.dataclass
class ThumbsState:
    """The walk's position (``root``: index in ``paths``, ``after``: the last path done in it),
    the output so far, and the render phase's totals and progress."""

    out: dict[str, Any]
    root: int = 0
    after: str | None = None
    total: int = 0
    bytes_total: int = 0
    done: int = 0
    bytes_done: int = 0


class Thumbs(Job[ThumbsConfig]):
    name = "thumbs"
    version = 1
    description = "Thumbnails of every image under some paths, stored as sidecars in the library"
    preload = ("sdjobs.jobs.thumbs.worker",)  # Pillow and its format plugins

    @classmethod
    def prepare(cls, c: ThumbsConfig) -> ThumbsConfig:
        c.paths = _outermost([os.path.abspath(p) for p in c.paths])
        variants = dict(parse_variant(s) for s in (c.sizes or ["256"]))
        c.sizes = [f"{name}={px}" for name, px in variants.items()]
        return c

    @classmethod
    def validate(cls, c: ThumbsConfig) -> None:
        if not c.paths:
            raise BadInput("thumbs needs at least one path")
        for p in c.paths:
            if not os.path.lexists(p):
                raise NotFound(f"cannot thumbnail {p!r}: no such file or directory")
        if not 1 <= c.quality <= 100:
            raise BadInput(f"--quality must be 1..100, not {c.quality}")
        for s in c.sizes:
            parse_variant(s)

    @classmethod
    def summarize(cls, out: dict) -> str:
        text = (f"{plural(out['rendered'], 'image')} rendered"
                f" ({plural(out['thumbnails'], out['format'] + ' thumbnail')})")
        for key, label in (("up_to_date", "up to date"), ("shared", "shared with identical images"),
                           ("failed", "failed"), ("not_images", "non-images skipped"),
                           ("freedesktop", "freedesktop files")):
            if out.get(key):
                text += f", {out[key]:,} {label}"
        return text

    # -- run ---------------------------------------------------------------------
    def run(self, ctx):
        from . import worker  # Pillow, loaded before the pool forks

        c = self.config
        self.ctx, self.worker = ctx, worker
        self.data = ctx.library.data  # thumbnails and their sources (``store/data_plane.py``)
        self.data_dir = str(ctx.library.data_dir)
        self.variants = tuple(parse_variant(s) for s in c.sizes)
        self.fd_dirs = _freedesktop_dirs(self.variants) if c.freedesktop else ()
        state = ctx.load_state(ThumbsState)
        if state is None:
            state = ThumbsState(out=self._empty_out())
            ctx.phase("discovery", message="looking for images")
            state.total, state.bytes_total = self._discover()
            ctx.checkpoint(state, force=True)
        else:
            worker.sweep_temps(self.data_dir)
        self.state, self.out = state, state.out
        ctx.phase("render", total=state.total, unit="images", bytes_total=state.bytes_total or None)
        ctx.progress(done=state.done, bytes_done=state.bytes_done)
        # One entry per task in the pool, in walk order: [its (root, path), then what was decided
        # without the pool after it: last (root, path), counters, rows, errors]. Those count only
        # once the task before them is recorded, so the checkpoint never covers more than it says.
        self.pending: deque = deque()
        self.position = (state.root, state.after)
        self.rows_src: list[tuple] = []
        self.rows_thumb: list[tuple] = []
        self.last_commit = time.monotonic()
        try:
            for outcome in ctx.map(worker.run, self._tasks(), chunksize=1):
                where, *after = self.pending.popleft()
                self._record(outcome, where)
                if after[0] is not None:
                    self._apply(*after)
                self._commit()
                ctx.check_interrupt()
        except BaseException:
            self._commit()
            raise
        self.position = (len(c.paths), None)
        self._commit()
        ctx.phase("done", message="finished")
        if self.out["failed"] and not ctx.errors:
            # Reported before a pause or crash; this run's counters started again.
            ctx.error(f"{self.out['failed']} image(s) could not be thumbnailed (reported before the job resumed)")
        return self.out

    def _empty_out(self) -> dict:
        return {"images": 0, "rendered": 0, "up_to_date": 0, "shared": 0, "failed": 0, "not_images": 0,
                "thumbnails": 0, "freedesktop": 0, "format": self.config.format,
                "variants": [s for s in self.config.sizes]}

    # -- walking -----------------------------------------------------------------
    def _entries(self, start_root: int = 0, after: str | None = None, *,
                 report: bool = True) -> Iterator[tuple[int, str, int, int]]:
        """(root index, path, size, mtime_ns) of every regular file, in walk order.
        Errors (unreadable folders) are reported by the render walk only."""
        from ...fs.walker import walk

        skip = (os.path.join(self.data_dir, ""), os.path.join(_fd_root(), ""))
        for i in range(start_root, len(self.config.paths)):
            root = self.config.paths[i]
            start = after if i == start_root else None
            try:
                st = os.stat(root)
            except OSError as exc:
                if report:
                    self.ctx.error(exc, path=root)
                continue
            if not os.path.isdir(root):
                if start is None and os.path.isfile(root):
                    yield i, root, st.st_size, st.st_mtime_ns
                continue
            for e in walk(root, start_after=start, on_error=self._walk_error if report else None):
                if e.kind == "file" and not e.path.startswith(skip):
                    yield i, e.path, e.size, e.mtime_ns

    def _walk_error(self, path: str, exc: BaseException) -> None:
        self.ctx.error(exc, path=path)

    def _classify(self, path: str) -> str | None:
        """'named' (extension says image), 'sniffed' (content says image) or None."""
        ext = os.path.splitext(path)[1][1:].lower()
        if ext in IMAGE_EXTS:
            return "named"
        from ...imaging.probe import sniff_format

        try:
            with open(path, "rb") as f:
                head = f.read(32)
        except OSError:
            return None
        return "sniffed" if sniff_format(head) in SNIFFED_OK else None

    def _discover(self) -> tuple[int, int]:
        n = size = 0
        for _i, path, fsize, _m in self._entries(report=False):
            if self._classify(path):
                n += 1
                size += fsize
                if n % 500 == 0:
                    self.ctx.progress(message=f"found {n:,} images")
                    self.ctx.check_interrupt()
        return n, size

    # -- deciding what needs work ----------------------------------------------------
    def _tasks(self) -> Iterator:
        c, ctx, worker = self.config, self.ctx, self.worker
        indexed = _IndexLookup(self.data)
        root, after = self.state.root, self.state.after
        for i, path, size, mtime_ns in self._entries(root, after):
            where = (i, path)
            kind = self._classify(path)
            if kind is None:
                self._done(where, {"not_images": 1})
                continue
            cas = self._without_work(where, size, mtime_ns)
            if cas is True:
                continue
            if cas is None:
                cas = indexed.cas_id(path, size, mtime_ns)
                if cas and self._shared(where, cas, size, mtime_ns):
                    continue
            self.pending.append([where, None, {}, [], []])
            yield worker.Task(path, mtime_ns, size, cas, self.variants, c.format, c.quality, self.data_dir,
                              c.regenerate, self.fd_dirs, _version(), kind == "named")
            ctx.check_interrupt()

    def _without_work(self, where: tuple[int, str], size: int, mtime_ns: int) -> bool | str | None:
        """True when the image needs nothing (and is counted); else its known
        content id, or None."""
        path = where[1]
        row = self.data.thumb_source(path)
        if row is None or (row.mtime_ns, row.size) != (mtime_ns, size):
            return None
        mine = row.job_id == self.ctx.job_id  # recorded by this job just before a crash (see _commit)
        if self.config.regenerate and not mine:
            return row.cas_id
        seen = {"images": 1, "done": 1, "bytes_done": size}
        if row.status == "not-image":
            self._done(where, {"not_images": 1, "done": 1, "bytes_done": size})
            return True
        if row.status == "failed":
            why = row.error if mine else f"{row.error} (unchanged since it failed in job {row.job_id})"
            self._done(where, {**seen, "failed": 1}, errors=[(path, why)])
            if self.fd_dirs and not self._fd.has_current_failure(path, _version()):
                try:
                    self._fd.write_failure(path, mtime_ns / 1e9, _version())
                    self._done(where, {"freedesktop": 1})
                except (OSError, ValueError) as exc:
                    self.ctx.warn(f"freedesktop fail entry not written: {exc}", path=path)
            return True
        if row.cas_id and self._have_thumbs(row.cas_id) and self._fd_current(path):
            self._done(where, {**seen, "rendered": 1, "thumbnails": len(self.variants)} if mine
                       else {**seen, "up_to_date": 1})
            return True
        return row.cas_id

    def _shared(self, where: tuple[int, str], cas: str, size: int, mtime_ns: int) -> bool:
        """Identical content already has its thumbnails: just remember the name."""
        if self.config.regenerate or not self._have_thumbs(cas) or not self._fd_current(where[1]):
            return False
        self._done(where, {"images": 1, "shared": 1, "done": 1, "bytes_done": size},
                   rows=[(where[1], cas, mtime_ns, size, "ok", None, self.ctx.job_id)])
        return True

    def _have_thumbs(self, cas: str) -> bool:
        have = self.data.thumbs_of(cas, self.config.format)
        for name, _px in self.variants:
            row = have.get(name)
            if row is None or not os.path.exists(os.path.join(self.data_dir, row.path)):
                return False
        return True

    def _fd_current(self, path: str) -> bool:
        return all(self._fd.is_up_to_date(path, d) for d in self.fd_dirs)

    @property
    def _fd(self):
        from ...imaging import freedesktop

        return freedesktop

    # -- recording --------------------------------------------------------------------
    def _done(self, where: tuple[int, str], counts: dict, rows: list | None = None,
              errors: list | None = None) -> None:
        """A file dealt with here, without the pool: it counts now, or, if a
        task before it is still in the pool, once that task is recorded."""
        if self.pending:
            entry = self.pending[-1]
            entry[1] = where
            for key, n in counts.items():
                entry[2][key] = entry[2].get(key, 0) + n
            entry[3] += rows or []
            entry[4] += errors or []
            return
        self._apply(where, counts, rows or [], errors or [])
        if time.monotonic() - self.last_commit >= COMMIT_EVERY:
            self._commit()
            self.ctx.check_interrupt()

    def _apply(self, where: tuple[int, str], counts: dict, rows: list, errors: list) -> None:
        for key, n in counts.items():
            if key in ("done", "bytes_done"):
                setattr(self.state, key, getattr(self.state, key) + n)
            else:
                self.out[key] += n
        for path, why in errors:
            self.ctx.error(why, path=path)
        self.rows_src += rows
        self.position = where
        self.ctx.progress(done=self.state.done, bytes_done=self.state.bytes_done)

    def _record(self, o, where: tuple[int, str]) -> None:
        job_id = self.ctx.job_id
        counts = {"images": 1, "done": 1, "bytes_done": o.size, "freedesktop": o.fd_written}
        if o.kind in ("rendered", "existed"):
            self.rows_src.append((o.path, o.cas_id, o.mtime_ns, o.size, "ok", None, job_id))
            self.rows_thumb += [(o.cas_id, name, px, self.config.format, w, h, rel)
                                for name, px, w, h, rel in o.thumbs]
            if o.kind == "rendered":
                counts.update(rendered=1, thumbnails=len(o.thumbs))
                self.ctx.add_items(1)
                self.ctx.add_bytes(o.size)
            else:
                counts["shared"] = 1
        elif o.kind == "not-image":
            counts.update(images=0, not_images=1)
            self.rows_src.append((o.path, o.cas_id, o.mtime_ns, o.size, "not-image", o.reason, job_id))
        else:
            counts["failed"] = 1
            if o.kind == "failed":  # unreadable or vanished files are not remembered: tried again next time
                self.rows_src.append((o.path, o.cas_id, o.mtime_ns, o.size, "failed", o.reason, job_id))
        self._apply(where, counts, [], [(o.path, o.reason)] if counts.get("failed") else [])
        self.ctx.progress(path=o.path)

    def _commit(self) -> None:
        """The rows and the position that covers them, in one transaction
        (one commit per result instead of two). ``mine`` in ``_without_work``
        still covers rows recorded by a run whose checkpoint was lost."""
        with self.data.atomic():
            self.data.record_thumbs(self.rows_src, self.rows_thumb)
            self.state.root, self.state.after = self.position
            self.ctx.checkpoint(self.state, force=True)
        self.rows_src, self.rows_thumb = [], []
        self.last_commit = time.monotonic()

    def on_cancel(self, ctx) -> None:
        from . import worker
        worker.sweep_temps(str(ctx.library.data_dir))


class _IndexLookup:
    """The indexer's content id for a file it saw with the same size and mtime."""

    def __init__(self, data) -> None:
        self.data = data
        self.any = data.has_locations()

    def cas_id(self, path: str, size: int, mtime_ns: int) -> str | None:
        if not self.any:
            return None
        e = self.data.entry_at(path)
        if e is None or e.cas_id is None or (e.size, e.mtime_ns) != (size, mtime_ns):
            return None
        return e.cas_id


def _freedesktop_dirs(variants) -> tuple[str, ...]:
    """normal (128) and large (256) always; x-large and xx-large when a
    requested size reaches 512 / 1024."""
    largest = max(px for _, px in variants)
    return tuple(d for d, px in (("normal", 128), ("large", 256), ("x-large", 512), ("xx-large", 1024))
                 if px <= max(largest, 256))


def _outermost(paths: list[str]) -> list[str]:
    """Drop repeated paths and paths inside another one (walked once)."""
    out: list[str] = []
    for p in paths:
        if p not in out and not any(p.startswith(q.rstrip("/") + "/") for q in paths if q != p):
            out.append(p)
    return out


def _fd_root() -> str:
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = cache if cache and os.path.isabs(cache) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "thumbnails")


def _version() -> str:
    from ... import __version__

    return __version__
