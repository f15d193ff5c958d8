"""The job model: registration, typed configs, msgpack round trips, progress."""

import dataclasses
from typing import Literal

import pytest

from sdjobs.core import codec, registry
from sdjobs.core.errors import BadInput, JobTypeError
from sdjobs.core.fields import build_config, load_config
from sdjobs.core.job import Job
from sdjobs.core.progress import Progress, RateEstimator, derive


def test_defining_a_job_registers_it_and_a_duplicate_name_fails():
    class One(Job):
        name = "unit-one"

    assert registry.get("unit-one") is One
    with pytest.raises(JobTypeError, match="defined twice"):
        class Other(Job):
            name = "unit-one"


def test_unknown_type_names_the_known_ones():
    with pytest.raises(JobTypeError, match="unknown job type 'nope'.*copy"):
        registry.get("nope")


@dataclasses.dataclass
class Cfg:
    paths: list[str]
    depth: int | None = None
    mode: Literal["a", "b"] = "a"
    verify: bool = False
    ratio: float = 1.0


def test_build_config_coerces_strings_and_names_bad_fields():
    c = build_config(Cfg, {"paths": "x,y", "depth": "3", "verify": "yes", "ratio": "0.5"})
    assert c == Cfg(paths=["x", "y"], depth=3, verify=True, ratio=0.5)
    with pytest.raises(BadInput, match="field 'depth'"):
        build_config(Cfg, {"paths": [], "depth": "deep"})
    with pytest.raises(BadInput, match="field 'mode'.*one of a, b"):
        build_config(Cfg, {"paths": [], "mode": "c"})
    with pytest.raises(BadInput, match="unknown field 'colour'"):
        build_config(Cfg, {"paths": [], "colour": 1})
    with pytest.raises(BadInput, match="missing required field 'paths'"):
        build_config(Cfg, {})


def test_load_config_tolerates_old_and_new_records():
    assert load_config(Cfg, {"paths": ["a"], "removed_field": 1}) == Cfg(paths=["a"])


def test_codec_round_trips_non_utf8_paths_and_dataclasses():
    weird = b"caf\xe9/\xff.txt".decode("utf-8", "surrogateescape")
    data = codec.unpack(codec.pack({"path": weird, "cfg": Cfg(paths=[weird])}))
    assert data["path"] == weird
    assert data["path"].encode("utf-8", "surrogateescape") == b"caf\xe9/\xff.txt"
    assert data["cfg"]["paths"] == [weird]


def test_progress_rate_and_eta_are_derived():
    est = RateEstimator()
    p = Progress(done=0, total=100)
    derive(p, est, now=0.0)
    p.done = 50
    derive(p, est, now=5.0)
    assert p.rate == pytest.approx(10.0)
    assert p.eta == pytest.approx(5.0)
    assert p.kind == "count" and p.fraction() == 0.5
    assert Progress(bytes_done=1, bytes_total=4).kind == "bytes"
    assert Progress(message="thinking").kind == "indeterminate"
    assert Progress.from_dict(p.to_dict()) == p
