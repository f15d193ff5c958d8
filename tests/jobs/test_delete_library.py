"""delete protects the library it runs in (``ctx.library``), whatever its config says."""

from __future__ import annotations

from dupes_helpers import run_inline, write


def test_delete_protects_its_library_when_the_config_does_not_name_it(store, lib, tmp_path):
    """A delete submitted without ``library`` (by a plugin, or as a child) used to be free to
    delete the library's own files: the library it runs in is protected whatever its config."""
    data = store.library.data_dir
    write(data / "cache" / "kept.bin", b"precious")
    victim = tmp_path / "fine.txt"
    write(victim, b"x")
    rec = run_inline(store, "delete", {"paths": [str(data / "cache"), str(victim)], "mode": "permanent", "yes": True})
    assert (data / "cache" / "kept.bin").read_bytes() == b"precious"
    assert not victim.exists() and rec.status == "completed-with-errors"
    assert rec.output["refused"] == 1 and rec.output["targets"] == 1
