"""The Runner against a server that fails on purpose: retries, idempotent create and submit."""

import pytest

from runflow import RetryPolicy, Runner, RunStatus, ServiceUnavailableError, ToolRegistry
from runflow.testing import FakeClock, LocalServer
from runflow_server import FaultConfig, FaultRule
from tests.conftest import ServerFactory

pytestmark = pytest.mark.anyio

CREATE = r"/threads/thread_\w+/runs$"
SUBMIT = r"/submit_tool_outputs$"
SCENARIO = [
    {"tool_calls": [{"name": "charge", "arguments": {"amount": 5}}]},
    {"message": "done: {outputs}"},
]


def inject(server: LocalServer, *rules: FaultRule) -> None:
    server.app.state.faults = FaultConfig(seed=1, rules=list(rules))


def charging(charges: list[int]) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def charge(amount: int) -> str:
        charges.append(amount)
        return f"charged {amount}"

    return registry


async def run_with(server: LocalServer, charges: list[int], clock: FakeClock, **options: object):  # type: ignore[no-untyped-def]
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, charging(charges), clock=clock, **options)  # type: ignore[arg-type]
    async with clock.autojump() as waits:
        result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    return result, waits, runs.data


async def test_a_429_is_retried_after_the_retry_after_it_asked_for(
    make_server: ServerFactory,
) -> None:
    clock = FakeClock()
    server = make_server(SCENARIO, clock=clock)
    inject(server, FaultRule(kind="status", status=429, retry_after=7, times=1, path=CREATE))
    charges: list[int] = []

    result, waits, runs = await run_with(server, charges, clock)

    assert result.status is RunStatus.COMPLETED and result.retries == 1
    assert waits[0] == pytest.approx(7)
    assert charges == [5] and len(runs) == 1
    assert server.app.state.fault_counts[429] == 1


@pytest.mark.parametrize("mode", ["stream", "poll"])
@pytest.mark.parametrize("status", [500, 503])
async def test_a_5xx_on_submission_is_retried_and_the_output_lands_once(
    make_server: ServerFactory, mode: str, status: int
) -> None:
    clock = FakeClock()
    server = make_server(SCENARIO, clock=clock)
    inject(server, FaultRule(kind="status", status=status, times=2, path=SUBMIT))
    charges: list[int] = []

    result, _, _ = await run_with(server, charges, clock, mode=mode)

    assert result.status is RunStatus.COMPLETED and result.retries == 2
    assert result.output_text == "done: charged 5"
    assert charges == [5]


@pytest.mark.parametrize("mode", ["stream", "poll"])
async def test_a_create_whose_answer_is_lost_does_not_create_a_second_run(
    make_server: ServerFactory, mode: str
) -> None:
    clock = FakeClock()
    server = make_server(SCENARIO, clock=clock)
    inject(server, FaultRule(kind="drop", when="after", times=1, method="POST", path=CREATE))
    charges: list[int] = []

    result, _, runs = await run_with(server, charges, clock, mode=mode)

    assert result.status is RunStatus.COMPLETED
    assert [run.id for run in runs] == [result.run.id]  # found by its key, not created again
    assert charges == [5]
    assert server.app.state.fault_counts["drop"] == 1


@pytest.mark.parametrize("mode", ["stream", "poll"])
async def test_a_submission_whose_answer_is_lost_is_not_submitted_again(
    make_server: ServerFactory, mode: str
) -> None:
    clock = FakeClock()
    server = make_server(SCENARIO, clock=clock)
    inject(server, FaultRule(kind="drop", when="after", times=1, path=SUBMIT))
    charges: list[int] = []
    submissions: list[str] = []

    result, _, _ = await run_with(server, charges, clock, mode=mode)
    submissions = [r for r in server.requests if r.endswith("/submit_tool_outputs")]

    assert result.status is RunStatus.COMPLETED
    assert result.output_text == "done: charged 5"
    assert charges == [5]
    assert len(submissions) == 1  # the lost answer was checked, not resubmitted


async def test_a_stream_cut_mid_run_falls_back_to_polling(make_server: ServerFactory) -> None:
    clock = FakeClock()
    server = make_server(SCENARIO, clock=clock)
    inject(server, FaultRule(kind="cut_stream", after_events=2, times=1, path=CREATE))
    charges: list[int] = []

    result, _, _ = await run_with(server, charges, clock)

    assert result.status is RunStatus.COMPLETED
    assert result.polls >= 1
    assert charges == [5]
    assert result.output_text == "done: charged 5"


async def test_retries_stop_at_the_budget_with_the_last_error(make_server: ServerFactory) -> None:
    clock = FakeClock()
    server = make_server(SCENARIO, clock=clock)
    inject(server, FaultRule(kind="status", status=503, method="POST", path=CREATE))
    policy = RetryPolicy(max_attempts=4)

    with pytest.raises(ExceptionGroup) as raised:  # raised through the autojump's task group
        await run_with(server, [], clock, retry=policy)

    assert raised.group_contains(ServiceUnavailableError, match="503")
    creates = [r for r in server.requests if r.startswith("POST") and r.endswith("/runs")]
    assert len(creates) == 4
