"""copy's large files in their own thread: halted at a chunk, resumed from there, reported in order."""

from __future__ import annotations

import os
import time

from sdjobs.fs import copyfile as cf
from sdjobs.jobs.copy.large import LargeCopier


def test_a_halted_large_copy_keeps_its_temp_and_resumes_from_its_offset(tmp_path):
    src, dst = tmp_path / "big.bin", tmp_path / "out.bin"
    data = os.urandom(6 * 1024 * 1024)
    src.write_bytes(data)
    roots = [str(tmp_path)]
    st = os.stat(src)
    first = LargeCopier("0badc0de", verify=False, move=False, replace=False, roots=roots)
    first.bwlimit = 4 * 1024 * 1024  # 512 KiB chunks, 8 a second
    first.add(str(src), str(dst), 0)
    deadline = time.monotonic() + 30
    while (first.current or {}).get("offset", 0) < 1024 * 1024:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    first.halt()
    offset, tmp = first.current["offset"], first.current["tmp"]
    assert 0 < offset < len(data) and cf.is_temp_of(tmp, "0badc0de")
    assert not dst.exists(), "a half-written file is visible under its final name"
    assert os.path.getsize(tmp_path / tmp) >= offset
    assert first.results == type(first.results)()

    second = LargeCopier("0badc0de", verify=True, move=False, replace=False, roots=roots)
    second.add(str(src), str(dst), 0, offset, tmp, size=len(data))
    second.finish()
    assert second.wait(30)
    assert list(second.results) == [(str(src), str(dst), len(data), None, 0, len(data), False)]
    assert dst.read_bytes() == data and os.stat(dst).st_mtime_ns == st.st_mtime_ns
    assert not os.path.exists(tmp_path / tmp)


def test_errors_come_back_as_results_and_the_next_file_still_copies(tmp_path):
    (tmp_path / "ok").write_bytes(b"fine" * 1000)
    copier = LargeCopier("0badc0de", verify=False, move=True, replace=False, roots=[str(tmp_path)])
    copier.add(str(tmp_path / "gone"), str(tmp_path / "gone.out"), 0)
    copier.add(str(tmp_path / "ok"), str(tmp_path / "ok.out"), 0, size=4000)
    copier.finish()
    assert copier.wait(30)
    gone, ok = copier.results
    assert gone[2] == 0 and gone[3][0] == 2  # ENOENT
    assert ok == (str(tmp_path / "ok"), str(tmp_path / "ok.out"), 4000, None, 0, 4000, False)  # (its top and size, as given)
    assert not (tmp_path / "ok").exists() and (tmp_path / "ok.out").read_bytes() == b"fine" * 1000
    assert sorted(os.listdir(tmp_path)) == ["ok.out"]
