"""Store.lost: a library cut short of its pages is lost (its runner and jobs stop for good and
remove their temporaries); a healthy one, written and checkpointed by others meanwhile, never is."""

import os
import random
import sqlite3
import threading

from sdjobs.core import codec


def _fill(store, n):
    for i in range(n):
        store.submit("test-steps", 1, {"steps": 1, "pad": "x" * 2000, "i": i}, priority=0,
                     context={"argv": ["test"]})


def test_a_library_cut_to_a_third_is_lost(store, lib):
    _fill(store, 60)
    with sqlite3.connect(lib) as conn:  # every page in the file, none in the WAL: the cut takes them
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert store.lost() is None
    os.truncate(lib, os.path.getsize(lib) // 3)
    assert "cut short" in (store.lost() or ""), store.lost()


def test_a_healthy_library_is_never_taken_for_a_cut_one(store, lib):
    """Writers and checkpoints of every mode in other connections while this one looks."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    stop = threading.Event()
    errors = []

    def churn():
        conn = sqlite3.connect(lib, timeout=30)
        try:
            while not stop.is_set():
                with conn:
                    conn.execute("INSERT INTO job (type, type_version, status, priority, config, created_at,"
                                 " updated_at) VALUES ('x', 1, 'completed', 0, ?, 0, 0)",
                                 (codec.pack({"pad": os.urandom(rng.randrange(100, 20000)).hex()}),))
                if rng.random() < 0.3:
                    conn.execute(f"PRAGMA wal_checkpoint({rng.choice(['PASSIVE', 'FULL', 'RESTART', 'TRUNCATE'])})")
        except Exception as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(400):
            assert store.lost() is None, f"seed {seed}: {store.lost()}"
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
