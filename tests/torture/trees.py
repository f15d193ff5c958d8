"""Generated file trees: the shapes that break file tools.

One generator, ``random_tree(rng, size)``, drives both hypothesis (through
``st.randoms()``, so that examples are recorded and replayed) and the soak
(through ``random.Random(seed)``). It returns a ``Tree``: a list of entries
that ``build`` makes on disk. Everything is bytes: names need not be UTF-8.

Shapes: hard links within and across directories, files on both sides of
copy's 8 MiB large-file threshold (few big ones, most of them sparse), sparse
files, empty files and directories, symlinks (relative, absolute, dangling,
loops, to directories), FIFOs, names that are not UTF-8, hold a newline, start
with ``-``, are 255 bytes long, and deep paths.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

LARGE = 8 * 1024 * 1024  # copy.planner.SMALL: files from here on take the large-file path


@dataclass
class Entry:
    kind: str  # dir, file, hardlink, symlink, fifo
    path: bytes  # relative to the root
    size: int = 0
    sparse: bool = False
    seed: int = 0  # content
    target: bytes = b""  # hardlink: an existing file (relative); symlink: the link text
    dup_of: int = -1  # file: copy the content of this seed (a duplicate) instead


@dataclass
class Tree:
    entries: list[Entry] = field(default_factory=list)

    def files(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "file"]

    def describe(self) -> str:
        kinds: dict[str, int] = {}
        for e in self.entries:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        big = sum(1 for e in self.files() if e.size >= LARGE)
        return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f" ({big} >= 8 MiB)"


def _name(rng: random.Random, used: set[bytes]) -> bytes:
    """A name that breaks tools: mostly plain, sometimes nasty."""
    while True:
        roll = rng.random()
        stem = b"%s%d" % (rng.choice([b"a", b"photo", b"x y", b"caf\xc3\xa9", b"n"]), rng.randrange(10_000))
        if roll < 0.10:
            name = b"caf\xe9-\xff" + stem  # not UTF-8
        elif roll < 0.17:
            name = stem + b"\nline2"
        elif roll < 0.25:
            name = b"-" + stem  # looks like an option
        elif roll < 0.30:
            name = (stem + b"-" + b"L" * 255)[:255]  # as long as a name can be
        elif roll < 0.34:
            name = b" " + stem + b" "
        elif roll < 0.38:
            name = stem + rng.choice([b"[", b"[b]"])  # rich markup, with a child named "x]...": "[/x]"
        else:
            name = stem + rng.choice([b"", b".txt", b".bin", b".jpg.bak"])
        if name not in used:
            used.add(name)
            return name


def random_tree(rng: random.Random, size: str = "small") -> Tree:
    """A random tree. ``size``: small (CI: tens of entries, rarely a big file),
    medium (soak: up to a few hundred entries, some big files)."""
    n_items = rng.randrange(8, 40) if size == "small" else rng.randrange(20, 300)
    big_chance = 0.12 if size == "small" else 0.35
    tree = Tree()
    dirs: list[bytes] = [b""]
    files: list[bytes] = []
    names: dict[bytes, set[bytes]] = {b"": set()}

    def child(parent: bytes) -> bytes:
        name = _name(rng, names.setdefault(parent, set()))
        return os.path.join(parent, name) if parent else name

    # a deep chain, sometimes: long paths (kept under PATH_MAX, so that every oracle can read them)
    if rng.random() < 0.5:
        d = b""
        for _ in range(rng.randrange(10, 30)):
            d = os.path.join(d, b"deep-" + b"d" * rng.randrange(1, 90)) if d else b"deep"
            tree.entries.append(Entry("dir", d))
            names[d] = set()
        dirs.append(d)
    big_left = 1 if size == "small" else 2
    seeds: list[int] = []
    for _ in range(n_items):
        roll = rng.random()
        parent = rng.choice(dirs)
        if roll < 0.15 and len(parent) < 3000:
            d = child(parent)
            tree.entries.append(Entry("dir", d))
            dirs.append(d)
        elif roll < 0.65 or not files:
            p = child(parent)
            r = rng.random()
            if r < 0.12:
                e = Entry("file", p, 0)
            elif big_left and r < 0.12 + big_chance:
                big_left -= 1
                # across the threshold: just below, at, or above it; mostly sparse, to stay cheap
                e = Entry("file", p, LARGE + rng.choice([-1, 0, 1, 1_500_000, 4_000_000]),
                          sparse=rng.random() < 0.7)
            else:
                e = Entry("file", p, rng.choice([1, 17, 4096, 4097, rng.randrange(1, 300_000)]),
                          sparse=rng.random() < 0.08)
            e.seed = rng.randrange(1 << 30)
            if seeds and e.size and rng.random() < 0.15:  # same content as an earlier file: a duplicate
                e.dup_of = rng.choice(seeds)
            seeds.append(e.seed)
            tree.entries.append(e)
            files.append(p)
        elif roll < 0.77:
            # a hard link, in the same directory as its file or elsewhere
            target = rng.choice(files)
            where = os.path.dirname(target) if rng.random() < 0.5 else parent
            tree.entries.append(Entry("hardlink", child(where), target=target))
        elif roll < 0.93:
            p = child(parent)
            kind = rng.random()
            if kind < 0.35:
                t = os.path.relpath(rng.choice(files), parent or b".")
            elif kind < 0.5:
                t = b"\0ROOT/" + rng.choice(files)  # absolute: filled in by build
            elif kind < 0.65:
                t = b"no/such/target"
            elif kind < 0.8:
                t = os.path.basename(p)  # a loop on itself
            else:
                t = os.path.relpath(rng.choice(dirs) or b".", parent or b".")  # a directory
            tree.entries.append(Entry("symlink", p, target=t))
        else:
            tree.entries.append(Entry("fifo", child(parent)))
    if rng.random() < 0.3 and len(files) >= 1:  # two links pointing at each other
        a, b = child(b""), child(b"")
        tree.entries += [Entry("symlink", a, target=b), Entry("symlink", b, target=a)]
    if rng.random() < 0.5:
        tree.entries.append(Entry("dir", child(b"")))  # an empty directory
    if rng.random() < 0.3:  # a path holding a closing markup tag: "markup[/x]"
        tree.entries += [Entry("dir", b"markup["), Entry("file", b"markup[/x]", 5, seed=rng.randrange(1 << 30))]
    return tree


def tree_strategy(size: str = "small"):
    """The hypothesis strategy of trees: hypothesis drives the generator's choices (and replays them)."""
    from hypothesis import strategies as st

    return st.randoms(use_true_random=False).map(lambda rng: random_tree(rng, size))


def content(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def build(tree: Tree, root: str | bytes) -> None:
    """Make ``tree`` under ``root`` (which must not exist yet)."""
    broot = os.fsencode(root)
    os.makedirs(broot)
    by_seed = {e.seed: e for e in tree.files()}
    for e in tree.entries:
        p = os.path.join(broot, e.path)
        if e.kind == "dir":
            os.makedirs(p, exist_ok=True)
        elif e.kind == "file":
            seed = e.dup_of if e.dup_of >= 0 and e.dup_of in by_seed else e.seed
            with open(p, "wb") as f:
                if e.sparse and e.size > 8192:
                    # holes with a few data islands, and data at the end
                    r = random.Random(seed)
                    for _ in range(3):
                        f.seek(r.randrange(e.size - 4096))
                        f.write(r.randbytes(4096))
                    f.truncate(e.size)
                else:
                    f.write(content(seed, e.size))
        elif e.kind == "hardlink":
            os.link(os.path.join(broot, e.target), p)
        elif e.kind == "symlink":
            target = e.target.replace(b"\0ROOT", broot)
            os.symlink(target, p)
        elif e.kind == "fifo":
            os.mkfifo(p)
    # deterministic times, in the past, for everything (directories last, deepest first)
    for e in sorted(tree.entries, key=lambda e: -len(e.path)):
        p = os.path.join(broot, e.path)
        t = 1_500_000_000_000_000_000 + (e.seed or len(e.path)) * 1_000_003
        os.utime(p, ns=(t, t), follow_symlinks=False)


def add_duplicates(root: str | bytes, rng: random.Random, groups: int = 4) -> None:
    """Extra duplicate groups for dupes: copies (not links) of random contents,
    one of them hard-linked elsewhere too (the case that once left duplicates)."""
    broot = os.fsencode(root)
    dd = os.path.join(broot, b"dups")
    os.makedirs(dd, exist_ok=True)
    for g in range(groups):
        data = rng.randbytes(rng.choice([1, 100, 5000, 70_000]))
        n = rng.randrange(2, 5)
        for i in range(n):
            with open(os.path.join(dd, b"g%d-%d.bin" % (g, i)), "wb") as f:
                f.write(data)
        if rng.random() < 0.6:
            os.link(os.path.join(dd, b"g%d-%d.bin" % (g, n - 1)), os.path.join(dd, b"g%d-extra-link" % g))


def add_images(root: str | bytes, rng: random.Random, n: int = 3) -> None:
    """A few small images for thumbs (and one file that only pretends to be one)."""
    from PIL import Image

    broot = os.fsencode(root)
    dd = os.path.join(broot, b"imgs")
    os.makedirs(dd, exist_ok=True)
    for i in range(n):
        w, h = rng.randrange(40, 400), rng.randrange(40, 400)
        img = Image.new("RGB", (w, h), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        img.save(os.fsdecode(os.path.join(dd, b"img%d.%s" % (i, rng.choice([b"jpg", b"png"])))))
    with open(os.path.join(dd, b"broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not really a jpeg")
