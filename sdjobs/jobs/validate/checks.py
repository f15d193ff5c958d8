"""The per-file checks of validate; they run in the worker pool, a batch at a time.

An issue is a tuple (severity, kind, path, message, action). Severities, from
the worst: critical, error, warning, info.
"""

from __future__ import annotations

import os
import stat

from ...fs.digests import digest
from ...fs.hashing import full_hash_if_size
from ...fs.names import name_problems

SEVERITIES = ("critical", "error", "warning", "info")

# Extensions whose files must have content, and what their first bytes must be.
IMAGE_EXTS = {
    "jpg": {"JPEG"}, "jpeg": {"JPEG"}, "jpe": {"JPEG"}, "jfif": {"JPEG"}, "png": {"PNG"}, "gif": {"GIF"},
    "bmp": {"BMP"}, "tif": {"TIFF"}, "tiff": {"TIFF"}, "webp": {"WEBP"}, "ico": {"ICO"},
    "heic": {"HEIF"}, "heif": {"HEIF"}, "avif": {"AVIF"}, "jxl": {"JXL"}, "psd": {"PSD"},
}
DECODABLE = {"JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "ICO"}
OTHER_MAGIC: dict[str, tuple[tuple[int, bytes], ...]] = {
    "pdf": ((0, b"%PDF-"),),
    "zip": ((0, b"PK\x03\x04"), (0, b"PK\x05\x06")), "docx": ((0, b"PK\x03\x04"),),
    "xlsx": ((0, b"PK\x03\x04"),), "pptx": ((0, b"PK\x03\x04"),), "odt": ((0, b"PK\x03\x04"),),
    "epub": ((0, b"PK\x03\x04"),), "jar": ((0, b"PK\x03\x04"),), "apk": ((0, b"PK\x03\x04"),),
    "gz": ((0, b"\x1f\x8b"),), "tgz": ((0, b"\x1f\x8b"),), "bz2": ((0, b"BZh"),), "xz": ((0, b"\xfd7zXZ\x00"),),
    "zst": ((0, b"\x28\xb5\x2f\xfd"),), "7z": ((0, b"7z\xbc\xaf\x27\x1c"),), "rar": ((0, b"Rar!\x1a\x07"),),
    "tar": ((257, b"ustar"),), "flac": ((0, b"fLaC"),), "ogg": ((0, b"OggS"),), "opus": ((0, b"OggS"),),
    "wav": ((8, b"WAVE"),), "avi": ((8, b"AVI "),), "mkv": ((0, b"\x1a\x45\xdf\xa3"),),
    "webm": ((0, b"\x1a\x45\xdf\xa3"),), "mp4": ((4, b"ftyp"),), "m4a": ((4, b"ftyp"),), "m4v": ((4, b"ftyp"),),
    "mov": ((4, b"ftyp"), (4, b"moov"), (4, b"wide"), (4, b"mdat"), (4, b"free")),
    "mp3": ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2"), (0, b"\xff\xfa")),
    "sqlite": ((0, b"SQLite format 3\x00"),), "db": (), "wasm": ((0, b"\x00asm"),),
}
CONTENT_EXTS = set(IMAGE_EXTS) | {e for e, m in OTHER_MAGIC.items() if m} | {"doc", "xls", "ppt", "odp", "ods"}


def issue(sev: str, kind: str, path: str, message: str, action: str) -> tuple:
    return (sev, kind, path, message, action)


def check_batch(batch: tuple[dict, list[tuple]]) -> tuple[list[tuple], int]:
    """Run the asked checks over ``[(path, kind, stored), ...]``; ``stored`` is
    (size, mtime_ns, inode, full_hash) from the index, or None. Returns the
    issues and the bytes hashed."""
    flags, items = batch
    issues: list[tuple] = []
    hashed = 0
    for path, kind, stored in items:
        hashed += _check_one(path, kind, stored, flags, issues)
    return issues, hashed


def check_hashes(batch: tuple[dict, str, list[int], list[int], list[str | None]]) -> tuple[list[tuple], int]:
    """``check_batch`` for integrity alone, over indexed files given as columns:
    (flags, NUL-joined paths, sizes, mtimes, stored hashes). A file still of
    its indexed size whose content hashes to the stored value costs one open
    and its reads (no stat); anything else (no stored hash, missing, another
    size, a different hash, not a regular file) goes through the full checks,
    which say what is wrong. Columns pickle much faster than tuples."""
    flags, joined, sizes, mtimes, hashes = batch
    issues: list[tuple] = []
    hashed = 0
    for path, size, mtime_ns, stored_hash in zip(joined.split("\0"), sizes, mtimes, hashes, strict=True):
        if stored_hash:
            try:
                if full_hash_if_size(path, size) == stored_hash:
                    hashed += size
                    continue
            except OSError:
                pass
        hashed += _check_one(path, "file", (size, mtime_ns, None, stored_hash), flags, issues)
    return issues, hashed


def _check_one(path: str, kind: str, stored, flags: dict, out: list) -> int:
    """``_check``, with a read error reported as an issue of the file."""
    try:
        return _check(path, kind, stored, flags, out)
    except OSError as exc:
        out.append(issue("error", "unreadable", path, f"cannot be read: {exc.strerror or exc}",
                         "check its permissions and the disk"))
        return 0


def _check(path: str, kind: str, stored, flags: dict, out: list) -> int:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if stored is not None:
            out.append(issue("error", "missing", path, "in the index but no longer on disk",
                             "restore it from a backup, or re-index to forget it"))
        return 0
    if flags.get("names"):
        for problem in name_problems(os.path.basename(path)):
            out.append(issue("warning", "bad-name", path, f"name {problem}",
                             "rename it: some tools and filesystems cannot handle it"))
    if flags.get("permissions"):
        _permissions(path, st, out)
    if not stat.S_ISREG(st.st_mode):
        return 0
    changed = stored is not None and (st.st_size != stored[0] or st.st_mtime_ns != stored[1])
    if changed and flags.get("drift"):
        what = "size" if st.st_size != stored[0] else "modification time"
        out.append(issue("warning", "drift", path, f"{what} changed since it was indexed",
                         "re-index it (sdjobs index PATH) if the change is expected"))
    ext = _ext(path)
    if st.st_size == 0:
        if flags.get("corruption") and ext in CONTENT_EXTS:
            out.append(issue("error", "empty-content", path, f"zero-length .{ext} file: its content is gone",
                             "restore it from a backup, or delete it"))
        elif flags.get("empty"):
            out.append(issue("info", "empty", path, "empty file", "delete it unless it is a placeholder"))
    hashed = 0
    if flags.get("integrity") and stored is not None and stored[3]:
        hashed = st.st_size
        now = digest("F", path, st.st_size)[1:]
        if now != stored[3]:
            if changed:
                out.append(issue("warning", "modified", path, "content changed since it was indexed,"
                                 " and so did its size or modification time",
                                 "re-index it to record the new content, if the change is expected"))
            else:
                out.append(issue("critical", "silent-corruption", path, "content changed but its size and"
                                 " modification time did not: silent corruption",
                                 "restore it from a backup; check the disk (SMART, fsck)"))
    if flags.get("corruption") and st.st_size > 0:
        _corruption(path, ext, out)
    return hashed


def _permissions(path: str, st: os.stat_result, out: list) -> None:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return
    if mode & stat.S_IWOTH and not (stat.S_ISDIR(mode) and mode & stat.S_ISVTX):
        out.append(issue("warning", "world-writable", path, "writable by every user",
                         f"chmod o-w {path!r}"))
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        need = os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)
        if not os.access(path, need, follow_symlinks=False) or not mode & 0o444:
            out.append(issue("warning", "unreadable", path, "not readable (no read permission)",
                             f"chmod u+r{'x' if stat.S_ISDIR(mode) else ''} {path!r}"))


def _ext(path: str) -> str:
    name = os.path.basename(path)
    dot = name.rfind(".")
    return name[dot + 1:].lower() if dot > 0 else ""


def _corruption(path: str, ext: str, out: list) -> None:
    from ...imaging.probe import sniff_format

    with open(path, "rb") as f:
        head = f.read(512)
    found = sniff_format(head)
    if ext in IMAGE_EXTS:
        want = IMAGE_EXTS[ext]
        if found is None:
            other = _other_kind(head)
            msg = f"content is {other}, not the image its .{ext} extension claims" if other else \
                f"does not start like a .{ext} image: damaged or not an image"
            out.append(issue("error" if not other else "warning", "magic-mismatch", path, msg,
                             "rename it to its real type" if other else "restore it from a backup"))
            return
        if found not in want:
            out.append(issue("warning", "magic-mismatch", path, f"content is {found}, the extension says .{ext}",
                             f"rename it to .{found.lower()}"))
    elif ext in OTHER_MAGIC and OTHER_MAGIC[ext]:
        if not any(head[o:o + len(m)] == m for o, m in OTHER_MAGIC[ext]):
            other = found and f"a {found} image" or _other_kind(head)
            msg = f"content is {other}, the extension says .{ext}" if other else \
                f"does not start like a .{ext} file: damaged or misnamed"
            out.append(issue("warning", "magic-mismatch", path, msg,
                             "rename it to its real type" if other else "check it; restore it from a backup"))
        return
    if found in DECODABLE:
        _decode(path, found, out)


def _other_kind(head: bytes) -> str | None:
    for ext in ("pdf", "zip", "gz", "7z", "rar", "flac", "ogg", "mkv", "mp3", "sqlite"):
        if any(m and head[o:o + len(m)] == m for o, m in OTHER_MAGIC[ext]):
            return f"{ext.upper()} data"
    if head[4:8] == b"ftyp":
        return "MP4/QuickTime data"
    return None


def _decode(path: str, fmt: str, out: list) -> None:
    """Decode every pixel; Pillow raises on truncated or damaged data."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as im:
                if fmt == "PNG":
                    im.verify()  # chunk CRCs
            with Image.open(path) as im:
                im.load()
                frames = getattr(im, "n_frames", 1)
                for k in range(1, min(frames, 64)):
                    im.seek(k)
                    im.load()
        except Image.DecompressionBombError:
            out.append(issue("info", "not-decoded", path, "too large to decode safely; not checked", "none"))
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            text = str(exc) or type(exc).__name__
            truncated = "truncat" in text.lower() or isinstance(exc, EOFError)
            out.append(issue("error", "truncated" if truncated else "undecodable", path,
                             f"{'truncated' if truncated else 'damaged'} {fmt}: {text}",
                             "restore it from a backup"))
