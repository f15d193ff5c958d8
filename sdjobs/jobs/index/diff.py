"""The processing phase of a re-index: moves, changed and new entries, deletions.

The steps themselves are SQL over what the walk staged and what the library knew
(``store/index_diff.py`` says what each does); here they run in order, each
committed with where it got to, so a run killed between two steps redoes at most one.
"""

from __future__ import annotations

import os

from .walk import BATCH as CHUNK


# -- the phase ------------------------------------------------------------------------------
def process(job) -> None:
    """The processing phase of ``job`` (an Index job after a re-index's discovery):
    moves, then changed and new entries by chunks of scanned paths, then deletions
    by scope; every step commits with where it got to."""
    ctx, data, st, job_id, loc_id = job.ctx, job.data, job.st, job.ctx.job_id, job.loc.id
    job._phase("processing", total=st["found"], unit="entries")
    keep = [os.fsencode(p) for p in st["keep"]]
    verify = st["kind"] == "verify"
    # what was listed: the targets (each with all below it), or the directories whose digest changed
    scopes = data.changed_dirs(job_id) if verify else st["targets"]
    if st["step"] is None:
        with data.atomic():
            if not job.full_run:
                st["old"] = {t: data.totals_under(loc_id, t) for t in st["targets"]}
            if verify:
                moved, deleted = data.apply_moves_in(job_id, loc_id, scopes)
            else:
                moved, deleted = data.apply_moves(job_id, loc_id, scopes, keep)
            st["moved"] += moved
            st["deleted"] += deleted
            st["step"], st["pcursor"], st["done"] = "chunks", b"", 0
            data.save_run(job_id, "processing", None, st)
        job._test_delay()
    while st["step"] == "chunks":
        ctx.check_interrupt()
        after = st["pcursor"]
        upto = data.chunk_end(job_id, after, CHUNK)
        with data.atomic():
            modified, new = data.apply_chunk(job_id, loc_id, after, upto)
            st["modified"] += modified
            st["new"] += new
            st["done"] = min(st["found"], st["done"] + CHUNK)
            st["pcursor"] = upto
            if upto is None:
                st["step"], st["done"] = "delete", st["found"]
            data.save_run(job_id, "processing", None, st)
        ctx.progress(done=st["done"], fields=job._changes())
        job._percent(0.8 * st["done"] / max(1, st["found"]))
        job._test_delay()
    while st["step"] == "delete":
        ctx.check_interrupt()
        with data.atomic():
            if st["dti"] < len(scopes):
                where = scopes[st["dti"]]
                if verify:
                    deleted, cursor = data.delete_gone_in(job_id, loc_id, where), None
                else:
                    deleted, cursor = data.delete_gone(job_id, loc_id, where, st["pcursor"], keep, CHUNK)
                st["deleted"] += deleted
                st["pcursor"] = cursor
                if cursor is None:
                    st["dti"] += 1
            if st["dti"] >= len(scopes):
                st["step"] = "done"
                job._next("aggregation")
            else:
                data.save_run(job_id, "processing", None, st)
        ctx.progress(fields=job._changes())
        job._test_delay()
