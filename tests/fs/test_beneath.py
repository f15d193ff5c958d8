"""fs/beneath: directories opened beneath a trusted one, never through a symlink (openat2 and the fallback)."""

from __future__ import annotations

import errno
import os

import pytest

from sdjobs.fs import beneath
from sdjobs.fs.beneath import DirCache, open_dir

MODES = [True, False]  # openat2 where the kernel has it; the component-by-component fallback, forced


def tree(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b" / "c").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "b" / "c").mkdir(parents=True)
    return root, outside


def ino(fd):
    return os.fstat(fd).st_ino


@pytest.mark.parametrize("openat2", MODES)
def test_opens_what_is_beneath(tmp_path, openat2):
    root, _ = tree(tmp_path)
    rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = open_dir(rfd, "a/b/c", openat2=openat2)
        assert ino(fd) == os.stat(root / "a" / "b" / "c").st_ino
        os.close(fd)
        fd = open_dir(rfd, "", openat2=openat2)
        assert ino(fd) == os.stat(root).st_ino
        os.close(fd)
    finally:
        os.close(rfd)


@pytest.mark.parametrize("openat2", MODES)
@pytest.mark.parametrize("component", ["a", "a/b", "a/b/c"])
@pytest.mark.parametrize("absolute", [True, False])
def test_a_symlink_at_any_component_is_refused(tmp_path, openat2, component, absolute):
    root, outside = tree(tmp_path)
    swapped = root / component
    os.rename(swapped, tmp_path / "moved-away")
    depth = component.count("/")
    target = outside / "/".join(["b", "c"][:depth]) if depth else outside
    os.symlink(target if absolute else os.path.relpath(target, swapped.parent), swapped)
    rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as info:
            open_dir(rfd, "a/b/c", openat2=openat2)
        assert info.value.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV)
    finally:
        os.close(rfd)


@pytest.mark.parametrize("openat2", MODES)
@pytest.mark.parametrize("rel", ["..", "a/../../outside", "/etc"])
def test_dotdot_and_absolute_paths_are_refused(tmp_path, openat2, rel):
    root, _ = tree(tmp_path)
    rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as info:
            open_dir(rfd, rel, openat2=openat2)
        assert info.value.errno == errno.EXDEV
    finally:
        os.close(rfd)


@pytest.mark.parametrize("openat2", MODES)
def test_the_cache_reuses_descriptors_and_refuses_a_swap_it_has_not_opened_yet(tmp_path, openat2):
    root, outside = tree(tmp_path)
    with DirCache(str(tmp_path), limit=2, openat2=openat2) as dirs:
        c = dirs.fd(str(root / "a" / "b" / "c"))
        assert dirs.fd(str(root / "a" / "b" / "c")) == c
        assert ino(dirs.fd(str(root / "a"))) == os.stat(root / "a").st_ino
        assert ino(dirs.fd(str(root / "a" / "b"))) == os.stat(root / "a" / "b").st_ino  # evicts c
        os.rename(root / "a" / "b" / "c", tmp_path / "gone")
        os.symlink(outside / "b" / "c", root / "a" / "b" / "c")
        with pytest.raises(OSError):
            dirs.fd(str(root / "a" / "b" / "c"))
        with pytest.raises(OSError):
            dirs.fd("/etc")


def test_the_kernel_has_openat2_or_the_fallback_is_used(tmp_path):
    rfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    (tmp_path / "x").mkdir()
    os.close(open_dir(rfd, "x"))
    os.close(rfd)
    assert beneath.HAVE_OPENAT2 in (True, False)


@pytest.mark.parametrize("openat2", MODES)
def test_a_directory_that_can_be_searched_but_not_read_still_opens(openat2):
    """As cp does, a parent of mode 0711 (another user's home, say) is enough to reach what is below it."""
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to run the check as another user (nobody)")
    base = tempfile.mkdtemp(prefix="sdjobs-beneath-")
    try:
        os.chmod(base, 0o711)
        os.makedirs(os.path.join(base, "pub", "x"))
        os.chmod(os.path.join(base, "pub"), 0o711)
        code = ("import os, sys; from sdjobs.fs.beneath import DirCache\n"
                f"d = DirCache({base!r}, openat2={openat2})\n"
                f"fd = d.fd({os.path.join(base, 'pub', 'x')!r})\n"
                f"assert os.fstat(fd).st_ino == {os.stat(os.path.join(base, 'pub', 'x')).st_ino}\n")
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert proc.returncode == 0, proc.stderr
    finally:
        shutil.rmtree(base)
