"""validate: finds each planted problem with the right severity, and nothing on a clean tree."""

from __future__ import annotations

import io
import os

import pytest
from dupes_helpers import run_inline, write
from PIL import Image

from sdjobs.core.errors import BadInput
from sdjobs.jobs._dupes_results import results_of


def image_bytes(fmt: str, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    im.save(buf, format=fmt)
    return buf.getvalue()


def clean_tree(root) -> None:
    write(root / "notes.txt", b"hello\n")
    write(root / "photos" / "a.jpg", image_bytes("JPEG"))
    write(root / "photos" / "b.png", image_bytes("PNG"))
    write(root / "docs" / "report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    write(root / "docs" / "big.bin", os.urandom(300_000))


def check(store, lib, mode, root, **kw):
    rec = run_inline(store, "validate", {"paths": [str(root)], "mode": mode, "library": str(lib), **kw})
    assert rec.status == "completed", (rec.status, rec.error)
    issues = results_of(rec.output)["issues"]
    return rec.output, {(i["kind"], os.path.relpath(i["path"], root)): i for i in issues}


def index(store, root, full_hash=True):
    rec = run_inline(store, "index", {"path": str(root), "full_hash": full_hash})
    assert rec.status == "completed", rec.error


def test_clean_tree_has_no_issues(store, lib, tmp_path):
    root = tmp_path / "clean"
    clean_tree(root)
    index(store, root)
    for mode in ("basic", "integrity", "corruption", "complete"):
        out, found = check(store, lib, mode, root)
        assert found == {}, mode
        assert out["checked"] >= 5
    out, _ = check(store, lib, "integrity", root)
    assert out["hashed"] == sum(os.path.getsize(p) for p in (root / "docs" / "big.bin", root / "notes.txt",
                                                            root / "photos" / "a.jpg", root / "photos" / "b.png",
                                                            root / "docs" / "report.pdf"))


def test_basic_missing_drift_empty(store, lib, tmp_path):
    root = tmp_path / "t"
    clean_tree(root)
    write(root / "empty.txt", b"")
    index(store, root, full_hash=False)
    os.unlink(root / "notes.txt")
    with open(root / "docs" / "big.bin", "ab") as f:
        f.write(b"more")
    _, found = check(store, lib, "basic", root)
    assert found[("missing", "notes.txt")]["severity"] == "error"
    assert found[("drift", "docs/big.bin")]["severity"] == "warning"
    assert found[("empty", "empty.txt")]["severity"] == "info"
    assert len(found) == 3


def test_basic_without_index_says_so(store, lib, tmp_path):
    root = tmp_path / "t"
    clean_tree(root)
    write(root / "empty.txt", b"")
    _, found = check(store, lib, "basic", root)
    assert set(found) == {("not-indexed", "."), ("empty", "empty.txt")}
    assert "sdjobs index" in found[("not-indexed", ".")]["action"]


def test_integrity_silent_corruption_is_critical(store, lib, tmp_path):
    root = tmp_path / "t"
    clean_tree(root)
    index(store, root)
    victim = root / "docs" / "big.bin"
    st = victim.stat()
    data = bytearray(victim.read_bytes())
    data[123_456] ^= 0x01  # a flipped bit; size and mtime put back
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    edited = root / "notes.txt"
    edited.write_bytes(b"HELLO\n")  # same size, new mtime: an edit, not corruption
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    rec = run_inline(store, "validate", {"paths": [str(root)], "mode": "integrity", "library": str(lib)})
    issues = {(i["kind"], os.path.basename(i["path"])): i for i in results_of(rec.output)["issues"]}
    assert issues[("silent-corruption", "big.bin")]["severity"] == "critical"
    assert issues[("modified", "notes.txt")]["severity"] == "warning"
    assert len(issues) == 2
    assert rec.output["counts"]["critical"] == 1


def test_integrity_needs_stored_hashes(store, lib, tmp_path):
    root = tmp_path / "t"
    clean_tree(root)
    with pytest.raises(BadInput, match="--full-hash"):
        run_inline(store, "validate", {"paths": [str(root)], "mode": "integrity", "library": str(lib)})
    index(store, root, full_hash=False)
    with pytest.raises(BadInput, match="without full hashes"):
        run_inline(store, "validate", {"paths": [str(root)], "mode": "integrity", "library": str(lib)})


def test_corruption_finds_each_planted_problem(store, lib, tmp_path):
    root = tmp_path / "t"
    clean_tree(root)
    jpg, png = image_bytes("JPEG", (400, 300)), image_bytes("PNG", (400, 300))
    write(root / "bad" / "truncated.jpg", jpg[: len(jpg) // 2])
    write(root / "bad" / "truncated.png", png[: len(png) // 2])
    write(root / "bad" / "noise.jpg", os.urandom(5000))
    write(root / "bad" / "really-png.jpg", png)
    write(root / "bad" / "zero.jpg", b"")
    write(root / "bad" / "zip-named.pdf", b"PK\x03\x04" + os.urandom(100))
    write(root / "bad" / "empty.txt", b"")  # empty, but no content extension: not corruption
    _, found = check(store, lib, "corruption", root)
    assert found[("truncated", "bad/truncated.jpg")]["severity"] == "error"
    assert found[("truncated", "bad/truncated.png")]["severity"] == "error"
    assert found[("magic-mismatch", "bad/noise.jpg")]["severity"] == "error"
    assert found[("magic-mismatch", "bad/really-png.jpg")]["severity"] == "warning"
    assert "PNG" in found[("magic-mismatch", "bad/really-png.jpg")]["message"]
    assert found[("empty-content", "bad/zero.jpg")]["severity"] == "error"
    assert "ZIP" in found[("magic-mismatch", "bad/zip-named.pdf")]["message"]
    assert len(found) == 6


def test_complete_adds_permissions_and_names(store, lib, tmp_path):
    root = tmp_path / "t"
    clean_tree(root)
    index(store, root)
    write(root / "open.txt", b"x")
    os.chmod(root / "open.txt", 0o666)
    write(root / "locked.txt", b"x")
    os.chmod(root / "locked.txt", 0o000)
    write(os.path.join(os.fsencode(root), b"caf\xe9.txt"), b"x")
    write(root / "tab\there.txt", b"x")
    _, found = check(store, lib, "complete", root)
    assert found[("world-writable", "open.txt")]["severity"] == "warning"
    assert found[("unreadable", "locked.txt")]["severity"] == "warning"
    names = {k[1] for k in found if k[0] == "bad-name"}
    assert names == {os.fsdecode(b"caf\xe9.txt"), "tab\there.txt"}
    assert len(found) == 4
    _, found = check(store, lib, "basic", root, permissions=True)
    assert {k[0] for k in found} == {"world-writable", "unreadable"}
