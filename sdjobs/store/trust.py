"""Trust only a library the running user owns, as ssh and gpg insist for their files.

A library holds jobs that the runner executes with the runner's rights, and a data folder
where the runner creates and writes files (locks, the runner log, the command socket,
thumbnails). Whoever can write any of them, or any folder on the way to them, can make the
runner delete, copy or overwrite what they like. So before a library is opened:

- the library file, its ``-wal`` and ``-shm``, its data folder and every entry at the top
  of that folder are owned by the running user, are not symlinks, and are not writable by
  others (nor by the group, unless the group is the user's own private group);
- every folder on the way to the library, from ``/``, is owned by root or the user and is
  not writable by others (a world-writable folder with the sticky bit, like ``/tmp``, is
  fine: nobody else can rename or remove what is ours in it).

``SDJOBS_SHARED_LIBRARY=1`` is the shared mode (docs/security.md): a library folder that is
setgid and owned by a group the user is in may be group-writable, and the library's files
may belong to other members of that group; never world-writable, never symlinks, never for
root (a job any group member queues would run as root).

Only ``os`` is imported: the command-line entry point checks a library before it starts a
runner (runner/prestart.py).
"""

import grp
import os
import pwd
import stat

from .libpath import is_postgres

SHARED_VAR = "SDJOBS_SHARED_LIBRARY"
DOC = "docs/security.md"


class UntrustedLibrary(Exception):
    """Raised with a one-line message that says how to fix it; the CLI turns it into exit 2
    (store/api.py wraps it as BadInput)."""


def shared_mode() -> bool:
    return os.environ.get(SHARED_VAR, "") not in ("", "0")


def check_library(db_path: str, data_dir: str) -> None:
    """Raise UntrustedLibrary unless the library at ``db_path`` may be trusted.

    Parts that do not exist yet are fine: the caller creates them with O_EXCL/O_NOFOLLOW
    or mkdir, which neither follow nor reuse what someone else planted."""
    shared = shared_mode()
    if shared and os.geteuid() == 0:
        raise UntrustedLibrary(f"{SHARED_VAR}=1 is refused for root: a job any member of the group queues"
                               f" would run as root (see {DOC})")
    if is_postgres(db_path):  # only its local data folder is a file here (store/libpath.py)
        _check_ancestors(os.path.dirname(data_dir), shared)
        files = [data_dir]
    else:
        _check_ancestors(os.path.dirname(db_path), shared)
        files = [db_path, db_path + "-wal", db_path + "-shm", data_dir]
    for path in files:
        _check_own(path, shared, what="library" if path == db_path else None)
    try:
        entries = list(os.scandir(data_dir))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UntrustedLibrary(f"cannot read the library's data folder {data_dir}: {exc.strerror}") from None
    for e in entries:
        _check_own(e.path, shared)


def _check_own(path: str, shared: bool, what: str | None = None) -> None:
    """``path`` (if it exists) is ours, not a symlink, and writable by nobody else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    what = what or "library file"
    if stat.S_ISLNK(st.st_mode):
        raise UntrustedLibrary(f"{what} {_show(path)} is a symlink; refusing to follow it"
                               f" (remove it, or see {DOC})")
    uid = os.geteuid()
    if stat.S_ISDIR(st.st_mode):
        shared = shared and bool(st.st_mode & stat.S_ISGID)  # shared folders are setgid
    problems = []
    if st.st_uid != uid and not (shared and _shared_group(st.st_gid)):
        problems.append(f"is owned by uid {st.st_uid}")
    if st.st_mode & stat.S_IWOTH:
        problems.append("writable by others")
    elif st.st_mode & stat.S_IWGRP and not _group_ok(st, shared):
        problems.append("writable by its group")
    if problems:
        raise UntrustedLibrary(f"{what} {_show(path)} {' and '.join(problems)}; refusing to run jobs from it"
                               f" (chown/chmod it, or see {DOC} for shared libraries)")


def _check_ancestors(folder: str, shared: bool) -> None:
    """Every folder from ``/`` to ``folder`` (both as written and as resolved) can be
    renamed or replaced by nobody but root and the user."""
    seen = set()
    for start in (os.path.abspath(folder), os.path.realpath(folder)):
        p = start
        while p not in seen:
            seen.add(p)
            _check_folder(p, shared, immediate=p == start)
            parent = os.path.dirname(p)
            if parent == p:
                break
            p = parent


def _check_folder(path: str, shared: bool, immediate: bool) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return  # created by us below a folder checked here
    except OSError as exc:
        raise UntrustedLibrary(f"cannot check the library folder {_show(path)}: {exc.strerror}") from None
    uid = os.geteuid()
    shared = shared and immediate and bool(st.st_mode & stat.S_ISGID)  # the shared library's own folder
    owner_ok = st.st_uid in (0, uid) or (shared and _shared_group(st.st_gid))
    if stat.S_ISLNK(st.st_mode):
        if not owner_ok:  # a link's own mode means nothing; its owner may remove or retarget it
            raise UntrustedLibrary(f"the library's path goes through {_show(path)}, a symlink owned by uid"
                                   f" {st.st_uid}; refusing to run jobs from it (see {DOC})")
        return
    sticky = st.st_mode & stat.S_ISVTX
    problems = []
    if not owner_ok:
        problems.append(f"is owned by uid {st.st_uid}")
    if st.st_mode & stat.S_IWOTH and not sticky:
        problems.append("writable by others without the sticky bit")
    elif st.st_mode & stat.S_IWGRP and not sticky and not _group_ok(st, shared):
        problems.append("writable by its group")
    if problems:
        raise UntrustedLibrary(f"the library's folder {_show(path)} {' and '.join(problems)}; refusing to run"
                               f" jobs from a library others can replace (chown/chmod it, move the library,"
                               f" or see {DOC} for shared libraries)")


def _group_ok(st: os.stat_result, shared: bool) -> bool:
    """Group write is harmless when the group is the user's private group (as Debian's ssh
    allows), or, in shared mode, a group of the user on a setgid folder's tree."""
    if shared and _shared_group(st.st_gid):
        return True
    return _private_group(st.st_gid)


def _shared_group(gid: int) -> bool:
    return gid == os.getegid() or gid in os.getgroups()


def _private_group(gid: int) -> bool:
    try:
        me = pwd.getpwuid(os.geteuid())
        g = grp.getgrgid(gid)
    except KeyError:
        return False
    return g.gr_name == me.pw_name and gid == me.pw_gid and set(g.gr_mem) <= {me.pw_name}


def _show(path: str) -> str:
    from ..fs.names import display_path

    return display_path(path)
