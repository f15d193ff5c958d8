"""coerce, table-driven, against the function it replaced (kept below verbatim from
``git show 27b331b:sdjobs/core/fields.py`` as the oracle): the same value or the same error
for generated types and values."""

from __future__ import annotations

import dataclasses
import enum
import pathlib
import types
import typing
from typing import Any, Literal, Optional, Union

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdjobs.core.errors import BadInput, shown
from sdjobs.core.fields import _type_name, build_config, coerce, fields_of

# ---- the oracle: coerce and build_config as they were before the table ----

def old_build_config(cls: type, data: dict[str, Any]) -> Any:
    """Check and coerce ``data`` into ``cls``; raise BadInput naming the field."""
    known = {f.name: f for f in fields_of(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise BadInput(f"unknown field {shown(unknown[0])} (fields: {', '.join(known) or 'none'})")
    values = {}
    for name, info in known.items():
        if name in data:
            try:
                values[name] = old_coerce(info.type, data[name])
            except (TypeError, ValueError) as exc:
                raise BadInput(f"field {name!r}: {exc}") from None
        elif info.required:
            raise BadInput(f"missing required field {name!r} ({info.type_name})")
    return cls(**values)


def old_coerce(tp: Any, value: Any) -> Any:
    """Coerce ``value`` (possibly a string from the command line) to type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return old_coerce(arg, value)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors) or f"expected {_type_name(tp)}")
    if origin is Literal:
        if value in args:
            return value
        raise ValueError(f"expected one of {', '.join(map(str, args))}, got {shown(value)}")
    if origin in (list, tuple, set):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""]
        if not isinstance(value, (list, tuple, set)):
            raise ValueError(f"expected a list, got {shown(value)}")
        inner = args[0] if args else Any
        return [old_coerce(inner, v) for v in value]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping, got {shown(value)}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {shown(value)}")
    if tp is int:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer, got {shown(value)}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ValueError(f"expected an integer, got {shown(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"expected a number, got {shown(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected a string, got {shown(value)}")
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return old_build_config(tp, value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ValueError(f"expected {_type_name(tp)}, got {shown(value)}")


# ---- generated types and values ----


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Inner:
    n: int
    tags: list[str] = dataclasses.field(default_factory=list)
    mode: Literal["a", "b"] = "a"


PLAIN = [Any, bool, int, float, str, dict, list, tuple, set, type(None), Inner, pathlib.Path, Colour]
LITERAL_VALUES = st.one_of(st.sampled_from(["a", "b", "none", "1", "true"]), st.integers(-2, 2), st.booleans(), st.none())


def _compose(inner: st.SearchStrategy) -> st.SearchStrategy:
    one = inner
    return st.one_of(
        one.map(lambda t: list[t]),
        one.map(lambda t: typing.List[t]),  # noqa: UP006 - the typing alias is a distinct origin path
        one.map(lambda t: tuple[t, ...]),
        one.map(lambda t: set[t]),
        one.map(lambda t: dict[str, t]),
        one.map(lambda t: Optional[t]),  # noqa: UP045
        st.tuples(one, one).map(lambda ab: Union[ab[0], ab[1]]),  # noqa: UP007
        st.tuples(one, one).filter(lambda ab: all(isinstance(x, type) for x in ab))
        .map(lambda ab: ab[0] | ab[1]),
        st.lists(LITERAL_VALUES, min_size=1, max_size=4).map(lambda vs: Literal[tuple(vs)]),
    )


TYPES = st.recursive(st.sampled_from(PLAIN), _compose, max_leaves=4)

TEXT = st.one_of(
    st.sampled_from(["", "none", "NULL", "None", "true", "Yes", "off", "0", "1", "-3", "1.5", "nan", "inf",
                     "1e3", "a,b", ",x,,", "red", "a", "b", " 2 ", "0x10", "1_000"]),
    st.text(max_size=8),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, st.just(Colour.RED),
                    st.just(pathlib.Path("/x")), st.just(Inner(1)))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.sampled_from(["n", "tags", "mode", "other"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def outcome(fn, tp, value):
    try:
        return "ok", type(fn(tp, value)).__name__, repr(fn(tp, value))
    except (TypeError, ValueError, BadInput) as exc:
        return "error", type(exc).__name__, str(exc)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TYPES, VALUES)
def test_the_table_coerces_as_the_old_function_did(tp, value):
    assert outcome(coerce, tp, value) == outcome(old_coerce, tp, value), (tp, value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["n", "tags", "mode", "other"]), VALUES, max_size=4))
def test_build_config_as_before(data):
    assert outcome(lambda cls, d: build_config(cls, d), Inner, data) == \
        outcome(lambda cls, d: old_build_config(cls, d), Inner, data), data


def test_a_few_by_hand():
    """The cases the table is for, spelled out (so the property above cannot pass vacuously)."""
    assert coerce(int, "3") == 3 and coerce(float, 2) == 2.0 and coerce(bool, "off") is False
    assert coerce(list[int], "1,,2") == [1, 2] and coerce(tuple[str, ...], ("a",)) == ["a"]
    assert coerce(Optional[int], "null") is None and coerce(int | str, "x") == "x"  # noqa: UP045
    assert coerce(dict, {"a": 1}) == {"a": 1} and coerce(Inner, {"n": "2"}) == Inner(2)
    assert coerce(Literal["a", 1], 1) == 1 and coerce(Any, object) is object
    for tp, value in [(int, True), (int, "x"), (str, 1), (Literal["a"], "b"), (list[int], 3), (Inner, 3),
                      (int | float, "x"), (pathlib.Path, "/x")]:
        kind, _, message = outcome(coerce, tp, value)
        assert kind == "error" and message == outcome(old_coerce, tp, value)[2]
