"""The sandbox: real HTTP servers speaking backend wire protocols over one deterministic, scripted engine.

Used by `runbridge demo`, `runbridge sandbox` and every integration test. It imitates foreign servers, so it imports
nothing from the rest of runbridge.

Public API:

* `SandboxServer(family="openwop", *, variant=None, variants=None, api_key=DEFAULT_API_KEY, speed=0.0,
  workflows=None, keepalive_seconds=None, token_secret=None, token_ttl_seconds=1800.0, host="127.0.0.1",
  port=0, root_path="")` — a context manager (sync or async) serving in a daemon thread; `base_url`, `base_urls`,
  `api_key`, `headers`, `engine`, `faults`, `stats()`, `call(fn, *args)` (run on the server's loop), `start()`,
  `stop()`.
* `run_sandbox(host="127.0.0.1", port=0, family="openwop", variant=None, speed=1.0, print_fn=print, *,
  api_key=DEFAULT_API_KEY, keepalive_seconds=None, stop=None, root_path="") -> None` — blocking; prints the base
  URL (with the `root_path` prefix, if any), the API key and the workflow ids through `print_fn`, serves until
  Ctrl-C/SIGTERM (or the `threading.Event` `stop` is set), then returns. For the `runbridge sandbox` command.
* `Engine`, `Workflow`, `Step`, `GateSpec`, `Question`, `GateField`, `StepUsage`, `EngineEvent`,
  `EXAMPLE_WORKFLOWS` — the scripted engine and its model.
* `FaultPlan`, `StreamFaults` — fault injection (also `POST /_sandbox/faults`); `Stats` — counters
  (`GET /_sandbox/stats`).
* `HostVariant`, `VARIANTS`, `TokenSigner` — OpenWOP host variants and interrupt tokens.
* `FAMILIES` — wire families by name (`"openwop"`; `"orchestrations"`, the Synapse API of
  docs/backends/orchestrations.md, whose variants are `reference` (v1 only), `scale` (also the v2 queue API) and `seed`
  (the documentation's `step_id` spelling)).
"""

from .context import DEFAULT_API_KEY, SandboxContext
from .engine import AnswerResult, Engine
from .errors import (
    EngineError,
    ForkInvalid,
    ForkUnsupported,
    GateAlreadyResolved,
    GateCancelled,
    GateNotFound,
    GateValidationError,
    RunNotFound,
    RunTerminal,
    WorkflowNotFound,
)
from .events import TERMINAL_EVENTS, EngineEvent, EventType, RunStatus
from .families import FAMILIES
from .faults import FaultPlan, StreamFaults
from .model import GateField, GateKind, GateSpec, Question, Step, StepKind, StepUsage, Workflow
from .openwop import VARIANTS, HostVariant, TokenSigner
from .runs import RunRecord
from .server import SandboxServer, run_sandbox
from .stats import Stats
from .workflows import EXAMPLE_WORKFLOWS

__all__ = [
    "DEFAULT_API_KEY",
    "EXAMPLE_WORKFLOWS",
    "FAMILIES",
    "TERMINAL_EVENTS",
    "VARIANTS",
    "AnswerResult",
    "Engine",
    "EngineError",
    "EngineEvent",
    "EventType",
    "FaultPlan",
    "ForkInvalid",
    "ForkUnsupported",
    "GateAlreadyResolved",
    "GateCancelled",
    "GateField",
    "GateKind",
    "GateNotFound",
    "GateSpec",
    "GateValidationError",
    "HostVariant",
    "Question",
    "RunNotFound",
    "RunRecord",
    "RunStatus",
    "RunTerminal",
    "SandboxContext",
    "SandboxServer",
    "Stats",
    "Step",
    "StepKind",
    "StepUsage",
    "StreamFaults",
    "TokenSigner",
    "Workflow",
    "WorkflowNotFound",
    "run_sandbox",
]
