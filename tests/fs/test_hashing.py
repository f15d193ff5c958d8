"""Tests for sdjobs.fs.hashing against independent computations."""

from __future__ import annotations

import os
import pickle
import random
from concurrent.futures import ProcessPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import xxhash

from sdjobs.fs import hashing
from sdjobs.fs.hashing import (
    HashResult, ShortReadError, cas_id, cas_sample_offsets, full_hash, hash_files, head_hash,
    tail_hash,
)


def write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def rand(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def spacedrive_regions(size: int) -> list[tuple[int, int]]:
    """A literal transcription of the Rust loop in generate_cas_id: read the
    header, then read/seek `seek_jump` from the position *before* each read
    until the last sample, then the footer from the end."""
    header = footer = 8 * 1024
    sample, count = 10 * 1024, 4
    regions = [(0, header)]
    current_pos = header  # read_exact returns the bytes read
    file_pos = header
    seek_jump = (size - header * 2) // count
    while True:
        regions.append((file_pos, sample))
        if current_pos >= header + seek_jump * (count - 1):
            break
        current_pos = current_pos + seek_jump
        file_pos = current_pos
    regions.append((size - footer, footer))
    return regions


def expected_cas(data: bytes, size: int | None = None) -> str:
    size = len(data) if size is None else size
    h = xxhash.xxh3_64(size.to_bytes(8, "little"))
    if size <= 100 * 1024:
        h.update(data)
    else:
        for off, length in spacedrive_regions(size):
            h.update(data[off:off + length])
    return h.hexdigest()


@pytest.mark.parametrize("size", [102401, 102400 + 4096, 1 << 20, 5 * (1 << 20) + 3])
def test_offsets_match_spacedrive_loop(size):
    assert cas_sample_offsets(size) == spacedrive_regions(size)


def test_documented_offsets_for_one_mib():
    jump = ((1 << 20) - 16384) // 4
    assert cas_sample_offsets(1 << 20) == [
        (0, 8192), (8192, 10240), (8192 + jump, 10240), (8192 + 2 * jump, 10240),
        (8192 + 3 * jump, 10240), ((1 << 20) - 8192, 8192)]


@pytest.mark.parametrize("size", [0, 1, 4095, 100 * 1024])
def test_cas_id_small_files_hash_everything(tmp_path, size):
    data = rand(size)
    p = write(tmp_path / "f", data)
    got = cas_id(p, size)
    assert got == xxhash.xxh3_64_hexdigest(size.to_bytes(8, "little") + data)
    assert len(got) == 16 and int(got, 16) >= 0


@pytest.mark.parametrize("size", [100 * 1024 + 1, 300_000, 3 * (1 << 20) + 17])
def test_cas_id_large_files_hash_samples(tmp_path, size):
    data = rand(size, seed=size)
    p = write(tmp_path / "f", data)
    assert cas_id(p, size) == expected_cas(data)


def test_cas_id_only_sees_sampled_bytes(tmp_path):
    size = 1 << 20
    data = bytearray(rand(size))
    p = tmp_path / "f"
    p.write_bytes(data)
    before = cas_id(str(p), size)
    # A byte between samples does not change the id...
    gap = cas_sample_offsets(size)[1][0] + 10240 + 100
    data[gap] ^= 0xFF
    p.write_bytes(data)
    assert cas_id(str(p), size) == before
    # ...but one inside the third sample, the header or the footer does.
    for off in (cas_sample_offsets(size)[3][0] + 5, 10, size - 1):
        data[off] ^= 0xFF
        p.write_bytes(data)
        assert cas_id(str(p), size) != before
        data[off] ^= 0xFF


def test_cas_id_size_is_part_of_the_id(tmp_path):
    p = write(tmp_path / "f", b"hello")
    assert cas_id(p, 5) != cas_id(p, 6)


def test_cas_id_short_file_raises(tmp_path):
    p = write(tmp_path / "f", rand(1000))
    with pytest.raises(ShortReadError) as info:
        cas_id(p, 500_000)
    assert isinstance(info.value, OSError)


def test_missing_file_raises_oserror(tmp_path):
    for fn in (lambda p: cas_id(p, 10), full_hash, head_hash, lambda p: tail_hash(p, 10)):
        with pytest.raises(FileNotFoundError):
            fn(str(tmp_path / "nope"))


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 5])
def test_full_hash(tmp_path, size):
    data = rand(size, seed=7)
    p = write(tmp_path / "f", data)
    assert full_hash(p) == xxhash.xxh3_128_hexdigest(data)
    assert len(full_hash(p)) == 32


def test_full_hash_with_small_chunks(tmp_path, monkeypatch):
    data = rand(10_000)
    p = write(tmp_path / "f", data)
    monkeypatch.setattr(hashing, "FULL_CHUNK", 333)
    assert full_hash(p) == xxhash.xxh3_128_hexdigest(data)


@pytest.mark.parametrize("size", [0, 1, hashing.FULL_CHUNK - 1, hashing.FULL_CHUNK, hashing.FULL_CHUNK + 1,
                                  3 * hashing.FULL_CHUNK, 3 * hashing.FULL_CHUNK + 7])
def test_full_hash_if_size(tmp_path, size):
    data = rand(size, seed=size)
    p = write(tmp_path / "f", data)
    assert hashing.full_hash_if_size(p, size) == full_hash(p) == xxhash.xxh3_128_hexdigest(data)
    # Any other expected size: None, whether the file is longer or shorter than that.
    for other in {size - 1, size + 1, size - hashing.FULL_CHUNK, size + hashing.FULL_CHUNK, 0} - {size}:
        if other >= 0:
            assert hashing.full_hash_if_size(p, other) is None, other


def test_full_hash_if_size_odd_files(tmp_path):
    target = write(tmp_path / "target", b"abc")
    os.symlink(target, tmp_path / "link")
    with pytest.raises(OSError):  # not followed
        hashing.full_hash_if_size(str(tmp_path / "link"), 3)
    with pytest.raises(FileNotFoundError):
        hashing.full_hash_if_size(str(tmp_path / "missing"), 3)
    os.mkdir(tmp_path / "dir")
    with pytest.raises(IsADirectoryError):
        hashing.full_hash_if_size(str(tmp_path / "dir"), 0)
    os.mkfifo(tmp_path / "fifo")  # no writer: must not block
    assert hashing.full_hash_if_size(str(tmp_path / "fifo"), 10) is None


def test_head_and_tail_hash(tmp_path):
    data = rand(10_000)
    p = write(tmp_path / "f", data)
    assert head_hash(p) == xxhash.xxh3_64_hexdigest(data[:4096])
    assert head_hash(p, 10) == xxhash.xxh3_64_hexdigest(data[:10])
    assert head_hash(p, 50_000) == xxhash.xxh3_64_hexdigest(data)
    assert tail_hash(p, 10_000) == xxhash.xxh3_64_hexdigest(data[-4096:])
    assert tail_hash(p, 10_000, n=7) == xxhash.xxh3_64_hexdigest(data[-7:])
    assert tail_hash(p, 5000) == xxhash.xxh3_64_hexdigest(data[5000 - 4096:5000])
    assert tail_hash(p, 100) == xxhash.xxh3_64_hexdigest(data[:100])
    with pytest.raises(ShortReadError):
        tail_hash(p, 20_000)


def test_hash_files_collects_errors(tmp_path):
    a = write(tmp_path / "a", b"aaa")
    b = write(tmp_path / "b", rand(200_000))
    missing = str(tmp_path / "missing")
    res = hash_files([a, (b, 200_000), missing])
    assert res[0] == HashResult(a, cas_id(a, 3), None)
    assert res[1] == HashResult(b, cas_id(b, 200_000), None)
    assert res[2].path == missing and res[2].digest is None
    assert res[2].error.startswith("FileNotFoundError")
    assert [r.digest for r in hash_files([a], "full")] == [full_hash(a)]
    assert [r.digest for r in hash_files([a], "head")] == [head_hash(a)]
    assert [r.digest for r in hash_files([a], "tail")] == [tail_hash(a, 3)]
    with pytest.raises(ValueError):
        hash_files([a], "md5")  # type: ignore[arg-type]


def test_functions_run_in_a_process_pool(tmp_path):
    paths = [write(tmp_path / f"f{i}", rand(150_000 + i, seed=i)) for i in range(6)]
    pickle.dumps(HashResult("p", "d", None))
    with ProcessPoolExecutor(max_workers=2) as pool:
        batches = list(pool.map(hash_files, [paths[:3], paths[3:]]))
        fulls = list(pool.map(full_hash, paths))
    flat = [r for batch in batches for r in batch]
    assert [r.digest for r in flat] == [cas_id(p, os.path.getsize(p)) for p in paths]
    assert fulls == [full_hash(p) for p in paths]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actual=st.one_of(st.integers(0, 3 * 1024),
                        st.sampled_from([hashing.FULL_CHUNK - 1, hashing.FULL_CHUNK, hashing.FULL_CHUNK + 1,
                                         2 * hashing.FULL_CHUNK, 2 * hashing.FULL_CHUNK + 1]),
                        st.integers(1, 3 * hashing.FULL_CHUNK)),
       delta=st.sampled_from([0, 0, 0, -1, 1, -4096, 4096]), seed=st.integers(0, 2**32 - 1))
def test_read_sized_is_the_full_hash_or_says_the_size_moved(tmp_path, actual, delta, seed):
    """``read_sized(fd, size)`` of a file of ``actual`` bytes: the same digest as
    ``full_hash`` (and as xxh3-128 of the bytes) when ``size`` is right; ShortReadError
    when the file is shorter than ``size``, GrewError when it is longer."""
    print(f"replay: actual={actual} delta={delta} seed={seed}")
    expected = max(0, actual + delta)
    data = random.Random(seed).randbytes(actual)
    path = write(tmp_path / "f", data)
    fd = os.open(path, os.O_RDONLY)
    try:
        if expected == actual:
            assert hashing.read_sized(fd, expected) == full_hash(path) == xxhash.xxh3_128_hexdigest(data)
        else:
            with pytest.raises(ShortReadError if actual < expected else hashing.GrewError):
                hashing.read_sized(fd, expected)
    finally:
        os.close(fd)
