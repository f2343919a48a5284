"""core.collector: the collector is off while any pause is open, and only then."""

from __future__ import annotations

import gc
import threading

import pytest

from core.collector import collector_paused, resume_collector


@pytest.fixture(autouse=True)
def _collector_restored():
    enabled = gc.isenabled()
    yield
    gc.enable() if enabled else gc.disable()


def test_a_pause_turns_the_collector_off_and_back_on():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


class Failed(Exception):
    pass


def test_it_resumes_after_an_exception_too():
    gc.enable()
    with pytest.raises(Failed), collector_paused():
        raise Failed
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_keep_it_off_until_the_last_ends():
    """Thread A pauses, B pauses, A ends (still off: B runs), B ends (on again)."""
    gc.enable()
    a_in, b_in, a_out, b_may_end = (threading.Event() for _ in range(4))
    seen: dict[str, bool] = {}

    def first() -> None:
        with collector_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second() -> None:
        a_in.wait(5)
        with collector_paused():
            b_in.set()
            a_out.wait(5)
            seen["after the first ended"] = gc.isenabled()
            b_may_end.wait(5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    a_out.wait(5)
    b_may_end.set()
    for thread in threads:
        thread.join(5)

    assert seen == {"after the first ended": False}
    assert gc.isenabled()


def test_a_requests_pause_leaves_resuming_to_the_next_request():
    gc.enable()
    with collector_paused(until_next_request=True):
        pass
    off_between = not gc.isenabled()
    resume_collector()

    assert off_between
    assert gc.isenabled()


def test_the_next_pause_takes_over_a_pending_resume():
    """A bulk starting before any other request keeps the collector off, and the state to
    restore is still the one before the first pause."""
    gc.enable()
    with collector_paused(until_next_request=True):
        pass
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
