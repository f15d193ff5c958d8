"""The freedesktop.org thumbnail cache: names, chunks, permissions, validity."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from PIL import Image

from sdjobs.imaging import freedesktop as fd
from sdjobs.imaging.render import render_variants


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CACHE_HOME; returns its thumbnails dir (not created yet)."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home / "thumbnails"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photos" / "me and you.jpg"
    path.parent.mkdir()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(path, quality=90)
    os.utime(path, (1_600_000_000, 1_600_000_000.75))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- names ---------------------------------------------------------------------------


def test_spec_example_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/home/jens/.cache")
    assert fd.thumbnail_uri("/home/jens/photos/me.png") == "file:///home/jens/photos/me.png"
    # The worked example in the spec's "Thumbnail Saving" section.
    assert fd.thumbnail_path("/home/jens/photos/me.png", "normal") == Path(
        "/home/jens/.cache/thumbnails/normal/c6ee772d9e49320e97ec29a7eb5b1697.png")


@pytest.mark.parametrize(
    ("path", "uri"),
    [("/tmp/a b.jpg", "file:///tmp/a%20b.jpg"),
     ("/tmp/caf\u00e9.jpg", "file:///tmp/caf%C3%A9.jpg"),
     ("/tmp/100%/x#1?.png", "file:///tmp/100%25/x%231%3F.png"),
     ("/tmp/keep!$&'()*+,:=@-_.~", "file:///tmp/keep!$&'()*+,:=@-_.~"),
     ("/tmp/[semi;colon]<>\"{}|\\^`", "file:///tmp/%5Bsemi%3Bcolon%5D%3C%3E%22%7B%7D%7C%5C%5E%60"),
     ("/tmp/./x/../y.png", "file:///tmp/y.png")],
)
def test_uri_escaping_matches_glib(path: str, uri: str) -> None:
    assert fd.thumbnail_uri(path) == uri


def test_uri_of_undecodable_bytes() -> None:
    raw = os.fsdecode(b"/tmp/\xff\xfe.png")  # not UTF-8: surrogate-escaped
    assert fd.thumbnail_uri(raw) == "file:///tmp/%FF%FE.png"


def test_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert fd.thumbnail_uri("x.png") == "file://" + str(tmp_path / "x.png")


@pytest.mark.parametrize(("size_dir", "box"), [("normal", 128), ("large", 256), ("x-large", 512), ("xx-large", 1024)])
def test_size_dirs(cache: Path, size_dir: str, box: int) -> None:
    assert fd.SIZE_DIRS[size_dir] == box
    md5 = hashlib.md5(b"file:///p/q.jpg").hexdigest()
    assert fd.thumbnail_path("/p/q.jpg", size_dir) == cache / size_dir / f"{md5}.png"


def test_unknown_size_dir() -> None:
    with pytest.raises(ValueError):
        fd.thumbnail_path("/p/q.jpg", "huge")


def test_cache_home_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "one"))
    assert fd.thumbnails_root() == tmp_path / "one" / "thumbnails"
    monkeypatch.setenv("XDG_CACHE_HOME", "  ")
    assert fd.thumbnails_root() == tmp_path / "home" / ".cache" / "thumbnails"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid per the basedir spec
    assert fd.thumbnails_root() == tmp_path / "home" / ".cache" / "thumbnails"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fd.thumbnails_root() == tmp_path / "home" / ".cache" / "thumbnails"


# -- writing ---------------------------------------------------------------------------


def test_write_thumbnail_from_rendered_png(cache: Path, photo: Path) -> None:
    (r,) = render_variants(photo, [256], "png", 80)
    st = photo.stat()
    target = fd.write_thumbnail(photo, r.data, "large", st.st_mtime)

    assert target == fd.thumbnail_path(photo, "large")
    assert target.parent == cache / "large"
    assert target.name == hashlib.md5(fd.thumbnail_uri(photo).encode()).hexdigest() + ".png"
    assert len(target.stem) == 32

    text = fd.read_text_chunks(target)
    assert text["Thumb::URI"] == "file://" + str(photo).replace(" ", "%20")
    assert text["Thumb::MTime"] == "1600000000"  # integer seconds, fraction dropped
    assert text["Thumb::Size"] == str(st.st_size)
    assert text["Software"] == "sdjobs"

    with Image.open(target) as im:
        # Pillow finds the keys before IDAT, i.e. without decoding pixels.
        assert im.info["Thumb::URI"] == text["Thumb::URI"]
        assert im.info["Thumb::MTime"] == "1600000000"
        im.load()
        assert (im.format, im.size) == ("PNG", (256, 192))

    assert _mode(target) == 0o600
    assert _mode(cache) == 0o700
    assert _mode(cache / "large") == 0o700
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left


def test_written_chunks_are_what_readers_expect(cache: Path, photo: Path) -> None:
    """The freedesktop keys, as tEXt (latin-1) or uncompressed iTXt (anything else), in chunks
    right after IHDR with correct CRCs, and no text chunk twice: what GNOME's and KDE's readers
    (and Pillow) check."""
    import struct
    import zlib

    (r,) = render_variants(photo, [128], "png", 80)
    target = fd.write_thumbnail(photo, r.data, "normal", photo.stat().st_mtime, software="sdjobs \u00e9\u20ac")
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds, texts = 8, [], {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        kinds.append(kind)
        if kind in (b"tEXt", b"iTXt"):
            key, _, rest = body.partition(b"\0")
            assert key not in texts
            texts[key] = (kind, rest)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert kinds.index(b"IDAT") > max(i for i, k in enumerate(kinds) if k in (b"tEXt", b"iTXt"))
    assert texts[b"Thumb::URI"] == (b"tEXt", fd.thumbnail_uri(photo).encode("ascii"))
    assert texts[b"Thumb::MTime"] == (b"tEXt", b"1600000000")
    assert texts[b"Software"] == (b"iTXt", b"\0\0\0\0" + "sdjobs \u00e9\u20ac".encode())  # flag 0, method 0, no lang
    with Image.open(target) as im:
        assert im.info["Software"] == "sdjobs \u00e9\u20ac"
        assert im.info["Thumb::URI"] == fd.thumbnail_uri(photo)


def test_permissions_ignore_a_permissive_umask(cache: Path, photo: Path) -> None:
    old = os.umask(0)
    try:
        target = fd.write_thumbnail(photo, Image.new("RGB", (128, 96)), "normal", photo.stat().st_mtime)
    finally:
        os.umask(old)
    assert (_mode(target), _mode(target.parent), _mode(cache)) == (0o600, 0o700, 0o700)


def test_write_pil_image_and_replace(cache: Path, photo: Path) -> None:
    mtime = photo.stat().st_mtime
    first = fd.write_thumbnail(photo, Image.new("LA", (100, 128)), "normal", mtime)
    with Image.open(first) as im:
        assert im.mode == "RGBA"  # the spec's 8-bit RGBA, not grey+alpha
    second = fd.write_thumbnail(photo, Image.new("RGB", (128, 100), "red"), "normal", mtime, software="x 1")
    assert first == second
    with Image.open(second) as im:
        assert im.size == (128, 100) and im.mode == "RGB"
    assert fd.read_text_chunks(second)["Software"] == "x 1"


def test_rewriting_png_bytes_does_not_duplicate_keys(cache: Path, photo: Path) -> None:
    mtime = photo.stat().st_mtime
    target = fd.write_thumbnail(photo, Image.new("RGB", (64, 64)), "normal", mtime)
    again = fd.write_thumbnail(photo, target.read_bytes(), "normal", mtime + 5)
    data = again.read_bytes()
    assert data.count(b"Thumb::MTime") == 1
    assert fd.read_text_chunks(again)["Thumb::MTime"] == str(int(mtime + 5))


@pytest.mark.parametrize(("size_dir", "dims"), [("normal", (129, 10)), ("large", (10, 257))])
def test_too_big_for_the_box(cache: Path, photo: Path, size_dir: str, dims: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        fd.write_thumbnail(photo, Image.new("RGB", dims), size_dir, 0)


def test_rejects_non_png_bytes_and_own_cache(cache: Path, photo: Path) -> None:
    with pytest.raises(ValueError):
        fd.write_thumbnail(photo, b"GIF89a....", "normal", 0)
    target = fd.write_thumbnail(photo, Image.new("RGB", (8, 8)), "normal", 0)
    with pytest.raises(ValueError, match="inside the thumbnail cache"):
        fd.write_thumbnail(target, Image.new("RGB", (8, 8)), "normal", 0)


def test_write_failure(cache: Path, photo: Path) -> None:
    target = fd.write_failure(photo, photo.stat().st_mtime, "0.1.0")
    md5 = hashlib.md5(fd.thumbnail_uri(photo).encode()).hexdigest()
    assert target == cache / "fail" / "sdjobs-0.1.0" / f"{md5}.png"
    assert (_mode(target), _mode(target.parent), _mode(cache / "fail")) == (0o600, 0o700, 0o700)
    text = fd.read_text_chunks(target)
    assert text["Thumb::URI"] == fd.thumbnail_uri(photo)
    assert text["Thumb::MTime"] == "1600000000"
    assert text["Software"] == "sdjobs 0.1.0"
    with Image.open(target) as im:
        assert im.size == (1, 1)
    assert fd.has_current_failure(photo, "0.1.0")
    assert not fd.has_current_failure(photo, "0.2.0")
    with pytest.raises(ValueError):
        fd.failure_path(photo, "../escape")


# -- validity --------------------------------------------------------------------------


def test_is_up_to_date_follows_mtime_and_size(cache: Path, photo: Path) -> None:
    assert not fd.is_up_to_date(photo, "large")
    fd.write_thumbnail(photo, Image.new("RGB", (256, 192)), "large", photo.stat().st_mtime)
    assert fd.is_up_to_date(photo, "large")
    assert not fd.is_up_to_date(photo, "normal")  # that size was never written

    os.utime(photo, (1_600_000_000, 1_600_000_100))  # touched: any mtime change counts
    assert not fd.is_up_to_date(photo, "large")
    os.utime(photo, (1_600_000_000, 1_600_000_000))
    assert fd.is_up_to_date(photo, "large")

    with open(photo, "ab") as fh:  # same mtime, different size
        fh.write(b"\0")
    os.utime(photo, (1_600_000_000, 1_600_000_000))
    assert not fd.is_up_to_date(photo, "large")


def test_is_up_to_date_checks_uri_and_presence(cache: Path, photo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.jpg"
    other.write_bytes(photo.read_bytes())
    os.utime(other, (1_600_000_000, 1_600_000_000))
    # A thumbnail whose URI names another file must not be trusted for this one.
    made = fd.write_thumbnail(other, Image.new("RGB", (8, 8)), "normal", other.stat().st_mtime)
    fd.thumbnail_path(photo, "normal").write_bytes(made.read_bytes())
    assert not fd.is_up_to_date(photo, "normal")
    assert fd.is_up_to_date(other, "normal")
    photo.unlink()
    assert not fd.is_up_to_date(photo, "normal")


def test_thumbnail_without_mtime_is_stale(cache: Path, photo: Path) -> None:
    target = fd.thumbnail_path(photo, "normal")
    target.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(target)  # no Thumb:: keys at all
    assert not fd.is_up_to_date(photo, "normal")
    target.write_bytes(b"not even a png")
    assert not fd.is_up_to_date(photo, "normal")


def test_read_text_chunks_agrees_with_pillow(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("plain", "latin-1 \u00e9")
    info.add_text("zipped", "x" * 500, zip=True)
    info.add_itxt("intl", "\u65e5\u672c", zip=False)
    info.add_itxt("intlz", "\u65e5\u672c" * 50, zip=True)
    path = tmp_path / "t.png"
    Image.new("RGB", (2, 2)).save(path, pnginfo=info)
    with Image.open(path) as im:
        im.load()
        assert fd.read_text_chunks(path) == {k: str(v) for k, v in im.text.items()}  # type: ignore[attr-defined]
