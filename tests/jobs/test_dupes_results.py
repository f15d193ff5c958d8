"""The dupes results helpers: reading groups back from a JSON array file, one by one."""

from __future__ import annotations

import json
import random

import pytest

from sdjobs.jobs.dupes.results import array_texts, render_group, size_of

# pieces of names that look like the separators the reader splits on
ALPHABET = ["a", '"', "\\", "]", "}", ",", "{", " ", "\n", "\udcff", "é", '"size":', ']},{"size":', "["]


@pytest.mark.parametrize("seed", range(4))
def test_array_texts_gives_back_each_group_as_written(tmp_path, seed):
    rng = random.Random(seed)
    for trial in range(150):
        groups = []
        for _ in range(rng.randrange(0, 6)):
            paths = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12))) for _ in range(rng.randrange(1, 4))]
            size = rng.randrange(10 ** 12)
            groups.append(render_group(size, rng.choice([None, "ab" * 16]), size, paths))
        path = tmp_path / "groups.json"
        path.write_text("[" + ",".join(groups) + "]", encoding="ascii")
        got = list(array_texts(str(path), chunk=rng.choice([1, 2, 3, 7, 50, 1 << 20])))
        assert got == groups, f"seed {seed}, trial {trial}"
        assert [size_of(t) for t in got] == [json.loads(t)["size"] for t in groups]


def test_array_texts_refuses_what_is_not_an_array_of_groups(tmp_path):
    for text in ("{}", '[{"size":1,"paths":[]}', '[{"a":1}]'):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ValueError):
            list(array_texts(str(tmp_path / "bad.json")))
