"""The public job API (``sdjobs.api``): what it exports, the narrow face of JobContext,
one argument order for warn and error, ``Job[ConfigT]``, and the library's identity."""

from __future__ import annotations

import dataclasses
import inspect
import re
import warnings
from typing import Generic, TypeVar

import pytest

import sdjobs.api as api
from sdjobs.core import context as engine
from sdjobs.core import registry
from sdjobs.core.context import JobContext
from sdjobs.core.errors import JobTypeError
from sdjobs.runner.backend import StoreBackend
from sdjobs.runner.fanout import FanOut
from sdjobs.store import events
from sdjobs.store.api import Store
from sdjobs.store.library import Library

# What a job author may call or read on ``ctx``; the engine's part is private.
PUBLIC = {
    "job_id",
    "progress", "phase", "count", "percent", "bytes", "indeterminate", "current",
    "add_bytes", "add_items", "log", "warn", "error", "warnings", "errors",
    "emit", "emit_json", "emit_json_rows", "result_columns",
    "check_interrupt", "checkpoint", "load_state", "settings", "library",
    "spawn_child", "children", "wait_for_children", "map",
}


def test_the_api_module_exports_what_it_lists():
    assert sorted(api.__all__) == sorted(set(api.__all__))
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert {"Job", "JobContext", "LibraryInfo", "BadInput", "NotFound", "JobFailed"} <= set(api.__all__)
    assert "store" not in api.__all__


def test_job_context_shows_only_the_job_authors_members(store):
    job = store.submit("test-rows", 1, {})
    ctx = JobContext(job, 1, StoreBackend(store, job, 0, FanOut(1)))
    shown = {n for n in dir(ctx) if not n.startswith("_")}
    assert shown == PUBLIC
    for gone in ("end", "flush", "restore_metrics", "waited_for", "version", "progress_interval"):
        assert not hasattr(ctx, gone), gone


def _issues(store, job):
    return [(e.kind, e.path, e.message) for e in events.read(store, job, kinds=("warning", "error"))]


def test_warn_and_error_take_the_problem_first_and_the_path_by_name(store):
    job = store.submit("test-rows", 1, {})
    ctx = JobContext(job, 1, StoreBackend(store, job, 0, FanOut(1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the one order: no warning
        ctx.warn("odd", path="/a")
        ctx.error(OSError(5, "Input/output error"), path="/b")
        ctx.error("planted")
    engine.flush(ctx)
    assert _issues(store, job) == [("warning", "/a", "odd"), ("error", "/b", "Input/output error"),
                                   ("error", None, "planted")]
    assert (ctx.warnings, ctx.errors) == (1, 2)
    for name in ("warn", "error"):
        params = inspect.signature(getattr(JobContext, name)).parameters
        assert params["path"].kind is inspect.Parameter.KEYWORD_ONLY


def test_the_old_orders_still_work_with_a_deprecation_warning(store):
    """A plugin written for ctx.error(path, exc) and ctx.warn(message, path) keeps working."""
    job = store.submit("test-rows", 1, {})
    ctx = JobContext(job, 1, StoreBackend(store, job, 0, FanOut(1)))
    with pytest.warns(DeprecationWarning, match=r"ctx.error\(exc, path=path\)") as caught:
        ctx.error("/x", OSError(2, "No such file or directory"))
        ctx.error(None, "no path")
        ctx.error("/y", "a message")
    assert all(w.filename == __file__ for w in caught)  # pointed at the caller's line
    with pytest.warns(DeprecationWarning, match="path=... by name"):
        ctx.warn("odd", "/w")
    engine.flush(ctx)
    assert _issues(store, job) == [("error", "/x", "No such file or directory"), ("error", None, "no path"),
                                   ("error", "/y", "a message"), ("warning", "/w", "odd")]


# -- Job[ConfigT] ------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def forget_test_types():
    """The job types these tests define leave the registry with them."""
    before = dict(registry._types)
    yield
    registry._types.clear()
    registry._types.update(before)


@dataclasses.dataclass
class Cfg:
    n: int = 1


@dataclasses.dataclass
class CfgPlus(Cfg):
    m: int = 2


def test_a_parametrized_job_takes_its_config_class_from_the_parameter():
    class Typed(api.Job[Cfg]):
        name = "test-api-typed"

        def run(self, ctx: api.JobContext) -> int:
            return self.config.n

    assert Typed.Config is Cfg and registry.get("test-api-typed") is Typed
    assert Typed(Cfg(5)).run(None) == 5  # type: ignore[arg-type]

    class Narrower(api.Job[Cfg]):
        name = "test-api-narrower"
        Config = CfgPlus  # a subclass of the parameter is fine

    assert Narrower.Config is CfgPlus


def test_a_config_that_is_not_the_parameter_fails_at_definition():
    with pytest.raises(JobTypeError, match=re.escape("Config is NoConfig, but the class is Job[Cfg]")):
        class Wrong(api.Job[Cfg]):
            name = "test-api-wrong"
            Config = api.NoConfig


def test_unparametrized_and_generic_bases_still_work():
    class Plain(api.Job):  # type: ignore[type-arg]
        name = "test-api-plain"
        Config = Cfg

    assert Plain.Config is Cfg and Plain(Cfg()).config == Cfg()

    T = TypeVar("T")

    class Base(api.Job[T], Generic[T]):  # a base of other jobs, generic itself
        pass

    assert Base.Config is api.NoConfig

    class Leaf(Base[Cfg]):
        name = "test-api-leaf"
        Config = Cfg

    assert Leaf.Config is Cfg


# -- ctx.library ---------------------------------------------------------------------------
def test_the_library_has_a_stable_identity_of_its_own(store, lib, tmp_path):
    job = store.submit("test-rows", 1, {})
    info = JobContext(job, 1, StoreBackend(store, job, 0, FanOut(1))).library
    assert re.fullmatch(r"[0-9a-f]{32}", info.id)
    assert (info.path, info.data_dir) == (str(lib), str(store.library.data_dir))
    again = Store(Library(lib))  # reopened: the same id
    other = Store(Library(tmp_path / "other" / "library.db"))  # another library: another id
    try:
        for s, same in ((again, True), (other, False)):
            j = s.submit("test-rows", 1, {})
            assert (JobContext(j, 1, StoreBackend(s, j, 0, FanOut(1))).library.id == info.id) is same
    finally:
        again.close()
        other.close()
