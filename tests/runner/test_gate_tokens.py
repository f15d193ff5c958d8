"""The state machine of one gated map's tokens (gate.Tokens), over a real pipe to a stand-in supervisor end.

Phases: HOME (the map's thread in its loop), AWAY (out at the consumer), CLOSED (over). An ended chunk
keeps its token at HOME, gives it back at once when AWAY or CLOSED; close says "hungry 0" before it
hands back the spare tokens, so the supervisor cannot grant them straight back.
"""

from __future__ import annotations

import random
import threading
from multiprocessing import Pipe

import pytest

from sdjobs.runner.gate import GateClient, Phase, Tokens, TransitionError


def received(conn) -> list:
    out = []
    while conn.poll(0.05):
        out.append(conn.recv())
    return out


@pytest.fixture
def ends():
    job_end, sup_end = Pipe()
    yield Tokens(GateClient(job_end)), sup_end
    job_end.close()
    sup_end.close()


def running_two(tokens: Tokens) -> None:
    tokens.want(2)
    tokens.granted(2)
    tokens.started()
    tokens.started()


def test_want_is_sent_only_when_it_changes(ends):
    tokens, sup = ends
    tokens.want(2)
    tokens.want(2)
    tokens.want(1)
    assert received(sup) == [("hungry", 2), ("hungry", 1)]


def test_a_chunk_ended_at_home_keeps_its_token_and_wakes_the_map(ends):
    tokens, sup = ends
    running_two(tokens)
    received(sup)
    tokens.chunk_ended()
    assert (tokens.held, tokens.running) == (2, 2), "counted by the result thread, not yet settled"
    assert tokens.wait([], 5) != [], "the map's thread is woken"
    tokens.settle()
    assert (tokens.held, tokens.running, tokens.spare) == (2, 1, 1)
    assert received(sup) == [], "the token waits for the next chunk"
    assert tokens.wait([], 0) == [], "the wake-up was read"


def test_a_chunk_ended_while_away_gives_its_token_back_at_once(ends):
    tokens, sup = ends
    running_two(tokens)
    received(sup)
    with tokens.away():
        assert tokens.phase is Phase.AWAY
        tokens.chunk_ended()
        assert received(sup) == [("release", 1)]
    assert tokens.phase is Phase.HOME
    tokens.settle()
    assert (tokens.held, tokens.running) == (1, 1)


def test_a_chunk_ended_after_close_gives_its_token_back_uncounted(ends):
    tokens, sup = ends
    running_two(tokens)
    tokens.granted(1)
    received(sup)
    tokens.close()
    assert tokens.phase is Phase.CLOSED
    assert received(sup) == [("hungry", 0), ("release", 1)], "no more wanted first, then the spare token"
    tokens.chunk_ended()
    tokens.chunk_ended()
    assert received(sup) == [("release", 1), ("release", 1)]
    assert (tokens.held, tokens.running) == (2, 2)


def test_close_counts_chunks_that_ended_before_it(ends):
    tokens, sup = ends
    running_two(tokens)
    tokens.chunk_ended()
    received(sup)
    tokens.close()
    assert received(sup) == [("hungry", 0), ("release", 1)]
    tokens.close()  # twice is once
    assert received(sup) == []


def test_close_while_away_leaves_the_map_closed(ends):
    tokens, sup = ends
    running_two(tokens)
    with tokens.away():
        tokens.close()  # a consumer that closes the generator at a yield
    assert tokens.phase is Phase.CLOSED


def test_giving_back_lowers_what_the_supervisor_asked_back(ends):
    tokens, sup = ends
    tokens.want(1)
    tokens.granted(2)
    tokens.gate.reclaim = 1
    tokens.give_back(min(tokens.spare, tokens.gate.reclaim))
    assert tokens.gate.reclaim == 0 and tokens.held == 1
    tokens.give_back(0)
    assert received(sup) == [("hungry", 1), ("release", 1)]


@pytest.mark.parametrize("misuse", [
    "start_without_token", "start_away", "start_closed", "away_twice", "away_closed", "wait_away",
    "give_back_running", "want_closed",
])
def test_steps_against_the_state_machine_raise(ends, misuse):
    tokens, _ = ends
    tokens.want(1)
    tokens.granted(1)
    with pytest.raises(TransitionError):
        if misuse == "start_without_token":
            tokens.started()
            tokens.started()
        elif misuse == "start_away":
            with tokens.away():
                tokens.started()
        elif misuse == "start_closed":
            tokens.close()
            tokens.started()
        elif misuse == "away_twice":
            with tokens.away(), tokens.away():
                pass
        elif misuse == "away_closed":
            tokens.close()
            with tokens.away():
                pass
        elif misuse == "wait_away":
            with tokens.away():
                tokens.wait([], 0)
        elif misuse == "give_back_running":
            tokens.started()
            tokens.give_back(1)
        elif misuse == "want_closed":
            tokens.close()
            tokens.want(1)


def test_every_token_comes_back_whatever_the_interleaving():
    """A result thread ends chunks while the map's thread goes away and back, starts, gives back and closes:
    whatever the order, the releases add up to the grants and nothing is released twice."""
    seed = random.randrange(2**32)
    rnd = random.Random(seed)
    job_end, sup_end = Pipe()
    tokens = Tokens(GateClient(job_end))
    tokens.want(4)
    started = 0
    ended = threading.Semaphore(0)

    def results() -> None:
        for _ in range(200):
            ended.acquire()
            tokens.chunk_ended()

    thread = threading.Thread(target=results)
    thread.start()
    grants = 0
    for _ in range(200):
        tokens.settle()
        if tokens.spare == 0:
            tokens.granted(1)
            grants += 1
        tokens.started()
        started += 1
        ended.release()
        if rnd.random() < 0.5:
            with tokens.away():
                pass
        if rnd.random() < 0.2:
            tokens.settle()
            tokens.give_back(tokens.spare)
    thread.join()
    tokens.close()
    released = sum(m[1] for m in received(sup_end) if m[0] == "release")
    assert released == grants, f"seed {seed}: {released} released of {grants} granted"
    assert tokens.held == tokens.running == 0, f"seed {seed}"
