"""The data plane under writers that do not queue on one lock (PostgreSQL, issue 18).

SQLite runs one write transaction at a time; PostgreSQL lets a copy job record a file in an
indexed location while a re-index applies its walk there. A path both write is the copy's
(the re-index leaves it), and neither fails.
"""

from __future__ import annotations

import os
import threading
import time

from sdjobs.store.data_plane import open_data_plane
from sdjobs.store.index_sync import Written
from sdjobs.store.open import open_store


def test_a_reindex_meets_a_file_a_copy_is_recording(tmp_path, postgres_url):
    root = tmp_path / "t"
    root.mkdir()
    (root / "old.txt").write_bytes(b"old")
    copier, indexer = open_store(postgres_url), open_store(postgres_url)
    try:
        data, data2 = open_data_plane(copier), open_data_plane(indexer)
        real = os.path.realpath(root)
        job = indexer.submit("index", 1, {"path": real})
        with data2.atomic():
            loc = data2.create_location(real, rules={}, mode="content", max_depth=None, recurse=True, now=1.0)
            data2.start_run(job, loc, real, {}, 1.0)
        new = os.path.join(real, "new.txt")
        (root / "new.txt").write_bytes(b"new!")
        st = os.lstat(new)
        walked = [os.fsencode(new), b"new.txt", "file", 4, st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns]
        data2.write_discovered(job, loc, walked, [], fresh=False, cursor=None, state=b"\x80")
        outcome: list = []

        def apply() -> None:
            try:
                with data2.atomic():
                    outcome.append(data2.apply_chunk(job, loc, b"", None))
            except Exception as exc:  # noqa: BLE001  (what the test reports)
                outcome.append(exc)

        with data.atomic():  # the copy's transaction: its row is written, not yet committed
            assert data.record_written(data.get_location(loc), [Written(new, "file", 4, st.st_ino, st.st_dev,
                                                                        st.st_mode, st.st_mtime_ns)]) == 1
            applying = threading.Thread(target=apply)
            applying.start()
            time.sleep(0.5)  # the re-index's INSERT now waits on the copy's row
        applying.join(30)
        assert outcome == [(0, 0)], outcome  # the row is the copy's; the re-index did not fail
        assert [e.name for e in data2.entries_under(root)] == ["new.txt"]
    finally:
        copier.close()
        indexer.close()
