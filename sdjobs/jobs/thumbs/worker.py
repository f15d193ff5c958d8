"""The thumbs job's work on one image, run in a worker process (``ctx.map``).

Imported by the job process just before its pool forks, so the workers
inherit Pillow and its plugins already loaded (Pillow otherwise imports every
plugin, ~0.2 s, in each worker on its first WebP save). Not imported by the
CLI: the leading underscore keeps the job registry from loading it.

One task is one source image: stat it, take or compute its content id, and
unless every sidecar already exists, decode it once (``render_variants``) and
write all its variants (and, with ``--freedesktop``, the freedesktop.org
thumbnails) from that one decode. Never raises for a bad image: the outcome
is a plain tuple the job records.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
from typing import NamedTuple

from PIL import Image

from ...fs.dirfd import open_real_dir, open_subdir, write_replace_at
from ...fs.hashing import cas_id as compute_cas_id
from ...imaging import freedesktop as fd
from ...imaging import render
from ...imaging.render import ImageRejected, NotAnImage, render_variants
from ...store.thumbs_store import THUMBS_DIR, sidecar_relpath

Image.preinit()  # BMP, GIF, JPEG, PPM, PNG: loaded before the fork (see above)
for _plugin in ("WebPImagePlugin", "TiffImagePlugin"):
    importlib.import_module(f"PIL.{_plugin}")

# Above this many decoded pixels an image is "huge": at most one huge image is
# decoded at a time per library (a lock file), so two workers never hold two
# huge rasters at once. 25 Mpx is 75 MB as RGB, 100 MB as RGBA.
HUGE_PIXELS = 25_000_000
HUGE_LOCK = ".huge.lock"


class Task(NamedTuple):
    path: str
    mtime_ns: int          # as seen when the job decided to send it
    size: int
    cas_id: str | None     # known from an earlier run or the index, for (mtime_ns, size)
    variants: tuple        # ((name, px), ...)
    fmt: str
    quality: int
    data_dir: str
    regenerate: bool
    fd_dirs: tuple         # freedesktop size dirs to write ("normal", "large", ...)
    app_version: str
    named_as_image: bool   # its extension says image: unreadable content is an error, not a skip


class Outcome(NamedTuple):
    path: str
    cas_id: str | None
    mtime_ns: int
    size: int
    kind: str              # rendered | existed | not-image | failed | unreadable
    thumbs: tuple          # ((variant, px, width, height, relpath), ...)
    reason: str | None
    fd_written: int


def run(task: Task) -> Outcome:
    """Do one image; never raises for the image's own problems."""
    path = task.path
    try:
        st = os.stat(path)
    except OSError as exc:
        return Outcome(path, None, task.mtime_ns, task.size, "unreadable", (), _os_reason(exc), 0)
    cas = task.cas_id
    try:
        if cas is None or (st.st_mtime_ns, st.st_size) != (task.mtime_ns, task.size):
            cas = compute_cas_id(path, st.st_size)
        out = _run(task, st, cas)
    except OSError as exc:
        return Outcome(path, cas, st.st_mtime_ns, st.st_size, "unreadable", (), _os_reason(exc), 0)
    except MemoryError:
        return Outcome(path, cas, st.st_mtime_ns, st.st_size, "failed", (), "out of memory while decoding", 0)
    return out


def _run(task: Task, st: os.stat_result, cas: str) -> Outcome:
    path = task.path
    data_dir = task.data_dir
    rels = [(name, px, sidecar_relpath(cas, name, task.fmt)) for name, px in task.variants]
    if not task.regenerate and not task.fd_dirs and all(os.path.exists(os.path.join(data_dir, r)) for *_, r in rels):
        thumbs = _existing(data_dir, rels)
        if thumbs is not None:  # same content thumbnailed before (another name, or an earlier run)
            return Outcome(path, cas, st.st_mtime_ns, st.st_size, "existed", thumbs, None, 0)
    try:
        rendered, fd_pngs = _render(task, _HugeGuard(data_dir))
    except NotAnImage as exc:
        if not task.named_as_image:
            return Outcome(path, cas, st.st_mtime_ns, st.st_size, "not-image", (), exc.reason, 0)
        ext = os.path.splitext(path)[1]
        reason = f"mislabelled: named {ext} but the content is not an image ({exc.reason})"
        return _failed(task, st, cas, reason)
    except ImageRejected as exc:
        return _failed(task, st, cas, exc.reason)
    thumbs = []
    for name, px, rel in rels:
        r = rendered[px]
        _write_atomic(os.path.join(data_dir, rel), r.data, data_dir)
        thumbs.append((name, px, r.width, r.height, rel))
    written = 0
    for size_dir, png in fd_pngs:
        try:
            fd.write_thumbnail(path, png, size_dir, st.st_mtime)
            written += 1
        except ValueError:  # the source lies inside the thumbnail cache itself
            break
    return Outcome(path, cas, st.st_mtime_ns, st.st_size, "rendered", tuple(thumbs), None, written)


def _render(task: Task, hold) -> tuple[dict, list]:
    """Decode once; return {px: Rendered} in the task's format and the
    freedesktop PNGs [(size_dir, bytes)]."""
    pxs = sorted({px for _, px in task.variants}, reverse=True)
    if not task.fd_dirs:
        return {r.size: r for r in render_variants(task.path, pxs, task.fmt, task.quality, hold=hold)}, []
    # One decode for both: the pixels of every bound, each encoded in the
    # format(s) it is wanted in (a bound shared by a sidecar and a
    # freedesktop size is resampled once).
    fd_px = {d: fd.SIZE_DIRS[d] for d in task.fd_dirs}
    images = render.render_images(task.path, sorted(set(pxs) | set(fd_px.values()), reverse=True), hold=hold)
    encoded: dict[tuple, bytes] = {}

    def data(px: int, fmt: str) -> bytes:
        im = images[px]
        key = (im.size, fmt)
        if key not in encoded:
            encoded[key] = render.encode(im, fmt, task.quality)
        return encoded[key]

    out = {px: render.Rendered(px, data(px, task.fmt), images[px].width, images[px].height, task.fmt)
           for px in pxs}
    return out, [(d, data(px, "png")) for d, px in fd_px.items()]


def _failed(task: Task, st: os.stat_result, cas: str, reason: str) -> Outcome:
    written = 0
    if task.fd_dirs:
        try:
            fd.write_failure(task.path, st.st_mtime, task.app_version)
            written = 1
        except (OSError, ValueError):
            pass
    return Outcome(task.path, cas, st.st_mtime_ns, st.st_size, "failed", (), reason, written)


def _existing(data_dir: str, rels: list) -> tuple | None:
    """(variant, px, width, height, relpath) read from the sidecars' headers."""
    out = []
    for name, px, rel in rels:
        try:
            with Image.open(os.path.join(data_dir, rel)) as im:
                out.append((name, px, im.width, im.height, rel))
        except Exception:  # noqa: BLE001 - a damaged sidecar, however damaged: render again
            return None  # damaged sidecar: render again
    return tuple(out)


class _HugeGuard:
    """``hold`` for ``render_variants``: called with the pixels about to be
    decoded, it holds the library's huge-image lock while a huge raster exists."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir

    @contextlib.contextmanager
    def __call__(self, pixels: int):
        if pixels <= HUGE_PIXELS:
            yield
            return
        lock = os.path.join(self.data_dir, THUMBS_DIR, HUGE_LOCK)
        os.makedirs(os.path.dirname(lock), mode=0o700, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


_root_fds: dict[str, int] = {}  # the library data folder of this worker, opened once


def _data_dir_fd(data_dir: str) -> int:
    root = _root_fds.get(data_dir)
    if root is not None:
        now, st = os.fstat(root), os.stat(data_dir)
        if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
            return root
        os.close(root)  # the folder was made anew since
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    root = _root_fds[data_dir] = open_real_dir(os.path.realpath(data_dir))
    return root


def _write_atomic(target: str, data: bytes, data_dir: str) -> None:
    """Write ``target``, a sidecar below ``data_dir``, under a temporary name in the same
    folder, then rename: every folder below ``data_dir`` is reached with O_NOFOLLOW and
    the temporary file is created with O_EXCL|O_NOFOLLOW under an unpredictable name
    (carrying the pid, for ``sweep_temps``), so nothing planted there is followed."""
    root = _data_dir_fd(data_dir)
    *folders, name = os.path.relpath(target, data_dir).split(os.sep)
    fds: list[int] = []
    try:
        here = root
        for folder in folders:
            here = open_subdir(here, folder, create=True)
            fds.append(here)
        write_replace_at(here, name, data, tag=str(os.getpid()))
    finally:
        for fd in fds:
            os.close(fd)


def sweep_temps(data_dir: str) -> int:
    """Remove temporary sidecars left by workers that died (after a crash)."""
    removed = 0
    root = os.path.join(data_dir, THUMBS_DIR)
    try:
        shards = [d.path for d in os.scandir(root) if d.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    for shard in shards:
        with os.scandir(shard) as it:
            for d in it:
                if d.name.startswith(".") and d.name.endswith(".tmp") and not _pid_alive(d.name):
                    try:
                        os.unlink(d.path)
                        removed += 1
                    except OSError:
                        pass
    return removed


def _pid_alive(tmp_name: str) -> bool:
    try:
        pid = int(tmp_name.rsplit(".", 2)[1])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
