"""validate: finds each planted problem with the right severity, and nothing on a clean tree."""

from __future__ import annotations

import io
import os

import pytest
from dupes_helpers import run_inline, write
from PIL import Image

from sdjobs.core.errors import BadInput
from sdjobs.jobs.dupes.results import results_of
from sdjobs.store.data_plane import open_data_plane


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
    issues = results_of(store, rec.id)["issues"]
    bad = any(i["severity"] in ("critical", "error") for i in issues)
    assert rec.status == ("completed-with-errors" if bad else "completed"), (rec.status, rec.error)
    assert rec.errors >= sum(i["severity"] in ("critical", "error") for i in issues)
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
    issues = {(i["kind"], os.path.basename(i["path"])): i for i in results_of(store, rec.id)["issues"]}
    assert issues[("silent-corruption", "big.bin")]["severity"] == "critical"
    assert issues[("modified", "notes.txt")]["severity"] == "warning"
    assert len(issues) == 2
    assert rec.output["counts"]["critical"] == 1


def test_integrity_needs_stored_hashes(store, lib, tmp_path):
    """Checked by the job against its own library (``ctx.library``), no configuration field
    needed; the CLI checks the same before it submits (tests/cli)."""
    root = tmp_path / "t"
    clean_tree(root)
    rec = run_inline(store, "validate", {"paths": [str(root)], "mode": "integrity"})
    assert rec.status == "failed" and "--full-hash" in rec.error
    index(store, root, full_hash=False)
    rec = run_inline(store, "validate", {"paths": [str(root)], "mode": "integrity"})
    assert rec.status == "failed" and "without full hashes" in rec.error
    from sdjobs.core import registry
    from sdjobs.store.data_plane import library_info

    cls = registry.get("validate")
    with pytest.raises(BadInput, match="without full hashes"):
        cls.check_library(cls.Config(paths=[str(root)], mode="integrity"), library_info(store))


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


def test_integrity_fast_path_says_what_the_full_checks_say(store, lib, tmp_path, monkeypatch):
    """check_hashes (integrity alone, no stat for a file that matches) reports
    exactly what check_batch reports, over every kind of change; in the job,
    big files go first and batches of several sizes all get checked."""
    from sdjobs.jobs.validate import checks
    from sdjobs.jobs.validate import job as validate
    root = tmp_path / "t"
    clean_tree(root)
    for i in range(40):
        write(root / "many" / f"f{i:02d}", os.urandom(1000 * i))
    write(root / "huge.bin", os.urandom(600_000))
    write(root / "grows.bin", b"x" * 1000)
    write(root / "becomes-link", b"same")
    write(root / "becomes-dir", b"gone")
    write(root / "exact-chunk", os.urandom(128 * 1024))
    index(store, root)

    def corrupt(path, at):  # same size and mtime
        st = path.stat()
        data = bytearray(path.read_bytes())
        data[at] ^= 0x40
        path.write_bytes(bytes(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    corrupt(root / "huge.bin", 599_999)
    corrupt(root / "many" / "f07", 0)
    corrupt(root / "exact-chunk", 128 * 1024 - 1)
    st = (root / "grows.bin").stat()
    with open(root / "grows.bin", "ab") as f:
        f.write(b"more")
    os.utime(root / "grows.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink(root / "many" / "f03")
    os.unlink(root / "becomes-link")
    os.symlink("notes.txt", root / "becomes-link")
    os.unlink(root / "becomes-dir")
    os.mkdir(root / "becomes-dir")

    rows = validate._index_rows(open_data_plane(store), str(root))
    rows.pop(None)
    items = [(p, "file", st, st[0]) for p, st in rows.items()]
    flags = validate._flags(validate.ValidateConfig(mode="integrity"))
    fast = checks.check_hashes(validate._columns(flags, items))
    full = checks.check_batch((flags, [(p, k, st) for p, k, st, _ in items]))
    assert sorted(fast[0]) == sorted(full[0]) and fast[1] == full[1]
    kinds = {(i[1], os.path.relpath(i[2], root)) for i in fast[0]}
    assert kinds == {("silent-corruption", "huge.bin"), ("silent-corruption", "many/f07"),
                     ("silent-corruption", "exact-chunk"), ("modified", "grows.bin"), ("missing", "many/f03")}

    monkeypatch.setattr(validate, "BIG_FILE", 300_000)
    monkeypatch.setattr(validate, "MIN_BATCH", 100_000)
    out, found = check(store, lib, "integrity", root)
    assert {k for k in found} == kinds
    assert out["hashed"] == fast[1]
    assert found[("silent-corruption", "huge.bin")]["severity"] == "critical"


def test_integrity_batches_put_big_files_first_and_shrink(monkeypatch):
    from sdjobs.jobs.validate import job as validate
    monkeypatch.setattr(validate, "MIN_BATCH", 1 << 20)
    sizes = [300 << 20, 200 << 20] + [100_000] * 20_000
    bounds = validate._bounds(sizes, 0, True)
    assert bounds[0] == (0, 1) and bounds[1] == (1, 2)  # over BATCH_BYTES: alone
    assert [a for a, _ in bounds[1:]] == [b for _, b in bounds[:-1]] and bounds[-1][1] == len(sizes)
    counts = [b - a for a, b in bounds[2:]]
    assert counts[0] > counts[-2] > 0  # shrinking towards the end
    assert validate._bounds(sizes, 15_000, True)[0][0] == 15_000
    assert validate._bounds(sizes, len(sizes), True) == []


def test_workers_start_on_the_first_rows_while_the_rest_is_listed(store, lib, tmp_path, monkeypatch):
    """With a tiny head, the first rows of the first root go out before the
    rest (and the other roots) are listed: same findings, every file checked once."""
    from sdjobs.jobs.validate import job as validate
    monkeypatch.setattr(validate, "HEAD_FILES", 3)
    monkeypatch.setattr(validate, "BIG_FILE", 50_000)
    roots = [tmp_path / "a", tmp_path / "b"]
    for r in roots:
        clean_tree(r)
        for i in range(12):
            write(r / "many" / f"f{i:02d}", os.urandom(500 * (i + 1)))
        index(store, r)
    victim = roots[1] / "many" / "f05"
    st = victim.stat()
    victim.write_bytes(b"\0" * st.st_size)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink(roots[0] / "many" / "f01")
    for mode in ("integrity", "basic"):
        rec = run_inline(store, "validate", {"paths": [str(r) for r in roots], "mode": mode, "library": str(lib)})
        assert rec.status == "completed-with-errors", rec.error  # a critical or an error issue
        out = rec.output
        assert out["checked"] == 2 * 17
        found = {(i["kind"], i["path"]) for i in results_of(store, rec.id)["issues"]}
        if mode == "integrity":
            assert found == {("silent-corruption", str(victim)), ("missing", str(roots[0] / "many" / "f01"))}
            assert out["hashed"] == sum(os.path.getsize(os.path.join(d, f)) for r in roots
                                        for d, _, fs in os.walk(r) for f in fs)
        else:
            assert found == {("missing", str(roots[0] / "many" / "f01"))}
