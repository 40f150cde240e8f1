"""The run engine: every change to a run, and the background work that moves runs along.

Two halves:

- **State changes** (`create_run`, `submit_tool_outputs`, `cancel_run`, `expire_if_due`...) are
  synchronous: each checks and writes in one go, with no `await` in between, so concurrent
  requests on the event loop cannot interleave inside one. Each publishes its events.
- **The driver** (`_drive`) is a task per run turn (anyio, under a cancel scope of its own;
  `tasks.TaskHost` holds them in one task group), started by the change that queues the run.
  It moves the run to in_progress, plays the brain's turns (`turns.py`) and commits each in
  one transaction (`turn_end.py`). It belongs to the engine, not to the HTTP request: a client
  that drops its stream does not stop the run. Tasks start lazily (the in-process ASGI
  transport runs no lifespan) and `aclose()` cancels them on shutdown.

Expiry: a run's `expires_at` is `created_at + run_expiry_seconds`. Every active run (queued,
in_progress, requires_action) expires once that time passes, whether anyone looks at it or not:

- Every read of a run through the engine expires it if the time has passed (so a test that
  advances a fake clock sees `expired` at once).
- A driver waiting out a `delay` sleeps on the clock until the delay's end or `expires_at`,
  whichever comes first, and expires the run itself when it wakes past `expires_at`.
- One watchdog task sleeps on the clock until the earliest `expires_at` of the other active
  runs: those waiting in requires_action, those whose brain is still deciding (a brain that
  hangs), those no driver of this engine moves. When it expires a run whose driver is waiting
  on the brain, it cancels that driver, which has written nothing yet.

So the clock has the same sleepers as a server that only watched requires_action runs: one per
delay and one watchdog, which sleeps only when some run waits on the client or on a brain that
really suspends (the scripted and default brains answer at once and never wake it). A fake
clock's `autojump()` therefore only ever jumps to an expiry when nothing else can move.
Cancelling runs are not expired: they end as cancelled.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel

from .bodies import MessageBody, MetadataBody, RunBody, RunOptions, SubmitToolOutputsBody
from .brains import (
    BuiltinContext,
    BuiltinTool,
    CallBuiltins,
    Delay,
    ToolResult,
    Turn,
    streaming,
)
from .catalog import Catalog
from .clock import Clock
from .errors import bad_request, not_found
from .events import EventBus, Subscription
from .filestore import StoredFiles
from .lifecycle import ACTIVE, EXPIRABLE, RunStatus, StepStatus, advance
from .objects import run_object, user_message_object
from .records import Assistant, Message, R, Run, Thread
from .run_state import RunState
from .scenario import BrainChooser
from .store import Store
from .tasks import TaskHost
from .turn_end import TurnWriter
from .turns import Played, Resources, TurnPlayer, fit_prompt
from .views import View
from .watchdog import ExpiryWatchdog

__all__ = ["RunEngine"]

JSON = dict[str, Any]
log = logging.getLogger(__name__)


class RunEngine:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        brains: BrainChooser,
        *,
        run_expiry_seconds: float,
        builtin_tools: Sequence[BuiltinTool] = (),
        vector_store_exists: Callable[[str], bool] = lambda store_id: False,
    ) -> None:
        self.store = store
        self.catalog = Catalog(store, self, vector_store_exists)
        self.files = StoredFiles(store, clock)
        self.builtin_tools = {tool.type: tool for tool in builtin_tools}
        self.clock = clock
        self.brains = brains
        self.bus = EventBus()
        self.run_expiry_seconds = run_expiry_seconds
        self._writer = TurnWriter(store, self.bus)
        self._tasks = TaskHost()
        self._drivers: dict[str, anyio.CancelScope] = {}
        self._deciding: set[str] = set()  # runs whose driver waits for the brain's decision
        self._players: dict[str, TurnPlayer] = {}  # the turn each driver is playing
        self._watchdog = ExpiryWatchdog(self._tasks, clock, self._expire_watched)
        self._started = False

    def now(self) -> int:
        return int(self.clock.now())

    # -- reading (with expiry) -------------------------------------------------------------

    def get(self, cls: type[R], object_id: str, *, parent: str | None = None) -> R:
        """A record by id (under `parent` when given): 400 for an id of the wrong kind, as the
        hosted API ("Expected an ID that begins with 'thread'."), 404 when there is none."""
        noun, param, prefix = cls.names
        if not object_id.startswith(prefix):
            raise bad_request(
                f"Invalid '{param}': '{object_id}'. Expected an ID that begins with '{prefix}'.",
                param=param,
                code="invalid_value",
            )
        found = self.store.get(cls, object_id, parent=parent)
        if found is None:
            raise not_found(noun, object_id)
        return found

    def thread(self, thread_id: str) -> Thread:
        return self.get(Thread, thread_id)

    def assistant(self, assistant_id: str) -> Assistant:
        return self.get(Assistant, assistant_id)

    def run(self, thread_id: str, run_id: str) -> Run:
        """A run of a thread, expired first if its time is up; 404s for either id."""
        self.thread(thread_id)
        return self.expire_if_due(self.get(Run, run_id, parent=thread_id))

    def active_run(self, thread_id: str) -> Run | None:
        """The thread's active run (queued, in_progress, requires_action, cancelling), if any."""
        for run in self.store.children(Run, thread_id, statuses=ACTIVE):
            if self.expire_if_due(run).status in ACTIVE:
                return run
        return None

    # -- state changes ---------------------------------------------------------------------

    def add_message(self, thread_id: str, body: MessageBody) -> Message:
        """A user (or assistant) message from the client; refused while a run is active."""
        self.thread(thread_id)
        active = self.active_run(thread_id)
        if active is not None:
            raise bad_request(
                f"Can't add messages to {thread_id} while a run {active.id} is active."
            )
        self.catalog.check_attachments([body])
        message = user_message_object(thread_id, body, created_at=self.now())
        self.store.add(message)
        return message

    def create_run(
        self,
        thread_id: str,
        body: RunOptions,
        *,
        subscribe: View | None = None,
        include: Iterable[str] = (),
    ) -> tuple[Run, Subscription | None]:
        """Queue a run on the thread and start driving it; `subscribe`: the view of a stream of
        its events; `include` is the request's `include[]`, handed to the run's built-in tools."""
        self.thread(thread_id)
        assistant = self.assistant(body.assistant_id)
        active = self.active_run(thread_id)
        if active is not None:
            raise bad_request(f"Thread {thread_id} already has an active run {active.id}.")
        now = self.now()
        run = run_object(
            body,
            assistant,
            thread_id=thread_id,
            created_at=now,
            expires_at=int(now + self.run_expiry_seconds),
        )
        extra = body.additional_messages if isinstance(body, RunBody) else None
        self.catalog.check_attachments(extra or [])
        with self.store.transaction():
            for message in extra or []:
                self.store.add(user_message_object(thread_id, message, created_at=now))
            self.store.add(run, state=RunState(include=tuple(sorted(set(include)))))
        subscription = None if subscribe is None else self.bus.subscribe(run.id, subscribe)
        self.bus.publish(run.id, "thread.run.created", run)
        self.bus.publish(run.id, "thread.run.queued", run)
        self._start_driver(run.id)
        return run, subscription

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        body: SubmitToolOutputsBody,
        *,
        subscribe: View | None = None,
    ) -> tuple[Run, Subscription | None]:
        """Complete the waiting tool_calls step with the outputs, and queue the run again."""
        run = self.run(thread_id, run_id)
        if run.status != RunStatus.REQUIRES_ACTION:
            raise bad_request(f'Runs in status "{run.status}" do not accept tool outputs.')
        calls = run.tool_calls
        expected = [call["id"] for call in calls]
        given = [output.tool_call_id for output in body.tool_outputs]
        if sorted(given) != sorted(expected):
            raise bad_request(
                f"Expected tool outputs for call_ids {expected}, got {given}",
                param="tool_outputs",
            )
        outputs = {output.tool_call_id: output.output for output in body.tool_outputs}
        results = tuple(
            ToolResult(c["id"], c["function"]["name"], c["function"]["arguments"], outputs[c["id"]])
            for c in calls
        )
        state = self.store.run_state(run_id)
        subscription = None if subscribe is None else self.bus.subscribe(run_id, subscribe)
        with self.store.transaction():
            self._writer.complete_tool_step(run, state.tool_step, outputs, now=self.now())
            run = advance(run, RunStatus.QUEUED, required_action=None)
            state = state.model_copy(update={"rounds": (*state.rounds, results), "tool_step": None})
            self.store.put(run, state=state)
        self.bus.publish(run_id, "thread.run.queued", run)
        self._start_driver(run_id)
        return run, subscription

    def update_run(self, thread_id: str, run_id: str, body: MetadataBody) -> Run:
        """Set the run's metadata (nothing else), on the run as it is now."""
        run = self.run(thread_id, run_id)
        if body.metadata is not None:
            run = run.model_copy(update={"metadata": body.metadata})
            self.store.put(run)
        return run

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """Move the run to cancelling now, and to cancelled in the background."""
        run = self.run(thread_id, run_id)
        if run.status not in EXPIRABLE:
            raise bad_request(f"Cannot cancel run with status '{run.status}'.")
        run = advance(run, RunStatus.CANCELLING)
        self.store.put(run)
        self.bus.publish(run_id, "thread.run.cancelling", run)
        self._stop_driver(run_id)
        self._tasks.spawn(partial(self._finish_cancel, run_id))
        return run

    def expire_if_due(self, run: Run) -> Run:
        """The run, expired (and its open steps) if its `expires_at` has passed."""
        if run.status not in EXPIRABLE or run.expires_at is None:
            return run
        if self.clock.now() < run.expires_at:
            return run
        now = self.now()
        with self.store.transaction():
            self._stop_driver(run.id)  # (its own driver too: it stops at its next await)
            self._writer.close_open_steps(run, StepStatus.EXPIRED, now=now)
            run = advance(run, RunStatus.EXPIRED, required_action=None)
            self.store.put(run)
        self.bus.publish(run.id, "thread.run.expired", run)
        return run

    def _stop_driver(self, run_id: str) -> None:
        """Cancel the run's driver; the message it was streaming keeps the text sent so far."""
        player = self._players.pop(run_id, None)
        streamed = None if player is None else player.open_message()
        if streamed is not None:
            self.store.put(streamed)
        driver = self._drivers.pop(run_id, None)
        if driver is not None:
            driver.cancel()

    # -- background work -------------------------------------------------------------------

    def start(self) -> None:
        """On first use: pick up the runs a previous server left active on this database.

        Overdue runs expire; runs that were queued or being decided are driven again from the
        top of their turn; cancelling runs are cancelled; the watchdog watches the rest.
        """
        if self._started:
            return
        self._started = True
        for run in self.store.with_status(Run, ACTIVE):
            run = self.expire_if_due(run)
            if run.status == RunStatus.CANCELLING:
                self._tasks.spawn(partial(self._finish_cancel, run.id))
            elif run.status in (RunStatus.QUEUED, RunStatus.IN_PROGRESS):
                if run.status == RunStatus.IN_PROGRESS:
                    self._writer.requeue(run)
                log.info("run %s resumed after a restart", run.id)
                self._start_driver(run.id)
            else:
                self._watchdog.poke()

    def _start_driver(self, run_id: str) -> None:
        scope = self._drivers[run_id] = anyio.CancelScope()
        self._tasks.spawn(partial(self._drive, run_id, scope), scope)

    async def _drive(self, run_id: str, scope: anyio.CancelScope) -> None:
        """One turn of a run: queued -> in_progress -> the brain's decisions -> an end or a wait."""
        try:
            await self._drive_turn(run_id)
        except Exception as exc:  # a bug in a brain or here: fail the run, never leave it hanging
            log.exception("run %s: the driver failed", run_id)
            self._fail_unexpectedly(run_id, exc)
        finally:
            if self._drivers.get(run_id) is scope:
                del self._drivers[run_id]

    async def _drive_turn(self, run_id: str) -> None:
        run = self._current(run_id, RunStatus.QUEUED)
        if run is None:
            return
        run = advance(run, RunStatus.IN_PROGRESS, started_at=self.now())
        self.store.put(run)
        self.bus.publish(run_id, "thread.run.in_progress", run)
        while True:
            state = self.store.run_state(run_id)
            turn = fit_prompt(self._turn(run, state))
            if turn is None:
                self._writer.incomplete(run, "max_prompt_tokens", now=self.now())
                return
            played = await self._play(run, turn, self._resources(run, turn, state))
            run = self._current(run_id, RunStatus.IN_PROGRESS)
            if run is None:
                return
            run = self._writer.commit(run, turn, played, state, now=self.now())
            if isinstance(played.terminal, Delay):
                waited = await self._wait_out(run, played.terminal.seconds)
                if waited is None:
                    return
                run = waited
            elif not isinstance(played.terminal, CallBuiltins):
                if run.status == RunStatus.REQUIRES_ACTION:
                    self._watchdog.poke()
                return

    async def _play(self, run: Run, turn: Turn, resources: Resources) -> Played:
        """One model turn, streamed; the watchdog watches the run while the brain (or a built-in
        tool) takes its time.

        Checked on the next loop iteration, so a brain that answers without suspending (the
        scripted and default brains) never wakes the watchdog.
        """
        chosen = self.brains.brain_for(turn.assistant)
        cut_text = not getattr(chosen, "limits_its_output", False)
        opened = self._writer.store_opened
        player = TurnPlayer(
            self.bus, run, turn, resources, self.now, store_opened=opened, cut_text=cut_text
        )
        self._deciding.add(run.id)
        self._players[run.id] = player
        self._tasks.spawn(partial(self._watch_if_deciding, run.id), count=False)
        try:
            return await player.play(streaming(chosen).respond(turn))
        finally:
            self._deciding.discard(run.id)
            if self._players.get(run.id) is player:
                del self._players[run.id]

    def _resources(self, run: Run, turn: Turn, state: RunState) -> Resources:
        def context() -> BuiltinContext:
            return BuiltinContext(
                run=turn.run,
                assistant=turn.assistant,
                thread=self.thread(run.thread_id).to_wire(),
                files=self.files,
                include=frozenset(state.include),
                deadline=float(run.expires_at or math.inf),
            )

        return Resources(self.builtin_tools, context, state.builtin, state.images)

    async def _watch_if_deciding(self, run_id: str) -> None:
        if run_id in self._deciding:
            self._watchdog.poke()

    async def _wait_out(self, run: Run, seconds: float) -> Run | None:
        """Sleep `seconds` on the clock, but no later than the run's `expires_at`: the run as
        it then is, or None when it expired (this driver expired it) or was taken elsewhere."""
        end = self.clock.now() + seconds
        while True:
            deadline = end if run.expires_at is None else min(end, run.expires_at)
            await self.clock.sleep_until(deadline)
            current = self._current(run.id, RunStatus.IN_PROGRESS)
            if current is None or self.clock.now() >= end:
                return current
            run = current  # woke before the end (a clock waking early): sleep the rest

    def _current(self, run_id: str, status: RunStatus) -> Run | None:
        """The run as stored now, if it is (still) in `status` and not overdue."""
        run = self.store.get(Run, run_id)
        if run is None:
            return None
        run = self.expire_if_due(run)
        return run if run.status == status else None

    def _turn(self, run: Run, state: RunState) -> Turn:
        """What the brain sees, as the API shapes it."""
        return Turn(
            run=run.to_wire(),
            assistant=self.assistant(run.assistant_id).to_wire(),
            messages=[m.to_wire() for m in self.store.children(Message, run.thread_id)],
            rounds=state.rounds,
            memory=self.store.state("threads", run.thread_id).get("memory", {}),
        )

    def _fail_unexpectedly(self, run_id: str, exc: Exception) -> None:
        run = self.store.get(Run, run_id)
        if run is None or run.status != RunStatus.IN_PROGRESS:
            return
        message = f"The server failed while running the run: {type(exc).__name__}: {exc}"
        error = {"code": "server_error", "message": message, "param": None, "type": "server_error"}
        self.bus.publish(run_id, "error", error)
        self._writer.fail(run, "server_error", message, now=self.now())

    async def _finish_cancel(self, run_id: str) -> None:
        await anyio.lowlevel.checkpoint()
        run = self.store.get(Run, run_id)
        if run is None or run.status != RunStatus.CANCELLING:
            return
        now = self.now()
        with self.store.transaction():
            self._writer.close_open_steps(run, StepStatus.CANCELLED, now=now)
            run = advance(
                run, RunStatus.CANCELLED, cancelled_at=now, required_action=None, expires_at=None
            )
            self.store.put(run)
        self.bus.publish(run_id, "thread.run.cancelled", run)

    def _watched(self, run: Run) -> bool:
        """Is the run the watchdog's to expire? Yes unless a driver of this engine is moving it
        (runnable, or waiting out a delay it cuts at `expires_at`)."""
        return (
            run.status == RunStatus.REQUIRES_ACTION
            or run.id in self._deciding
            or run.id not in self._drivers
        )

    def _expire_watched(self) -> float | None:
        """Expire the watched runs that are due; the earliest `expires_at` of the others."""
        watched = [
            self.expire_if_due(run)
            for run in self.store.with_status(Run, EXPIRABLE)
            if self._watched(run)
        ]
        deadlines = [
            run.expires_at
            for run in watched
            if run.status in EXPIRABLE and run.expires_at is not None
        ]
        return min(deadlines, default=None)

    async def wait_until_settled(self) -> None:
        """Wait until no run is being driven (runs rest in requires_action or an end).

        For tests and embedders that created runs without streaming; a run waiting out a
        `delay` step on a fake clock is not settled until the clock moves.
        """
        await self._tasks.settled()

    async def aclose(self) -> None:
        """Cancel every background task and wait for them (lifespan shutdown)."""
        await self._tasks.aclose()
        self._drivers.clear()
        for tool in self.builtin_tools.values():  # e.g. code interpreter sessions
            close = getattr(tool, "aclose", None)
            if close is not None:
                await close()
