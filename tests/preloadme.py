"""Imported through a job type's ``preload`` (tests/testjobs.py): notes which process imported it."""

import os

_mark = os.environ.get("SDJOBS_TEST_PRELOAD_MARK")
if _mark:
    with open(_mark, "a") as f:
        f.write(f"{os.getpid()}\n")
