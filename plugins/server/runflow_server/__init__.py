"""runflow-server: a local, Assistants-API-compatible run server.

Same wire protocol, SSE events and run lifecycle as the hosted Assistants API, a SQLite store,
and pluggable brains that decide what the assistant does (`DefaultBrain`, or a scripted
`Scenario`). Start it in-process with `create_app()` or on a port with `runflow serve`.
"""

from .app import create_app
from .brains import (
    Brain,
    BrainEvent,
    BuiltinCall,
    BuiltinContext,
    BuiltinOutcome,
    BuiltinTool,
    CallBuiltins,
    CallFunctions,
    CallTools,
    Citation,
    DecidingBrain,
    Decision,
    DefaultBrain,
    Delay,
    Fail,
    FunctionCallDelta,
    Incomplete,
    Reply,
    TextDelta,
    ToolCall,
    ToolResult,
    Turn,
    Usage,
)
from .cli import serve_command
from .clock import Clock, SystemClock
from .faults import ConnectionDropped, FaultConfig, FaultRule
from .scenario import Scenario, ScenarioError, ScriptedBrain, load_scenario, load_scenarios

__all__ = [
    "Brain",
    "BrainEvent",
    "BuiltinCall",
    "BuiltinContext",
    "BuiltinOutcome",
    "BuiltinTool",
    "CallBuiltins",
    "CallFunctions",
    "CallTools",
    "Citation",
    "Clock",
    "ConnectionDropped",
    "DecidingBrain",
    "Decision",
    "DefaultBrain",
    "Delay",
    "Fail",
    "FaultConfig",
    "FaultRule",
    "FunctionCallDelta",
    "Incomplete",
    "Reply",
    "Scenario",
    "ScenarioError",
    "ScriptedBrain",
    "SystemClock",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "Turn",
    "Usage",
    "create_app",
    "load_scenario",
    "load_scenarios",
    "serve_command",
]
