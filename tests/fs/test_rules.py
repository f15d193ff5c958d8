"""Tests for sdjobs.fs.rules: WalkRules config and .gitignore matching."""

from __future__ import annotations

import msgpack
import pytest

from sdjobs.fs.rules import GitIgnore, WalkRules, parse_gitignore_line


def test_defaults():
    r = WalkRules()
    assert (r.skip_system, r.skip_git, r.gitignore, r.skip_hidden, r.skip_deps) == (
        True, True, True, False, False)


def test_dict_round_trip_through_msgpack():
    r = WalkRules(skip_system=False, skip_hidden=True, skip_deps=True)
    packed = msgpack.packb(r.to_dict())
    assert WalkRules.from_dict(msgpack.unpackb(packed)) == r


def test_from_dict_ignores_unknown_and_defaults_missing():
    r = WalkRules.from_dict({"skip_hidden": True, "from_the_future": 3})
    assert r == WalkRules(skip_hidden=True)
    assert WalkRules.from_dict({}) == WalkRules()
    assert WalkRules.from_dict(None) == WalkRules()


def test_compiled_name_filter():
    nf = WalkRules(skip_hidden=False).compile()
    names = [".DS_Store", ".Trash-1000", ".Trash-", "a", ".git", "lost+found", ".hidden", ".Trashy"]
    assert nf.filter_names(names) == ["a", ".hidden", ".Trashy"]
    nf = WalkRules(skip_system=False, skip_git=False, skip_hidden=True).compile()
    assert nf.filter_names(names) == ["a", "lost+found"]
    nf = WalkRules(skip_system=False, skip_git=False).compile()
    assert nf.filter_names(names) == names
    assert "node_modules" in WalkRules(skip_deps=True).compile().dir_names
    assert not WalkRules().compile().dir_names


def gi(*lines: str) -> GitIgnore:
    return GitIgnore.parse("\n".join(lines) + "\n")


@pytest.mark.parametrize("line", ["", "   ", "# comment", "#*.c", "/", "!"])
def test_lines_without_patterns(line):
    assert parse_gitignore_line(line) is None


CASES = [
    # (patterns, relative path, is_dir, expected verdict)
    (["*.log"], "a.log", False, True),
    (["*.log"], "deep/er/a.log", False, True),
    (["*.log"], "a.log.txt", False, None),
    (["*.log"], "logs", True, None),
    (["foo"], "foo", True, True),
    (["foo"], "x/foo", False, True),
    (["foo"], "foobar", False, None),
    # trailing slash: directories only
    (["build/"], "build", True, True),
    (["build/"], "build", False, None),
    (["build/"], "src/build", True, True),
    # leading slash or a middle slash anchors to the .gitignore's directory
    (["/build"], "build", False, True),
    (["/build"], "src/build", False, None),
    (["doc/frotz"], "doc/frotz", True, True),
    (["doc/frotz"], "a/doc/frotz", True, None),
    (["doc/*.txt"], "doc/a.txt", False, True),
    (["doc/*.txt"], "doc/sub/a.txt", False, None),
    # '*' and '?' stop at '/'
    (["a*c"], "abc", False, True),
    (["/a*c"], "a/c", False, None),
    (["a?c"], "abc", False, True),
    (["a?c"], "ac", False, None),
    # '**'
    (["**/foo"], "foo", False, True),
    (["**/foo"], "a/b/foo", False, True),
    (["**/foo/bar"], "x/foo/bar", False, True),
    (["abc/**"], "abc/x", False, True),
    (["abc/**"], "abc/x/y", False, True),
    (["abc/**"], "abc", True, None),
    (["a/**/b"], "a/b", False, True),
    (["a/**/b"], "a/x/y/b", False, True),
    (["a/**/b"], "a/xb", False, None),
    (["**"], "anything/at/all", False, True),
    (["a**b"], "axxb", False, True),
    (["/a**b"], "ax/xb", False, None),
    # character classes
    (["[Tt]humbs.db"], "thumbs.db", False, True),
    (["[!a-c]x"], "dx", False, True),
    (["[!a-c]x"], "bx", False, None),
    (["[^a-c]x"], "bx", False, None),
    (["file[0-9].txt"], "file7.txt", False, True),
    (["file[0-9].txt"], "filex.txt", False, None),
    (["[]]x"], "]x", False, True),
    (["[[:digit:]]z"], "5z", False, True),
    (["[[:digit:]]z"], "az", False, None),
    (["a[/]b"], "a/b", False, None),
    (["[unclosed"], "[unclosed", False, True),
    # escapes and spaces
    (["\\#hash"], "#hash", False, True),
    (["\\!bang"], "!bang", False, True),
    (["trail   "], "trail", False, True),
    (["trail\\ "], "trail ", False, True),
    (["q\\*"], "q*", False, True),
    (["q\\*"], "qx", False, None),
    # last match wins; negation
    (["*.log", "!keep.log"], "keep.log", False, False),
    (["*.log", "!keep.log"], "other.log", False, True),
    (["!keep.log", "*.log"], "keep.log", False, True),
    (["build/", "!build"], "build", True, False),
    (["/x/y", "y"], "x/y", False, True),
    (["y", "!/x/y"], "x/y", False, False),
    (["!/x/y", "y"], "x/y", False, True),
    # dir-only negation does not apply to files
    (["*", "!keep/"], "keep", False, True),
    (["*", "!keep/"], "keep", True, False),
    # regex metacharacters are literal
    (["a+b(c).$"], "a+b(c).$", False, True),
    (["a.b"], "axb", False, None),
]


@pytest.mark.parametrize("patterns,rel,is_dir,expected", CASES)
def test_gitignore_matching(patterns, rel, is_dir, expected):
    assert gi(*patterns).match(rel, is_dir) is expected


def test_crlf_bom_and_comments():
    g = GitIgnore.parse("\ufeff# top\r\n*.o\r\n\r\n!keep.o\r\n")
    assert g.match("a.o", False) is True
    assert g.match("keep.o", False) is False
    assert len(g.patterns) == 2


def test_invalid_pattern_is_dropped():
    g = gi("[z-a]x", "ok")
    assert len(g.patterns) == 1 and g.match("ok", False) is True


def test_empty_gitignore_is_falsy():
    assert not GitIgnore.parse("# nothing\n\n")
    assert gi("x")


def test_match_entry_with_relative_dir():
    g = gi("/sub/*.tmp", "*.bak")
    assert g.match_entry("sub/", "a.tmp", False) is True
    assert g.match_entry("other/", "a.tmp", False) is None
    assert g.match_entry("deep/er/", "x.bak", False) is True


def test_non_utf8_patterns_match_surrogate_escaped_names():
    text = b"caf\xe9*\n".decode("utf-8", "surrogateescape")
    g = GitIgnore.parse(text)
    assert g.match(b"caf\xe9.txt".decode("utf-8", "surrogateescape"), False) is True
    assert g.match("café.txt", False) is None


def test_many_patterns():
    g = GitIgnore.parse("".join(f"name{i}\n" for i in range(500)) + "!name250\n")
    assert g.match("d/name499", False) is True
    assert g.match("name250", False) is False
    assert g.match("name500", False) is None


# -- against pathspec ---------------------------------------------------------------------
# fs/rules.py keeps its own matcher on the walk's hot path (see the comment there for the
# figures); pathspec, a maintained implementation of git's wildmatch, is its oracle here.

_PARTS = ["a", "b", "ab", "x.log", "keep.log", "build", "doc", "c.txt", "d.py", "e.pyc"]
_PATTERNS = ["*.log", "!keep.log", "build/", "/build", "/a", "a/", "doc/*.txt", "a/**/b", "**/b", "b/**",
             "*.py[cod]", "?.txt", "[ab]", "[!a]b", "ab*", "!a", "x.*", "!*.txt", "d*/", "a/b/", "*/c.txt",
             "\\!a", "**/doc/**", "a?", "*"]


def test_matches_as_pathspec_does():
    """Generated .gitignore files and file paths: each file gets the verdict pathspec gives
    (the failing seed, patterns and path are in the assertion message)."""
    import random

    from pathspec import GitIgnoreSpec

    for seed in range(300):
        rng = random.Random(seed)
        lines = rng.sample(_PATTERNS, rng.randrange(1, 6))
        ours, theirs = gi(*lines), GitIgnoreSpec.from_lines(lines)
        for _ in range(40):
            comps = [rng.choice(_PARTS) for _ in range(rng.randrange(1, 4))]
            is_dir = False  # (pathspec matches a directory as "dir/", where git and we see "a/**" and
            # "*" + "!a" leave the directory "a" itself in: `git check-ignore a` says so)
            # only where no pattern matches a directory above: pathspec lets a match of a parent
            # decide for what is inside it, git (and the walker) decide level by level
            reached = all(theirs.check_file("/".join(comps[:i]) + "/").include is None
                          for i in range(1, len(comps)))
            if not reached:
                continue
            rel = "/".join(comps)
            expected = theirs.check_file(rel + ("/" if is_dir else "")).include
            assert ours.match(rel, is_dir) == expected, (seed, lines, rel, is_dir)
