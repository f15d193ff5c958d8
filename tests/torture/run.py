"""One trial: a seed picks an operation, its options, a tree and a fault; the oracles judge.

``run_trial(seed, op=None, fault=None)`` is all the CI tier and the soak call.
It returns a ``Result`` whose ``violations`` are empty when every invariant held.
Replay a seed with ``bench/soak.py --replay SEED`` (same op, fault and tree;
the timing of the fault is the one thing a replay cannot repeat exactly).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
import traceback
from dataclasses import dataclass, field

from . import faults as F
from . import oracles as O
from . import trees
from .engine import TERMINAL, Trial

OPS = ["copy", "copy_verify", "conflict_fail", "conflict_skip", "conflict_overwrite", "conflict_rename", "move_same", "move_cross", "delete_trash", "delete_permanent",
       "dupes_trash", "dupes_delete", "dupes_hardlink", "index", "validate", "thumbs"]
# faults that only make sense for some operations
ONLY = {
    "full_dest": {"copy", "copy_verify", "move_cross"},
    "full_library": {"index", "copy"},
    "source_change": {"copy", "copy_verify", "move_cross"},
    "kill_worker": {"copy", "copy_verify", "index", "thumbs", "dupes_trash", "dupes_delete", "dupes_hardlink",
                    "validate", "move_cross"},
}
SLOW_FAULTS = {"stop_cont"}  # 20 s and more each: the soak's, and one CI case
MAX_SECONDS = 150


@dataclass
class Result:
    seed: int
    op: str
    fault: str
    injected: bool = False
    status: str | None = None
    attempts: int | None = None
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tree: str = ""
    skipped: str = ""
    size: str = "small"
    kept: str = ""  # where the trial's files were kept (a failing trial's, for a post-mortem)

    @property
    def lost(self) -> bool:
        """User data destroyed or damaged (not merely left uncopied, which the job must admit)."""
        return any(v.startswith(("LOST", "CORRUPTED", "torn", "DELETE TOUCHED", "ORPHAN in the trash"))
                   for v in self.violations)

    def replay(self) -> str:
        return f"bench/soak.py --replay {self.seed} --ops {self.op} --faults {self.fault} --size {self.size}"

    def report(self) -> str:
        head = (f"seed {self.seed}: {self.op} + {self.fault} ({'injected' if self.injected else 'not injected'}), "
                f"status {self.status}, attempts {self.attempts}, {self.seconds:.1f}s; tree: {self.tree}")
        return "\n".join([head, *("  - " + v for v in self.violations), f"  replay: {self.replay()}"]
                         + ([f"  files kept in {self.kept}"] if self.kept else []))


def choose(seed: int, ops: list[str] | None = None, fault_kinds: list[str] | None = None) -> tuple[str, str]:
    rng = random.Random(seed)
    op = rng.choice(ops or OPS)
    allowed = [f for f in (fault_kinds or list(F.FAULTS)) if op in ONLY.get(f, {op})]
    return op, rng.choice(allowed or ["none"])


def _mount_tmpfs(path: str, size: str) -> str | None:
    """A small tmpfs at path; None when we may not mount (not root): the caller skips."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        return None
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
    return path if proc.returncode == 0 else None


def _umount(path: str) -> None:
    subprocess.run(["umount", "-l", path], capture_output=True)


def run_trial(seed: int, op: str | None = None, fault: str | None = None, *, size: str = "small",
              base_dir: str | None = None, keep_failed: bool = False, url: str | None = None) -> Result:
    """One trial; ``url``: on that PostgreSQL library (a fresh database) instead of SQLite."""
    if op is None or fault is None:
        op2, fault2 = choose(seed, [op] if op else None, [fault] if fault else None)
        op, fault = op or op2, fault or fault2
    res = Result(seed, op, fault, size=size)
    t0 = time.monotonic()
    base = tempfile.mkdtemp(prefix=f"torture-{seed}-", dir=base_dir)
    mounts: list[str] = []
    extra: list[str] = []
    trial = None
    try:
        lib_dir = None
        if fault == "full_library":
            lib_dir = _mount_tmpfs(os.path.join(base, "libfs"), "600k")
            if lib_dir is None:
                res.skipped = "full_library needs root to mount a small tmpfs"
                return res
            mounts.append(lib_dir)
        trial = Trial(base, lib_dir, url)
        _trial(trial, res, seed, op, fault, size, mounts, extra)
    except Exception:  # noqa: BLE001 - the harness's own error is this trial's result
        res.violations.append("HARNESS ERROR: " + traceback.format_exc().strip().splitlines()[-1])
        res.violations.append(traceback.format_exc()[-1500:])
    finally:
        if trial is not None:
            trial.shutdown()
            res.violations += [v for v in trial.violations if v not in res.violations]
            res.injected = res.injected or bool(trial.faults)
        for m in mounts:
            _umount(m)
        res.seconds = time.monotonic() - t0
        if res.violations and keep_failed:
            res.kept = base
        else:
            shutil.rmtree(base, ignore_errors=True)
        for d in extra:
            shutil.rmtree(d, ignore_errors=True)
    return res


def _total_bytes(tree: trees.Tree) -> int:
    return sum(e.size for e in tree.files())


def _trial(t: Trial, res: Result, seed: int, op: str, fault: str, size: str, mounts: list, extra: list) -> None:
    rng = random.Random(seed * 7919 + 1)
    tree = trees.random_tree(rng, size)
    res.tree = tree.describe()
    base = t.base
    if op == "move_cross":
        shm = tempfile.mkdtemp(prefix=f"torture-{seed}-", dir="/dev/shm")
        extra.append(shm)
        src = os.path.join(shm, "src")
    else:
        src = os.path.join(base, "src")
    trees.build(tree, src)
    if op.startswith("dupes"):
        trees.add_duplicates(src, rng)
    if op == "thumbs":
        trees.add_images(src, rng)
    if op.startswith("delete"):
        loose = os.path.join(src, "loose")
        os.makedirs(loose)
        for i in range(rng.randrange(30, 300)):
            with open(os.path.join(loose, f"f{i}"), "wb") as f:
                f.write(rng.randbytes(rng.randrange(0, 3000)))
    if fault == "full_dest":
        with open(os.path.join(src, "filler.bin"), "wb") as f:  # more than the 2 MiB destination holds
            f.write(rng.randbytes(3 * 1024 * 1024))
    if fault == "full_library":
        many = os.path.join(src, "many")
        os.makedirs(many)
        for i in range(4000):
            open(os.path.join(many, f"entry-with-a-long-name-{i:05d}"), "wb").close()
    before = O.manifest(src)
    total = sum(item[2] for item in before.values())

    args: list = []
    settle = 2.0 if fault != "none" else 0.0  # stretch the job over a few seconds, to be hit while it runs
    bw = [] if not settle else ["--bwlimit", str(max(64 * 1024, int(total / rng.uniform(2, 5))))]
    dst = os.path.join(base, "dst")
    ref = os.path.join(base, "ref")
    on_conflict = None
    pre = None
    if fault == "full_dest":
        mnt = _mount_tmpfs(os.path.join(base, "mnt"), "2m")
        if mnt is None:
            res.skipped = "full_dest needs root to mount a small tmpfs"
            return
        mounts.append(mnt)
        dst = os.path.join(mnt, "dst")
    if op in ("copy", "copy_verify") or op.startswith("conflict_"):
        subprocess.run(["cp", "-a", src, ref], check=True)
        if op.startswith("conflict_"):
            out = os.path.join(base, "out")
            os.makedirs(out)
            dst = os.path.join(out, "src")
            pre = _preexisting(src, dst, rng)
            on_conflict = op.split("_")[1]
            args = ["copy", src, out, "--on-conflict", on_conflict] + (["--verify"] if rng.random() < 0.5 else [])
        else:
            args = ["copy", src, dst] + (["--verify"] if op == "copy_verify" else [])
        args += bw
    elif op in ("move_same", "move_cross"):
        args = ["copy", "--move", src, dst] + bw
    elif op.startswith("delete"):
        tops = sorted(os.listdir(os.fsencode(src)))
        targets = [os.path.join(b"loose", n) for n in sorted(os.listdir(os.path.join(os.fsencode(src), b"loose")))]
        targets += rng.sample([n for n in tops if n != b"loose"], min(2, len(tops) - 1))
        mode = "trash" if op == "delete_trash" else "permanent"
        args = ["delete", "--mode", mode, "--yes", *bw,
                *[os.path.join(os.fsencode(src), tg) for tg in targets]]
    elif op.startswith("dupes"):
        then = op.split("_")[1]
        args = ["dupes", src, "--then", then, "--yes"] + bw
    elif op == "index":
        args = ["index", src]
        if settle:  # the product's test hook: small batches, a pause after each
            t.env.update({"SDJOBS_INDEX_BATCH": "4", "SDJOBS_INDEX_TEST_DELAY": "0.05"})
    elif op == "validate":
        args = ["validate", src, "--mode", rng.choice(["basic", "corruption", "complete"])] + bw
    elif op == "thumbs":
        args = ["thumbs", "make", src]
    t.start_runner()
    proc = t.cli(*args, "--detach", timeout=60)
    t.check_message(proc, f"sdjobs {args[0]} --detach")
    try:
        job = int(proc.stdout.split()[0])
    except (ValueError, IndexError):
        if fault == "full_library":  # a full library may refuse the job: then in one line
            res.injected = True
            return
        raise AssertionError(f"no job id from `sdjobs {args[0]}`: exit {proc.returncode}, "
                             f"{proc.stderr.decode(errors='replace')[-300:]}") from None
    t.watch(job)
    fn = F.FAULTS.get(fault)
    runners_then = list(t.runners)  # (for a lost library: these must stop, and their jobs)
    if fn is not None:
        frng = random.Random(seed * 31 + 7)
        if fault == "source_change":
            files = [os.path.join(os.fsencode(src), rel) for rel, item in before.items() if item[0] == "file"]
            injected = F.source_change(t, job, frng, files)
        else:
            injected = fn(t, job, frng)
        if injected:
            t.faults.append(fault)
        res.injected = injected
    elif fault in ("full_dest", "full_library"):
        res.injected = True
    if fault in ("remove_library", "truncate_library"):
        # The job's record may be gone with its library. The contract (README, Reliability): the
        # job is then abandoned; it stops for good at its next write or control check and
        # removes its temporaries, its runner stops, and what it finished stays finished (each
        # file complete, or untouched). Judged once every process of the library has ended.
        gone = fault == "remove_library" and t.job_row(job) is None  # (a new library took its name)
        rec = (None if gone else t.wait_end(job, 20, quiet=True)) or {"status": None, "id": job}
        if rec.get("status") is None:
            t.wait_gone(runners_then, 35)
    elif fault == "full_library":
        # Nothing can be recorded while the library's disk is full: the runner stops with one
        # line and the job stays as it was. Then space is freed, as a user would, and the job
        # must resume and finish.
        rec = t.wait_end(job, 20, quiet=True)
        if rec is None:
            subprocess.run(["mount", "-o", "remount,size=64m", t.lib_dir], capture_output=True)
            # The job resumes from where its last write went in, at the pace the test delay
            # sets: an index of the 4,000 entries whose rows filled the library takes 50 s at it
            # (1,000 batches of 4, 0.05 s each). Runners started from now on go at full speed.
            t.env.pop("SDJOBS_INDEX_TEST_DELAY", None)
            rec = t.wait_end(job, 90)
        if rec is None:
            return
    else:
        rec = t.wait_end(job, MAX_SECONDS - 30)
        if rec is None:
            return
    res.status, res.attempts = rec.get("status"), rec.get("attempts")
    _judge(t, res, rec, op, fault, src, dst, ref, before, pre, on_conflict, args)


def _preexisting(src: str, dst: str, rng: random.Random) -> dict:
    """Some of SRC's files already at DST: identical, different, or different with the same size and
    mtime (the case a size+mtime check misses). Returns the destination's manifest before the copy."""
    os.makedirs(dst)
    for rel, p, st in O.walk(src):
        if not (O.stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and len(os.path.basename(rel)) < 200):
            continue
        if rng.random() > 0.3:
            continue
        q = os.path.join(os.fsencode(dst), rel)
        os.makedirs(os.path.dirname(q), exist_ok=True)
        data = open(p, "rb").read()
        kind = rng.random()
        if kind < 0.3:
            new = data
        elif kind < 0.7 and data:
            new = bytes([data[0] ^ 0xFF]) + data[1:]  # same size, same mtime below
        else:
            new = b"old destination " + rng.randbytes(rng.randrange(0, 100))
        with open(q, "wb") as f:
            f.write(new)
        os.utime(q, ns=(st.st_atime_ns, st.st_mtime_ns))
    return O.manifest(dst)


def _judge(t: Trial, res: Result, rec: dict, op: str, fault: str, src: str, dst: str, ref: str,
           before: dict, pre: dict | None, on_conflict: str | None, args: list) -> None:
    v = res.violations
    status = rec.get("status")
    completed = status == "completed"
    lib_fault = fault in ("truncate_library", "remove_library", "full_library")
    must_complete = fault not in ("full_dest", "source_change") and not lib_fault
    if op == "conflict_fail":
        must_complete = False
    if op == "validate" or op == "thumbs":
        must_complete = must_complete and status not in ("completed-with-errors",)
    if must_complete and not completed and not (op in ("validate", "thumbs") and status == "completed-with-errors"):
        issues = rec.get("issues") or []
        kinds = list(dict.fromkeys(str(i.get("message"))[:70] for i in issues))
        why = (rec.get("error") or (f"{len(issues)} issue(s): " + "; ".join(kinds[:3]) if issues else ""))[:300]
        v.append(f"job ended {status}, not completed ({why})")
    if fault == "full_dest" and status == "completed":
        pass  # judged by the content oracles below
    # attempts count crashes only
    err = str(rec.get("error") or "")
    if "Traceback" in err or "rollback" in err or "without an exit status" in err:
        v.append(f"the job's error is not a plain message: {err[-160:]}")
    if status in ("completed", "completed-with-errors") and fault in F.CRASHES | {"none", "pause_resume", "cancel_retry", "sigterm_runner",
                                           "sighup_runner", "skewed_clock", "kill_worker"}:
        # (`attempts` counts crashes; a pool worker's death is one, unless another worker
        # finished its work first: the job's chunk was not lost)
        want = set(range(t.crashes, t.crashes + t.maybe_crashes + 1 + (fault == "kill_worker")))
        if rec.get("attempts") not in want:
            v.append(f"attempts (crashes) {rec.get('attempts')}, expected {' or '.join(map(str, sorted(want)))}"
                     f" ({t.crashes} crash(es) injected)")
    # the data
    if op in ("copy", "copy_verify"):
        if status in ("completed", "completed-with-errors") and fault not in ("source_change", "full_dest"):
            v += O.copy_exact(src, dst, ref)  # cp -a copies everything: so must a finished copy
        elif fault == "source_change":
            v += _source_change_oracle(t, rec, src, dst)
        else:
            v += O.copy_partial(before, dst)
        if status in TERMINAL or lib_fault:  # (an abandoned job removes its temporaries too)
            v += O.leftovers(dst)
        v += O.unchanged(before, src, "copy") if fault != "source_change" else []
    elif op.startswith("conflict_"):
        v += _conflict_oracle(before, pre, dst, on_conflict, status)
        v += O.leftovers(dst)
    elif op.startswith("move"):
        if fault == "source_change":
            v += _source_change_oracle(t, rec, src, dst)
        else:
            v += O.move_oracle(before, src, dst, completed)
    elif op.startswith("delete"):
        targets = _delete_targets(args, src)
        trash = O.trash_dir(t.xdg) if op == "delete_trash" else None
        v += O.delete_oracle(before, src, targets, trash, completed)
    elif op.startswith("dupes"):
        then = op.split("_")[1]
        if completed:
            v += O.dupes_oracle(before, src, then, O.trash_dir(t.xdg))
        else:
            v += [x for x in O.dupes_oracle(before, src, "partial", None) if x.startswith("LOST")]
        if then == "trash":
            v += [x for x in O.delete_oracle({}, src, [], O.trash_dir(t.xdg), False) if "ORPHAN" in x]
    elif op == "index":
        v += O.unchanged(before, src, "index")
        if completed:
            v += O.index_oracle(t.lib, src)
    elif op in ("validate", "thumbs"):
        v += O.unchanged(before, src, op)


def _delete_targets(args: list, src: str) -> list[bytes]:
    bsrc = os.fsencode(src) + b"/"
    return [a[len(bsrc):] for a in args if isinstance(a, bytes) and a.startswith(bsrc)]


def _conflict_oracle(before: dict, pre: dict, dst: str, mode: str, status: str | None) -> list[str]:
    out = []
    now = O.manifest(dst)
    show = O._show
    if mode == "fail" and any(r in pre for r in before if before[r][0] == "file"):
        if now != pre:
            out.append("--on-conflict fail wrote to the destination")
        if status == "completed":
            out.append("--on-conflict fail completed although destinations existed")
        return out
    # (fail with nothing in the way, as _preexisting may leave it: a copy like any other, judged below)
    for rel, item in before.items():
        if item[0] != "file":
            continue
        existed = pre.get(rel)
        got = now.get(rel)
        if existed is None or existed[0] == "dir":
            if status == "completed" and got != item:
                out.append(f"--on-conflict {mode}: {show(rel)} not copied correctly")
        elif mode == "overwrite":
            if got == existed and status != "completed":
                pass  # not reached by a job that did not complete: the old destination stays whole
            elif got != item:
                out.append(f"--on-conflict overwrite kept the old destination of {show(rel)}"
                           + (" (same size and mtime)" if got and got[2] == item[2] else ""))
        else:
            if got != existed:
                out.append(f"--on-conflict {mode} changed the existing {show(rel)}")
            if mode == "rename" and status == "completed" and existed != item:  # (an identical one is kept: no copy needed)
                d = os.path.dirname(rel)
                if not any(r != rel and os.path.dirname(r) == d and x == item for r, x in now.items()):
                    out.append(f"--on-conflict rename: no renamed copy of {show(rel)}")
    return out[:6]


def _source_change_oracle(t: Trial, rec: dict, src: str, dst: str) -> list[str]:
    """A file changed while it was copied: at the destination it is one of the contents the source
    had (before, between or after the changes), or absent, or the job named it in a warning or an
    error. Never a torn mix passed over in silence."""
    versions = getattr(t, "versions", {})
    text = repr(rec.get("issues")) + repr(rec.get("error"))
    logs = t.cli("jobs", "logs", rec["id"], timeout=30)
    logs = logs.stdout + logs.stderr
    out = []
    bsrc = os.fsencode(src)
    for p, seen in sorted(versions.items()):
        rel = os.path.relpath(p, bsrc)
        got = O.manifest_one(os.path.join(os.fsencode(dst), rel))
        if got is None or got[0] != "file" or got[1] in seen:
            continue
        name = os.path.basename(rel)
        if name.decode(errors="replace")[:40] in text or name in logs:
            continue
        out.append(f"torn copy kept silently: {O._show(rel)} ({got[2]} bytes) at the destination is none of "
                   f"the {len(seen)} contents its source had, and the job said nothing")
    return out[:5]
