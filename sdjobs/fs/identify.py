"""What the indexer reads from file contents, one file at a time.

``identify`` runs in the runner's worker processes (through ``ctx.map``): it
takes plain tuples, returns plain tuples, and never raises for a bad file.
Deep mode adds a coarse kind from the extension (or, failing that, the first
bytes) and, for images, the size and EXIF date from the header.
"""

from __future__ import annotations

import errno
import os
from typing import NamedTuple

from .hashing import cas_id, full_hash

WANT_CAS, WANT_FULL, WANT_DEEP = 1, 2, 4

KIND_CLASSES = ("image", "video", "audio", "document", "archive", "code", "text", "other")

_EXT: dict[str, str] = {}
for _kind, _exts in {
    "image": "jpg jpeg jpe jfif png gif bmp tif tiff webp heic heif avif svg ico icns raw cr2 cr3 nef arw dng orf "
             "rw2 raf psd jxl jp2 qoi tga exr hdr ppm pgm pbm xcf",
    "video": "mp4 m4v mkv mov avi webm wmv flv mpg mpeg m2ts mts ts 3gp ogv vob",
    "audio": "mp3 flac wav ogg oga opus m4a aac wma aif aiff alac mid midi ape wv",
    "document": "pdf doc docx odt rtf xls xlsx ods ppt pptx odp epub mobi djvu pages numbers key ps eps",
    "archive": "zip tar gz tgz bz2 tbz xz txz zst 7z rar iso dmg deb rpm jar war apk cab lz lzma lz4 cpio",
    "code": "py pyi js mjs cjs ts tsx jsx c h cc cpp cxx hpp hh rs go java kt kts swift rb php pl pm sh bash zsh "
            "fish lua r scala cs fs m mm sql css scss sass less html htm xhtml vue svelte dart hs ml ex exs erl clj "
            "el vim json jsonc yaml yml toml xml ini cfg conf mk cmake gradle ipynb proto tf nix zig jl",
    "text": "txt text md markdown rst csv tsv log org adoc tex srt vtt nfo",
}.items():
    for _e in _exts.split():
        _EXT[_e] = _kind

_MAGIC_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "document"), (b"PK\x03\x04", "archive"), (b"\x1f\x8b", "archive"), (b"\xfd7zXZ\x00", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "archive"), (b"BZh", "archive"), (b"\x28\xb5\x2f\xfd", "archive"),
    (b"Rar!", "archive"), (b"ID3", "audio"), (b"fLaC", "audio"), (b"OggS", "audio"),
    (b"\x1a\x45\xdf\xa3", "video"),
)


class Identity(NamedTuple):
    """What ``identify`` found for one file (None where not asked or not known)."""

    id: int
    cas_id: str | None
    full_hash: str | None
    kind_class: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    error: str | None


def classify(name: str, head: bytes) -> str:
    """The coarse kind of a file from its name, else from its first bytes."""
    dot = name.rfind(".")
    if dot > 0:
        kind = _EXT.get(name[dot + 1:].lower())
        if kind:
            return kind
    from ..imaging.probe import sniff_format

    if sniff_format(head):
        return "image"
    for magic, kind in _MAGIC_KINDS:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF":
        return {b"WAVE": "audio", b"AVI ": "video", b"WEBP": "image"}.get(head[8:12], "other")
    if head[4:8] == b"ftyp":
        return "audio" if head[8:11] == b"M4A" else "video"
    if not head:
        return "text"
    if b"\x00" in head:
        return "other"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end
            return "other"
    return "text"


def _deep(path: str, name: str) -> tuple[str, int | None, int | None, str | None]:
    with open(path, "rb") as f:
        head = f.read(512)
    kind = classify(name, head)
    width = height = taken = None
    if kind == "image":
        try:
            from ..imaging.probe import image_info

            info = image_info(path)
            width, height = info.width, info.height
            if info.exif_datetime is not None:
                taken = info.exif_datetime.isoformat()
        except (ValueError, OSError):
            pass  # an image by name whose header Pillow cannot read: kind only
    return kind, width, height, taken


def identify(item: tuple[int, str, int, int]) -> Identity:
    """(entry id, path, size, WANT_* flags) -> Identity. Errors are returned."""
    return Identity._make(identify_row(item))


def identify_row(item: tuple[int, str, int, int]) -> tuple:
    """``identify`` as a plain tuple (cheaper to send between processes)."""
    entry_id, path, size, want = item
    try:
        return _identify(entry_id, path, os.path.basename(path), size, want)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            return (entry_id, None, None, None, None, None, None, exc.strerror or str(exc))
    try:  # deeper than PATH_MAX: open it step by step, read it through /proc/self/fd
        fd = _open_long(path)
    except OSError as exc:
        return (entry_id, None, None, None, None, None, None, exc.strerror or str(exc))
    try:
        return _identify(entry_id, f"/proc/self/fd/{fd}", os.path.basename(path), size, want)
    except OSError as exc:
        return (entry_id, None, None, None, None, None, None, exc.strerror or str(exc))
    finally:
        os.close(fd)


def _identify(entry_id: int, path: str, name: str, size: int, want: int) -> tuple:
    cas = full = kind = taken = None
    width = height = None
    if want & WANT_CAS and size > 0:
        cas = cas_id(path, size)
    if want & WANT_FULL:
        full = full_hash(path)
    if want & WANT_DEEP:
        kind, width, height, taken = _deep(path, name)
    return (entry_id, cas, full, kind, width, height, taken, None)


def _open_long(path: str) -> int:
    """A read-only descriptor of a file whose path is longer than PATH_MAX."""
    parts = [p for p in path.split("/") if p]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in parts[:-1]:
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    finally:
        os.close(fd)
