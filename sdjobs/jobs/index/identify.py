"""The content phase of the indexer: read what the files lack, on all cores.

The files of the run's scope that lack what the mode asks for (content id,
full hash, kind and image facts) are cut into id ranges; each range is one
task for the runner's workers (``ctx.map``). A worker selects its range,
reads the files and writes the results in one transaction of its own, then
answers with counts and errors only: the job process hardly works, and no
path or digest crosses a pipe. Ranges are answered in order; the end of the
last one answered is the cursor a resumed run starts after (what a worker
wrote past it is skipped anyway: it no longer lacks anything). Files that
could not be read stay without and are reported.
"""

from __future__ import annotations

from ...store.index_content import ContentFound, ContentScope
from ...fs.identify import WANT_CAS, WANT_DEEP, WANT_FULL, identify_row
from .walk import BATCH

RANGE = max(1, min(BATCH // 4, 2000))  # files per task: a worker reads them and writes their results itself


def content_scope(job) -> ContentScope:
    """The files of the run's scope that lack what the mode asks for."""
    return ContentScope(job.loc.id, bool(job.want & WANT_CAS), bool(job.want & WANT_FULL),
                        bool(job.want & WANT_DEEP), None if job.full_run else tuple(job.st["targets"]))


def lacking_any(job) -> bool:
    """Whether a file of the run's scope still lacks what the mode asks for."""
    return job.data.content_lacking(content_scope(job))


def identify_files(job) -> None:
    """The content phase of ``job`` (an Index job, after aggregation)."""
    ctx, data, st = job.ctx, job.data, job.st
    done_before = data.identified_want(job.loc.id)
    if not (st["new"] or st["modified"] or st["moved"]) and job.want & done_before == job.want:
        st["content_skipped"] = True  # nothing changed, and nothing lacked after the last run
        return
    scope = content_scope(job)
    total, nbytes = data.content_todo(scope, st["ccursor"])
    full = bool(job.want & WANT_FULL)
    job._phase("content", total=total, unit="files", bytes_total=nbytes if full else None)
    if not total:
        st["identified"] = data.identified_count(ctx.job_id)
        return
    worker = data.content_worker()
    tasks = ((worker, ctx.job_id, scope, lo, hi, job.want)
             for lo, hi in data.content_ranges(scope, st["ccursor"], RANGE))
    done = done_bytes = 0
    for n, _ok, size, errors, hi in ctx.map(identify_range, tasks, chunksize=1):
        done += n
        done_bytes += size
        for path, message in errors:
            ctx.error(message, path=path)
        with data.atomic():  # the worker committed its range before answering
            if hi is not None:
                st["ccursor"] = hi
            data.save_run(ctx.job_id, "content", None, st)
        ctx.check_interrupt()
        ctx.progress(done=done, **({"bytes_done": done_bytes} if full else {}))
        job._percent(done / max(1, total))
        job._test_delay()
    ctx.add_bytes(done_bytes)
    st["identified"] = data.identified_count(ctx.job_id)


# -- in the worker processes ------------------------------------------------------------
def identify_range(task: tuple) -> tuple[int, int, int, list, int | None]:
    """Read the files of one id range that lack what ``want`` asks for, and write
    the results in one transaction. Returns (files, identified, bytes, errors, upto)."""
    worker, job_id, scope, after, upto, want = task
    rows = worker.rows(scope, after, upto)
    results, errors, nbytes = [], [], 0
    for r in rows:
        flags = ((WANT_CAS if r.no_cas and r.size > 0 else 0) | (WANT_FULL if r.no_full else 0)
                 | (WANT_DEEP if r.no_kind else 0)) & want
        res = identify_row((r.id, r.path, r.size, flags))
        nbytes += r.size
        if res[7] is not None:
            errors.append((r.path, res[7]))
        else:
            results.append(ContentFound(*res[:7]))
    worker.record(job_id, results, cas_only=want == WANT_CAS)
    return len(rows), len(results), nbytes, errors, upto
