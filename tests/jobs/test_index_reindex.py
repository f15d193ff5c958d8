"""index: the digest-verified full re-index (units over the workers) and its edge cases."""

import os
import shutil

import pytest
from index_helpers import entries, expected, location, make_tree, subtree_sums


def index(cli, *args):
    rec = cli.json("index", *map(str, args))
    assert rec["status"] == "completed", rec
    return rec["output"]


def assert_exact(lib, root, **rules):
    got = entries(lib, root)
    want = expected(root, **rules)
    assert set(got) == want
    for rel, sums in subtree_sums(root, want).items():
        assert got[rel][4:] == sums, rel
    loc = location(lib, root)
    assert loc["entries"] == len(want)
    assert loc["total_size"] == sum(v[1] for v in got.values() if v[0] == "file")
    return got


def test_an_unchanged_tree_reports_nothing_from_any_unit(cli, lib, tmp_path):
    from sdjobs.fs.rules import WalkRules
    from sdjobs.jobs.index.verify import plan_units, verify_unit
    from sdjobs.store import index_store as ixs
    from sdjobs.store.api import Store
    from sdjobs.store.index_reader import IndexReader
    from sdjobs.store.library import Library

    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    store = Store(Library(lib))
    loc = ixs.find_location(store, root)
    rules = WalkRules.from_dict(loc.rules)
    units = plan_units(str(root), rules, None, True, workers=8)  # few top dirs: split one level deeper
    assert any(not direct for _u, direct in units) and sum(1 for _u, d in units if d) > 1
    walked = 0
    for unit, direct in units:
        out = verify_unit((IndexReader(str(lib)), loc.id, str(root), unit, direct, loc.rules, None, True))
        assert out["dirs"] == [] and out["totals"] == [] and out["errors"] == [], unit
        walked += out["walked"]
    assert walked == loc.entries
    (root / "docs" / "deep" / "new.txt").write_text("x")
    out = verify_unit((IndexReader(str(lib)), loc.id, str(root), str(root / "docs"), True, loc.rules, None, True))
    assert [os.fsdecode(d[0]) for d in out["dirs"]] == [str(root / "docs")]  # deep's mtime changed
    out = verify_unit((IndexReader(str(lib)), loc.id, str(root), str(root / "docs" / "deep"), False, loc.rules, None, True))
    changed = {os.fsdecode(d[0]): d for d in out["dirs"]}
    assert set(changed) == {str(root / "docs" / "deep")}
    assert b"new.txt" in changed[str(root / "docs" / "deep")][2][1::8]  # children as flat values, 8 each
    store.close()


def test_changes_at_every_level_of_a_split_tree(cli, lib, tmp_path):
    root = tmp_path / "tree"
    (root / "only" / "a" / "x").mkdir(parents=True)
    (root / "only" / "b").mkdir(parents=True)
    for i in range(5):
        (root / "only" / "a" / "x" / f"f{i}").write_text("x" * i)
        (root / "only" / "b" / f"g{i}").write_text("y" * i)
    (root / "top.txt").write_text("top")
    index(cli, root)
    (root / "top.txt").write_text("top, longer")                        # root level
    (root / "only" / "direct.txt").write_text("d")                      # a direct-only unit
    os.unlink(root / "only" / "a" / "x" / "f1")                         # deep in a subtree unit
    os.rename(root / "only" / "b" / "g2", root / "only" / "a" / "g2")   # across units
    shutil.rmtree(root / "only" / "b")                                  # a whole unit gone
    out = index(cli, root)
    assert (out["new"], out["modified"], out["moved"]) == (1, 1, 1), out
    assert out["deleted"] == 1 + 1 + 4  # f1, b, and b's four remaining files
    assert_exact(lib, root)
    again = index(cli, root)
    assert (again["new"], again["modified"], again["moved"], again["deleted"]) == (0, 0, 0, 0)


def test_a_subtree_refresh_then_a_revert_is_seen_by_the_next_full_index(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    os.rename(root / "docs" / "a.txt", root / "docs" / "a2.txt")
    index(cli, root / "docs")
    assert "docs/a2.txt" in entries(lib, root)
    os.rename(root / "docs" / "a2.txt", root / "docs" / "a.txt")  # exactly as it was when first indexed
    out = index(cli, root)
    assert out["moved"] == 1
    assert_exact(lib, root)


def test_changing_rules_and_depth_on_a_reindex(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root)
    out = index(cli, root, "--skip-hidden", "--skip-deps")
    assert out["deleted"] == len(expected(root)) - len(expected(root, skip_hidden=True, skip_deps=True))
    assert_exact(lib, root, skip_hidden=True, skip_deps=True)
    index(cli, root, "--depth", "1")
    got = entries(lib, root)
    assert set(got) == {r for r in expected(root, skip_hidden=True, skip_deps=True) if r.count("/") <= 1}
    (root / "docs" / "deep" / "deeper" / "c.txt").write_text("below the limit")
    (root / "docs" / "d.txt").write_text("at the limit")
    out = index(cli, root)
    assert out["new"] == 1
    index(cli, root, "--depth", "-1", "--no-skip-hidden", "--no-skip-deps")
    assert_exact(lib, root)


def test_a_changed_directory_too_big_to_send_is_listed_again(cli, lib, tmp_path, monkeypatch):
    monkeypatch.setenv("SDJOBS_INDEX_ROW_CAP", "5")
    root = tmp_path / "tree"
    (root / "big").mkdir(parents=True)
    for i in range(30):
        (root / "big" / f"f{i:02d}").write_text(str(i))
    index(cli, root)
    for i in range(0, 30, 3):
        os.unlink(root / "big" / f"f{i:02d}")
    (root / "big" / "new").write_text("n")
    out = index(cli, root)
    assert (out["new"], out["deleted"]) == (1, 10)
    assert_exact(lib, root)


@pytest.mark.parametrize("mode", ["shallow", "content"])
def test_reindex_after_a_directory_vanishes_and_comes_back_as_a_file(cli, lib, tmp_path, mode):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    index(cli, root, "--mode", mode)
    shutil.rmtree(root / "src")
    (root / "src").write_text("now a file")
    out = index(cli, root)
    assert out["modified"] == 1 and out["deleted"] == 3  # src/pkg and its two files
    got = assert_exact(lib, root)
    assert got["src"][0] == "file"
    if mode == "content":
        assert got["src"][2] is not None


def test_an_unchanged_reindex_still_reads_what_a_new_mode_asks_for(cli, lib, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    files = [r for r, v in expected_entries(cli, lib, root, "--mode", "shallow").items() if v[0] == "file"]
    non_empty = [r for r in files if os.path.getsize(root / r)]
    assert all(entries(lib, root)[r][2] is None for r in files)
    out = index(cli, root, "--mode", "content")  # same tree, more asked for
    assert out["identified"] == len(non_empty)
    assert all(entries(lib, root)[r][2] for r in non_empty)
    assert index(cli, root)["identified"] == 0  # nothing changed, nothing lacks: not even looked for
    out = index(cli, root, "--full-hash")
    assert out["identified"] == len(files) and all(entries(lib, root)[r][3] for r in files)
    (root / "docs" / "a.txt").write_text("changed")
    out = index(cli, root, "--mode", "shallow")  # the change drops the content id...
    assert entries(lib, root)["docs/a.txt"][2] is None
    out = index(cli, root, "--mode", "content")  # ...which the next content run puts back
    assert out["identified"] == 1 and entries(lib, root)["docs/a.txt"][2]


def expected_entries(cli, lib, root, *args):
    index(cli, root, *args)
    return entries(lib, root)
