"""A turn's attempts: backoff, shrinking the prompt, giving up, and nothing published twice."""

from __future__ import annotations

from runflow_server.brains import Fail, FunctionCallDelta, TextDelta, Usage
from runflow_server.model.attempts import Attempts, Replay, Retry, RetryPolicy, Shrink
from runflow_server.model.failures import Problem

BUSY = Problem("server_error", "busy", retryable=True)
SLOW = Problem("rate_limit_exceeded", "slow", retryable=True, retry_after=30.0)
TOO_LONG = Problem("invalid_prompt", "too long", context_length=True)


def test_backoff_doubles_up_to_its_cap_then_gives_up() -> None:
    attempts = Attempts(RetryPolicy(attempts=5, first=1.0, longest=4.0), truncates=True)
    waits = [attempts.after(BUSY, now=0, deadline=1000) for _ in range(5)]
    assert waits[:4] == [Retry(1.0), Retry(2.0), Retry(4.0), Retry(4.0)]
    assert waits[4] == Fail("server_error", "busy")


def test_retry_after_is_honoured_unless_it_passes_the_deadline() -> None:
    attempts = Attempts(RetryPolicy(), truncates=True)
    assert attempts.after(SLOW, now=0, deadline=100) == Retry(30.0)
    assert attempts.after(SLOW, now=80, deadline=100) == Fail(
        "rate_limit_exceeded", "slow (no time left to retry)"
    )


def test_a_problem_not_worth_retrying_fails_at_once() -> None:
    attempts = Attempts(RetryPolicy(), truncates=True)
    final = Problem("invalid_prompt", "bad schema")
    assert attempts.after(final, now=0, deadline=100) == Fail("invalid_prompt", "bad schema")


def test_context_length_shrinks_under_auto_until_nothing_changes() -> None:
    attempts = Attempts(RetryPolicy(), truncates=True)
    assert attempts.check(9) is None
    assert [attempts.after(TOO_LONG, now=0, deadline=9) for _ in range(3)] == [
        Shrink(1),
        Shrink(2),
        Shrink(4),
    ]
    assert attempts.check(5) is None  # shorter: worth a try
    attempts.after(TOO_LONG, now=0, deadline=9)
    failure = attempts.check(5)  # the prompt could not get shorter
    assert isinstance(failure, Fail) and failure.code == "invalid_prompt"
    assert "too long" in failure.message


def test_context_length_without_auto_fails() -> None:
    attempts = Attempts(RetryPolicy(), truncates=False)
    assert attempts.after(TOO_LONG, now=0, deadline=9) == Fail("invalid_prompt", "too long")


def test_a_retry_publishes_only_what_goes_beyond_the_first_attempt() -> None:
    replay = Replay()
    first = [TextDelta("Hel"), TextDelta("lo"), FunctionCallDelta(0, "c", "f", '{"a"')]
    assert [replay.keep(e) for e in first] == first
    replay.next_attempt()
    again = [
        TextDelta("He"),
        TextDelta("llo w"),
        TextDelta("orld"),
        FunctionCallDelta(0, "c", "f", '{"a": 1}'),
        Usage(1, 2),
    ]
    assert [replay.keep(e) for e in again] == [
        None,
        TextDelta(" w"),
        TextDelta("orld"),
        FunctionCallDelta(0, None, None, ": 1}"),
        Usage(1, 2),
    ]


def test_a_retry_whose_text_differs_fails_and_whose_call_differs_goes_quiet() -> None:
    replay = Replay()
    replay.keep(TextDelta("Yes"))
    replay.keep(FunctionCallDelta(0, "c", "f", '{"a": 1'))
    replay.next_attempt()
    assert replay.keep(FunctionCallDelta(0, "c", "f", '{"b"')) is None
    assert replay.keep(FunctionCallDelta(0, None, None, ": 2}")) is None
    failure = replay.keep(TextDelta("No"))
    assert isinstance(failure, Fail) and failure.code == "server_error"
