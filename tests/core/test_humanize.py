"""Counts read as English: "1 file", "2 files", in the helper and in every job's summary."""

from __future__ import annotations

import re

from sdjobs.core.humanize import plural
from sdjobs.jobs.copy.job import Copy
from sdjobs.jobs.delete.job import Delete
from sdjobs.jobs.dupes.job import Dupes
from sdjobs.jobs.index.job import Index
from sdjobs.jobs.thumbs.job import Thumbs
from sdjobs.jobs.validate.job import Validate

ONE_MANY = re.compile(r"(?<![\d,.])1 (files|dirs|symlinks|entries|groups|copies|extra copies|images|items|errors"
                      r"|warnings|\w+ thumbnails)\b")


def test_plural():
    assert plural(1, "file") == "1 file" and plural(0, "file") == "0 files"
    assert plural(1234, "file") == "1,234 files" and plural(1, "entry", "entries") == "1 entry"
    assert plural(2, "extra copy", "extra copies") == "2 extra copies"


def summaries(n: int) -> list[str]:
    return [
        Copy.summarize({"files": n, "bytes": n, "dirs": n, "links": n}),
        Delete.summarize({"mode": "trash", "targets": n, "files": n, "bytes": n}),
        Dupes.summarize({"groups": n, "duplicates": n, "wasted": n, "scanned": n, "read_bytes": 0,
                         "action": {"then": "trash", "keep": "oldest", "applied": False, "files": n, "bytes": n}}),
        Index.summarize({"location": "/x", "path": "/x", "entries": n, "files": n, "bytes": n, "new": n,
                         "modified": 0, "moved": 0, "deleted": 0, "identified": n}),
        Thumbs.summarize({"rendered": n, "thumbnails": n, "format": "webp"}),
        Validate.summarize({"mode": "basic", "checked": n, "hashed": 0,
                            "counts": {"critical": n, "error": n, "warning": n, "info": n}}),
    ]


def test_summaries_say_1_file_not_1_files():
    for text in summaries(1):
        assert not ONE_MANY.search(text), text
    joined = " | ".join(summaries(1))
    for phrase in ("copied 1 file ", "1 dir,", "1 symlink", "1 group of duplicates", "1 extra copy,",
                   "1 file scanned", "would trash 1 file ", "1 entry,", "read 1 file", "1 image rendered",
                   "1 webp thumbnail)", "1 file checked", "1 error,", "1 warning,"):
        assert phrase in joined, phrase
    joined = " | ".join(summaries(2))
    for phrase in ("copied 2 files", "2 groups", "2 extra copies", "2 entries", "2 images", "2 errors", "2 warnings"):
        assert phrase in joined, phrase
