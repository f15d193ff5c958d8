"""thumbs as a job, through the real CLI and runner: records, sharing, `thumbs ls`,
skipping on re-run, --regenerate, --freedesktop (checked against the standard),
bad input, the index's content ids."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path
from urllib.parse import quote

from PIL import Image
from thumbs_images import bomb_png, corrupt_jpeg, half_transparent_png, jpeg, photo, truncated_copy

from sdjobs import __version__
from sdjobs.fs.hashing import cas_id
from sdjobs.imaging.freedesktop import read_text_chunks


def db(lib: Path, query: str, params=()) -> list[tuple]:
    con = sqlite3.connect(lib)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


def data_dir(lib: Path) -> Path:
    return lib.with_name(lib.stem + "-data")


def run(cli, *args, code=0):
    proc = cli("thumbs", *map(str, args), "--json")
    assert proc.returncode == code, proc.stderr
    import json

    return json.loads(proc.stdout)


def sidecars(lib: Path) -> dict[str, int]:
    root = data_dir(lib) / "thumbs"
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()
            and not p.name.startswith(".")}


def make_tree(root: Path) -> Path:
    jpeg(root / "a.jpg", (800, 600), seed=1)
    shutil.copyfile(root / "a.jpg", root / "copy of a.jpg")  # same content: shares a's thumbnails
    half_transparent_png(root / "sub" / "alpha.png", (200, 100))
    jpeg(root / "sub" / "no-extension", (300, 600), seed=2)     # an image, found by its content
    frames = [photo((160, 120), seed=k).convert("P") for k in range(2)]
    frames[0].save(root / "sub" / "anim.gif", save_all=True, append_images=frames[1:], loop=0)
    jpeg(Path(os.fsdecode(os.path.join(os.fsencode(root), b"caf\xe9 (latin-1).jpg"))), (640, 640), seed=4)
    (root / "notes.txt").write_text("not an image\n")
    (root / "sub" / "data.bin").write_bytes(os.urandom(2000))
    return root


def test_records_sharing_and_ls(cli, lib, tmp_path):
    tree = make_tree(tmp_path / "tree")
    rec = run(cli, tree, "--size", "256", "--size", "grid@2x")
    out = rec["output"]
    assert rec["status"] == "completed"
    assert out["images"] == 6 and out["not_images"] == 2 and out["failed"] == 0
    assert out["rendered"] + out["shared"] == 6 and out["rendered"] >= 5
    rows = db(lib, "SELECT cas_id, variant, size, format, width, height, path FROM thumbnail ORDER BY path")
    assert len(rows) == 5 * 2  # five distinct contents, two variants each
    files = sidecars(lib)
    assert sorted(files) == sorted(r[6].removeprefix("thumbs/") for r in rows)
    for cas, variant, size, fmt, w, h, rel in rows:
        assert rel == f"thumbs/{cas[:2]}/{cas}-{variant}.webp" and fmt == "webp"
        with Image.open(data_dir(lib) / rel) as im:
            assert im.size == (w, h) and max(w, h) <= size
    a = str(tree / "a.jpg")
    assert db(lib, "SELECT cas_id, status FROM thumb_source WHERE path=?", (os.fsencode(a),)) == [
        (cas_id(a, os.path.getsize(a)), "ok")]

    listed = cli.json("thumbs", "ls", tree)
    by_path = {item["path"]: item for item in listed}
    latin1 = os.fsdecode(os.path.join(os.fsencode(tree), b"caf\xe9 (latin-1).jpg"))
    assert sorted(by_path) == sorted([latin1] + [str(tree / p) for p in (
        "a.jpg", "copy of a.jpg", "sub/alpha.png", "sub/no-extension", "sub/anim.gif")])
    assert [(t["width"], t["height"]) for t in by_path[latin1]["thumbnails"]] == [(256, 256), (512, 512)]
    assert db(lib, "SELECT status FROM thumb_source WHERE path=?", (os.fsencode(latin1),)) == [("ok",)]
    dims = {t["variant"]: (t["width"], t["height"]) for t in by_path[a]["thumbnails"]}
    assert dims == {"256": (256, 192), "grid@2x": (512, 384)}
    assert by_path[a]["thumbnails"] == by_path[str(tree / "copy of a.jpg")]["thumbnails"]
    assert {(t["width"], t["height"]) for t in by_path[str(tree / "sub/alpha.png")]["thumbnails"]} == {(200, 100)}
    for t in by_path[str(tree / "sub/no-extension")]["thumbnails"]:
        assert Path(t["path"]).is_file() and t["height"] == t["size"]  # portrait: the height is the bound

    one = cli.json("thumbs", "ls", tree / "sub" / "anim.gif")
    assert [i["path"] for i in one] == [str(tree / "sub" / "anim.gif")]
    human = cli("thumbs", "ls", tree / "sub", check=True)
    assert "alpha.png" in human.stdout and "200x100" in human.stdout and "a.jpg" not in human.stdout


def test_rerun_does_no_image_work_and_regenerate_redoes_it(cli, lib, tmp_path):
    tree = make_tree(tmp_path / "tree")
    run(cli, tree)
    before = sidecars(lib)
    again = run(cli, tree)["output"]
    assert again["rendered"] == 0 and again["up_to_date"] == 6 and again["thumbnails"] == 0
    assert sidecars(lib) == before  # not one sidecar rewritten

    jpeg(tree / "sub" / "no-extension", (300, 600), seed=9)  # new content under the same name
    changed = run(cli, tree)["output"]
    assert changed["rendered"] == 1 and changed["up_to_date"] == 5
    assert len(sidecars(lib)) == len(before) + 1  # the old content's sidecar stays, shared by nobody now

    time.sleep(0.01)
    current = sidecars(lib)
    regen = run(cli, tree, "--regenerate")["output"]
    assert regen["rendered"] + regen["shared"] == 6 and regen["up_to_date"] == 0
    after = sidecars(lib)
    live = {r[0].removeprefix("thumbs/") for r in db(lib, "SELECT t.path FROM thumbnail t JOIN thumb_source s"
                                                          " ON s.cas_id = t.cas_id")}
    assert all(after[p] != current[p] for p in live)


def test_bad_input_is_an_error_per_file_and_the_job_goes_on(cli, lib, tmp_path):
    tree = tmp_path / "bad"
    ok = jpeg(tree / "good.jpg", (640, 480))
    truncated_copy(ok, tree / "truncated.jpg")
    corrupt_jpeg(tree / "corrupt.jpg", ok)
    (tree / "mislabelled.png").write_text("<html>not a png</html>")
    bomb_png(tree / "bomb.png")
    (tree / "readme.md").write_text("# hello\n")
    proc = cli("thumbs", tree)
    assert proc.returncode == 1, proc.stderr
    assert "completed-with-errors" in proc.stderr
    job = db(lib, "SELECT id, status, errors FROM job")[-1]
    assert job[1:] == ("completed-with-errors", 4)
    errors = {os.path.basename(os.fsdecode(p)): m for p, m in
              db(lib, "SELECT path, message FROM job_event WHERE job_id=? AND kind='error'", (job[0],))}
    assert sorted(errors) == ["bomb.png", "corrupt.jpg", "mislabelled.png", "truncated.jpg"]
    assert "truncated" in errors["truncated.jpg"]
    assert "decompression bomb" in errors["bomb.png"]
    assert "mislabelled" in errors["mislabelled.png"]
    assert "JPEG" in errors["corrupt.jpg"]
    assert db(lib, "SELECT COUNT(*) FROM thumbnail")[0][0] == 1

    again = cli("thumbs", tree, "--json")  # the failures are reported again, without decoding anything
    assert again.returncode == 1
    import json

    out = json.loads(again.stdout)["output"]
    assert out["failed"] == 4 and out["rendered"] == 0 and out["up_to_date"] == 1 and out["not_images"] == 1


def test_freedesktop_thumbnails_follow_the_standard(cli, lib, tmp_path):
    cache = tmp_path / "xdg-cache"  # the lib fixture points XDG_CACHE_HOME here
    tree = tmp_path / "fd tree"
    photo_path = jpeg(tree / "été photo.jpg", (800, 600))
    alpha = half_transparent_png(tree / "alpha.png", (300, 150))
    bad = truncated_copy(photo_path, tree / "broken.jpg")
    os.utime(photo_path, (1_600_000_000, 1_650_000_000.75))
    out = run(cli, tree, "--freedesktop", code=1)["output"]
    assert out["freedesktop"] == 2 * 2 + 1  # normal + large for two images, one fail entry
    root = cache / "thumbnails"

    def uri(p: Path) -> str:
        return "file://" + quote(os.fsencode(os.path.abspath(p)), safe="/!$&'()*+,:=@")

    assert uri(photo_path).endswith("/fd%20tree/%C3%A9t%C3%A9%20photo.jpg")
    for src, dims in ((photo_path, {"normal": (128, 96), "large": (256, 192)}),
                      (alpha, {"normal": (128, 64), "large": (256, 128)})):
        name = hashlib.md5(uri(src).encode()).hexdigest() + ".png"
        for size_dir, wh in dims.items():
            thumb = root / size_dir / name
            assert stat.S_IMODE(thumb.stat().st_mode) == 0o600
            text = read_text_chunks(thumb)
            assert text["Thumb::URI"] == uri(src)
            assert text["Thumb::MTime"] == str(int(os.stat(src).st_mtime))
            assert text["Thumb::Size"] == str(os.stat(src).st_size)
            assert text["Software"].startswith("sdjobs")
            with Image.open(thumb) as im:
                assert im.format == "PNG" and im.size == wh
                assert im.mode == ("RGBA" if src == alpha else "RGB")
                assert im.info.get("interlace", 0) == 0
    assert read_text_chunks(root / "large" / (hashlib.md5(uri(photo_path).encode()).hexdigest() + ".png"))[
        "Thumb::MTime"] == "1650000000"
    fail = root / "fail" / f"sdjobs-{__version__}" / (hashlib.md5(uri(bad).encode()).hexdigest() + ".png")
    assert read_text_chunks(fail)["Thumb::URI"] == uri(bad)
    assert read_text_chunks(fail)["Thumb::MTime"] == str(int(os.stat(bad).st_mtime))
    for d in (root, root / "normal", root / "large", root / "fail", fail.parent):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]

    again = run(cli, tree, "--freedesktop", code=1)["output"]
    assert again["rendered"] == 0 and again["freedesktop"] == 0 and again["up_to_date"] == 2


def test_uses_the_index_content_id(cli, lib, store, tmp_path):
    from sdjobs.store import index_store

    tree = tmp_path / "indexed"
    a = jpeg(tree / "a.jpg", (320, 240))
    st = a.stat()
    loc = index_store.create_location(store, str(tree), rules={}, mode="content", max_depth=None, recurse=True,
                                      now=time.time())
    store._sql("INSERT INTO entry (location_id, path, name, kind, size, inode, device, mode, mtime_ns, cas_id)"
              " VALUES (?,?,?,?,?,?,?,?,?,?)", (loc, os.fsencode(str(a)), b"a.jpg", "file", st.st_size, st.st_ino,
                                                st.st_dev, st.st_mode, st.st_mtime_ns, "00c0ffee00c0ffee"))
    run(cli, tree)
    assert (data_dir(lib) / "thumbs" / "00" / "00c0ffee00c0ffee-256.webp").is_file()
    assert db(lib, "SELECT cas_id FROM thumb_source") == [("00c0ffee00c0ffee",)]
