"""`index --mode deep --thumbs`: the index finishes, then a child thumbs job makes the thumbnails."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from thumbs_images import jpeg  # noqa: E402


def test_index_deep_with_thumbs_spawns_a_thumbs_child(cli, store, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    jpeg(photos / "a.jpg", (640, 480), seed=1)
    jpeg(photos / "b.jpg", (300, 600), seed=2)
    (photos / "notes.txt").write_text("not an image")
    proc = cli("index", photos, "--mode", "deep", "--thumbs", "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["status"] == "completed" and rec["output"]["files"] == 3
    child = store.get(rec["output"]["thumbs_job"])
    assert child.type == "thumbs" and child.parent_id == rec["id"] and child.status == "completed"
    assert rec["children"] == [child.id]
    assert rec["claim"] == 2 and rec["attempts"] == 0, "the parent should have waited for its child without holding a worker"
    listed = cli.json("thumbs", "ls", str(photos))
    assert sorted(Path(t["source"] if "source" in t else t["path"]).name for t in listed) == ["a.jpg", "b.jpg"]
