"""`sdjobs locations` and `sdjobs dupes --indexed --all-hosts` with two hosts on one library,
end to end through the CLI and real runners (each host's own: ``SDJOBS_HOST``), on SQLite
and on PostgreSQL (skipped until the data plane runs there)."""

from __future__ import annotations

import json
import shutil

import pytest

# this host: a, with /same; host b: /b and the same path /same with other contents
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def library_env(request, lib, monkeypatch, cli):
    if request.param == "sqlite":
        yield request.param  # the lib fixture stops the runners
        return
    url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("SDJOBS_LIBRARY", url)
    from sdjobs.store.libpath import UnsupportedLibrary, resolve_db_path

    try:
        resolve_db_path(url)
    except UnsupportedLibrary as exc:
        pytest.skip(f"the data plane on PostgreSQL is not in yet: {exc}")
    yield request.param
    cli("runner", "stop")  # lib's teardown stops the runners of its SQLite library only


def _as(cli, host: str, *args: str, check: bool = True):
    return cli(*args, check=check, env={"SDJOBS_HOST": host})


def _index_as(cli, host: str, path) -> None:
    _as(cli, host, "index", str(path), "--full-hash")
    _as(cli, host, "runner", "stop")  # the next host's job is run by that host's runner


@pytest.fixture
def two_hosts(cli, library_env, tmp_path):
    a, b, same = tmp_path / "a", tmp_path / "b", tmp_path / "same"
    for d in (a, b, same):
        d.mkdir()
    (a / "photo.jpg").write_bytes(b"P" * 5000)
    (b / "photo-copy.jpg").write_bytes(b"P" * 5000)
    (same / "notes.txt").write_bytes(b"a's notes")
    (a / "notes-copy.txt").write_bytes(b"a's notes")
    _index_as(cli, "a", a)
    _index_as(cli, "a", same)
    (same / "notes.txt").write_bytes(b"b's notes")   # b's /same holds other contents
    (b / "notes.txt").write_bytes(b"b's notes")
    _index_as(cli, "b", b)
    _index_as(cli, "b", same)
    shutil.rmtree(b)                                  # nothing of b's is on this disk
    (same / "notes.txt").unlink()
    return a, b, same


def test_locations_lists_every_hosts_with_its_host(cli, two_hosts):
    a, b, same = two_hosts
    rows = json.loads(_as(cli, "a", "locations", "--json").stdout)
    assert [(r["host"], r["path"], r["this_host"]) for r in rows] == \
        [("a", str(a), True), ("a", str(same), True), ("b", str(b), False), ("b", str(same), False)]
    only_b = json.loads(_as(cli, "a", "locations", "--host", "b", "--json").stdout)
    assert [r["path"] for r in only_b] == [str(b), str(same)]
    table = _as(cli, "a", "locations").stdout
    assert table.splitlines()[0].split()[:2] == ["HOST", "PATH"] and "b " in table
    # rm finds this host's location by path; another host's with --host, as listed
    assert _as(cli, "a", "locations", "rm", str(b), check=False).returncode == 2
    assert json.loads(_as(cli, "a", "locations", "rm", "--host", "b", str(same), "--json").stdout)["host"] == "b"
    rows = json.loads(_as(cli, "a", "locations", "--json").stdout)
    assert [(r["host"], r["path"]) for r in rows] == [("a", str(a)), ("a", str(same)), ("b", str(b))]


def test_dupes_all_hosts_from_the_index_alone(cli, two_hosts):
    a, b, same = two_hosts
    doc = json.loads(_as(cli, "a", "dupes", "--indexed", "--all-hosts", "--json").stdout)
    got = {frozenset(zip(g["hosts"], g["paths"], strict=True)) for g in doc["groups"]}
    assert got == {frozenset({("a", str(a / "photo.jpg")), ("b", str(b / "photo-copy.jpg"))}),
                   frozenset({("a", str(same / "notes.txt")), ("a", str(a / "notes-copy.txt"))}),
                   frozenset({("b", str(same / "notes.txt")), ("b", str(b / "notes.txt"))})}
    assert doc["summary"]["read_bytes"] == 0 and doc["summary"]["hosts"] == ["a", "b"]
    mine = json.loads(_as(cli, "a", "dupes", "--indexed", "--json").stdout)
    assert [set(g["hosts"]) for g in mine["groups"]] == [{"a"}]
    fdupes = _as(cli, "a", "dupes", "--indexed", "--all-hosts", "-f", "fdupes").stdout
    assert f"b:{b / 'photo-copy.jpg'}\n" in fdupes and f"a:{a / 'photo.jpg'}\n" in fdupes
    table = _as(cli, "a", "dupes", "--indexed", "--all-hosts", "--then", "trash").stdout
    assert f"  keep     a:{same / 'notes.txt'}" in table or f"  keep     a:{a / 'notes-copy.txt'}" in table
    marked = [line for line in table.splitlines() if line.startswith(("  keep", "  (trash)"))]
    assert len(marked) == 2 and all(" a:" in line for line in marked), table  # b's: never marked
    assert (a / "notes-copy.txt").exists()                     # a dry run


@pytest.mark.parametrize("args, words", [
    (["--indexed", "--mode", "deep"], "--mode deep"),
    (["--all-hosts", "--mode", "deep"], "--mode deep"),
    (["--indexed", "--no-index"], "--no-index"),
    ([], "at least one path"),
])
def test_dupes_indexed_bad_combinations_exit_2_with_one_line(cli, lib, args, words):
    proc = cli("dupes", *args)
    assert proc.returncode == 2 and words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
