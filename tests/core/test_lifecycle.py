"""Every (status, observed status) pair of the lifecycle, and every decision."""

import itertools

import pytest

from runflow import ProtocolError
from runflow._lifecycle import (
    REACHABLE,
    TERMINAL_STATUSES,
    Abort,
    Dispatch,
    Finish,
    RunSnapshot,
    RunStatus,
    ToolCallRequest,
    Wait,
    check_transition,
    decide,
)

S = RunStatus
ACTIVE = [S.QUEUED, S.IN_PROGRESS, S.REQUIRES_ACTION]

# The expected table, written out independently of the implementation's.
LEGAL: set[tuple[RunStatus, RunStatus]] = set()
for before in ACTIVE:
    LEGAL |= {(before, after) for after in [*ACTIVE, S.CANCELLING, *TERMINAL_STATUSES]}
LEGAL |= {(S.CANCELLING, after) for after in [S.CANCELLING, *TERMINAL_STATUSES]}
LEGAL |= {(status, status) for status in TERMINAL_STATUSES}

PAIRS = [
    pytest.param(before, after, id=f"{before.value}->{after.value}")
    for before, after in itertools.product(RunStatus, RunStatus)
]


def test_the_table_covers_every_status() -> None:
    assert set(REACHABLE) == set(RunStatus)
    assert {s for s in RunStatus if s.is_terminal} == {
        S.COMPLETED,
        S.FAILED,
        S.CANCELLED,
        S.EXPIRED,
        S.INCOMPLETE,
    }


@pytest.mark.parametrize(("before", "after"), PAIRS)
def test_transition(before: RunStatus, after: RunStatus) -> None:
    if (before, after) in LEGAL:
        check_transition(before, after)
        return
    with pytest.raises(ProtocolError) as raised:
        check_transition(before, after)
    assert repr(before.value) in str(raised.value)
    assert repr(after.value) in str(raised.value)
    if before.is_terminal:
        assert "terminal" in str(raised.value)


@pytest.mark.parametrize("status", list(RunStatus), ids=lambda s: s.value)
def test_first_observation_is_always_legal(status: RunStatus) -> None:
    check_transition(None, status)


CALL = ToolCallRequest(id="call_1", name="f", arguments="{}")


@pytest.mark.parametrize("status", list(RunStatus), ids=lambda s: s.value)
def test_decision_for_each_status(status: RunStatus) -> None:
    decision = decide(RunSnapshot(status, "submit_tool_outputs", [CALL]))
    if status.is_terminal:
        assert decision == Finish(status)
    elif status is S.REQUIRES_ACTION:
        assert decision == Dispatch([CALL])
    else:
        assert decision == Wait()


def test_requires_action_without_tool_calls_aborts() -> None:
    decision = decide(RunSnapshot(S.REQUIRES_ACTION, "submit_tool_outputs", []))
    assert isinstance(decision, Abort)
    assert "no tool calls" in decision.reason


@pytest.mark.parametrize("action", [None, "submit_client_approval"])
def test_requires_action_of_unknown_type_aborts(action: str | None) -> None:
    decision = decide(RunSnapshot(S.REQUIRES_ACTION, action, [CALL]))
    assert isinstance(decision, Abort)
    assert repr(action) in decision.reason
