"""Checkpoint state as a dataclass: it round-trips through msgpack, and state written by
an older version (fewer fields, a dict, a renamed key) or a newer one (more keys) loads."""

from __future__ import annotations

import dataclasses
import random

import pytest

from sdjobs.core import codec
from sdjobs.core import context as engine
from sdjobs.core.context import JobContext
from sdjobs.core.errors import IncompatibleState
from sdjobs.core.keyed_state import KeyedState
from sdjobs.runner.backend import StoreBackend
from sdjobs.runner.fanout import FanOut


@dataclasses.dataclass
class Cursor:
    root: int = 0
    after: str | None = None


@dataclasses.dataclass
class StateV1:
    next: int
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class StateV2:
    """StateV1 and what version 2 of the job added (each with a default)."""

    next: int
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    cursor: Cursor = dataclasses.field(default_factory=Cursor)
    seen: list[Cursor] = dataclasses.field(default_factory=list)
    span: tuple[int, int] = (0, 0)
    tags: set[str] = dataclasses.field(default_factory=set)
    maybe: Cursor | None = None
    total: int = dataclasses.field(default=0, metadata={"was": "ti"})


def roundtrip(cls, obj):
    return codec.to_state(cls, codec.unpack(codec.pack(obj)))


def test_a_state_round_trips_with_its_nested_types():
    rng = random.Random(7)
    for _ in range(50):
        s = StateV2(next=rng.randrange(1000), counts={"py": rng.randrange(9)}, cursor=Cursor(2, "a/\udcff"),
                    seen=[Cursor(i, str(i)) for i in range(rng.randrange(4))], span=(1, 2),
                    tags={"x", "y"}, maybe=rng.choice([None, Cursor(1)]), total=rng.randrange(5))
        assert roundtrip(StateV2, s) == s  # tuples, sets, nested dataclasses and odd names come back as such


def test_state_of_an_older_version_takes_the_defaults_of_new_fields():
    old = codec.pack(StateV1(next=3, counts={"C": 4}))
    assert codec.to_state(StateV2, codec.unpack(old)) == StateV2(next=3, counts={"C": 4})


def test_a_dict_checkpoint_loads_and_unknown_keys_are_ignored():
    data = codec.unpack(codec.pack({"next": 5, "ti": 9, "cursor": {"root": 1, "gone": True}, "extra": [1]}))
    assert codec.to_state(StateV2, data) == StateV2(next=5, total=9, cursor=Cursor(1))  # ti: total's old key
    assert codec.to_state(StateV1, codec.unpack(codec.pack(StateV2(next=1)))) == StateV1(next=1)  # newer: fewer


def test_a_required_field_the_checkpoint_lacks_is_an_incompatible_state():
    with pytest.raises(IncompatibleState, match="'next'"):
        codec.to_state(StateV2, {"counts": {}})
    with pytest.raises(IncompatibleState):
        codec.to_state(StateV2, [1, 2])


# -- through a real context and store -----------------------------------------------------
@pytest.fixture
def running(store):
    runner = store.register_runner(1, "test")
    job = store.submit("test-rows", 1, {})
    rec = store.claim(runner, 1)[0]
    yield job, rec.claim
    store.unregister_runner(runner)


def context(store, job, claim) -> JobContext:
    return JobContext(job, 1, StoreBackend(store, job, 0, FanOut(1), claim=claim))


def test_load_state_resumes_a_state_written_by_an_older_version(store, running):
    job, claim = running
    ctx = context(store, job, claim)
    assert ctx.load_state(StateV1) is None  # a fresh start
    ctx.checkpoint(StateV1(next=7, counts={"Go": 1}), force=True)
    engine.flush(ctx)
    resumed = context(store, job, claim)  # the next run, by version 2 of the job
    assert resumed.load_state(StateV2) == StateV2(next=7, counts={"Go": 1})
    assert resumed.load_state() == {"next": 7, "counts": {"Go": 1}}  # without a class: the plain data


def test_load_state_resumes_a_dict_checkpoint_with_emitted_rows(store, running):
    """An old job checkpointed a dict, and rows: the checkpoint wraps it with the row count."""
    job, claim = running
    ctx = context(store, job, claim)
    ctx.load_state()
    ctx.emit({"n": 1})
    ctx.checkpoint({"next": 2, "counts": {"Rust": 3}, "retired": "x"}, force=True)
    engine.flush(ctx)
    assert context(store, job, claim).load_state(StateV2) == StateV2(next=2, counts={"Rust": 3})


@dataclasses.dataclass
class Keyed(KeyedState):
    total: int = dataclasses.field(default=0, metadata={"was": "ti"})
    estimate: int | None = None


def test_keyed_state_answers_to_the_old_keys_while_code_moves_over():
    st = Keyed()
    st["ti"] += 2  # the old key of a renamed field
    st.update({"estimate": 5}, total=st["total"] + 1)
    assert st == Keyed(total=3, estimate=5) and st.get("ti") == 3
    assert Keyed().get("estimate", 7) == 7  # None, as a dict's missing key: the default
    with pytest.raises(KeyError):
        st["nope"] = 1
    with pytest.raises(KeyError):
        st["nope"]
