"""What every driver of a Runner shares: its backend, tools, clock, limits and policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from anyio import CapacityLimiter

from runflow._journal import Journal
from runflow._retry import RetryPolicy
from runflow._tools import ToolRegistry
from runflow.backends import Backend
from runflow.clock import Clock

__all__ = ["DEFAULT_STREAM_IDLE_TIMEOUT", "DriverSettings", "Mode"]

DEFAULT_STREAM_IDLE_TIMEOUT = 60.0
"""Seconds a run's event stream may send nothing before runflow polls the run instead."""

Mode = Literal["stream", "poll"]


@dataclass(frozen=True)
class DriverSettings:
    backend: Backend
    tools: ToolRegistry
    clock: Clock
    safety_margin: float
    retry: RetryPolicy
    thread_limiter: CapacityLimiter
    mode: Mode
    journal: Journal | None = None
    stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT
