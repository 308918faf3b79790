"""Bad input, generated: arguments drawn from every tool's input schema as `tools/list` publishes it, then broken
(wrong types, missing and extra keys, huge strings, unicode, path-like and URL-like values, unknown ids), sent by
the official client over streamable HTTP in both eras to runbridge on three sandboxes. Every call ends in a result
or a curated tool error of at most 2,000 characters, never a protocol error or a stack trace (in the answer, or in
what the server logs to stderr); the backends only see requests on their own API, and only the tool that owns a
write causes it; and the server keeps answering."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_types import CallToolResult
from surface_harness import API_PREFIXES, WRITES, assert_curated, profile_for, requests_seen, serving, settings_for

from runbridge.cli.serve import http_app
from runbridge.sandbox import SandboxServer

KEYS = {
    "openwop": "sk-fuzz-openwop-5c1e0f7a9b",
    "orchestrations": "sk-fuzz-synapse-93d2aa61c4",
    "orchagent": "sk-fuzz-orchagent-7be44d0219",
}
NAMES = {"openwop": "wop", "orchestrations": "syn", "orchagent": "oa"}
EXAMPLES = 160  # about 13 s on a 2-core machine; derandomized, so every run sends the same calls
MAX_ERROR_CHARS = 2_000  # a refusal is read by a model: it must not echo a huge argument back at it

# Placeholders replaced, at call time, by ids of real runs, gates and threads, so generated calls reach real state.
REAL = ("@run", "@gate", "@thread", "@waiting-run")
NASTY = [
    "../../etc/passwd",
    "..",
    ".",
    "~",
    "~/.ssh/id_rsa",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "a/../../../../admin",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "//evil.example/x",
    "https://evil.example/?q=1#frag",
    "x?limit=1000#",
    "run_nope/cancel#",
    "run_nope/cancel?",
    "%2e%2e%2f%2e%2e%2fetc",
    "\u202eevil\u202c",
    "名前🙂\u0301",
    "\x00",
    "' OR 1=1 --",
    "${HOME}",
    "{{7*7}}",
    " ",
    "",
    "x" * 200_000,
    "a\x00b",
    "../\x00/etc/passwd",
    "run_does_not_exist",
    "gate-unknown",
    "th_unknown",
    *NAMES.values(),
    *REAL,
]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([2**53, -(2**53), 2**63, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _values(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that satisfy `schema` (the JSON Schema subset pydantic emits), drawn toward the edges."""
    if "$ref" in schema:
        return _values(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of([_values(s, defs) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    match schema.get("type"):
        case "string":
            low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
            fitting = [s for s in NASTY if low <= len(s) <= schema.get("maxLength", math.inf)]
            return st.text(min_size=low, max_size=high) | st.sampled_from(fitting)
        case "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        case "number":
            return st.floats(schema.get("minimum", 0), schema.get("maximum", 2), allow_nan=False)
        case "boolean":
            return st.booleans()
        case "null":
            return st.none()
        case "array":
            return st.lists(_values(schema.get("items", {}), defs), max_size=3)
        case "object" if "properties" in schema:
            props = schema["properties"]
            required = set(schema.get("required", []))
            return st.fixed_dictionaries(
                {k: _values(v, defs) for k, v in props.items() if k in required},
                optional={k: _values(v, defs) for k, v in props.items() if k not in required},
            )
        case "object":
            return st.dictionaries(st.text(max_size=12) | st.sampled_from(NASTY[:12]), JSON, max_size=3)
        case _:
            return JSON


@st.composite
def arguments(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """Valid arguments, then (mostly) broken in one way the model or a hostile prompt could break them."""
    args: dict[str, Any] = draw(_values(schema, schema.get("$defs", {})))
    props = sorted(schema.get("properties", {}))
    how = draw(st.sampled_from(["as is", "wrong type", "nasty string", "missing key", "extra key"]))
    if how == "wrong type" and props:
        args[draw(st.sampled_from(props))] = draw(JSON)
    elif how == "nasty string" and props:
        args[draw(st.sampled_from(props))] = draw(st.sampled_from(NASTY))
    elif how == "missing key" and args:
        del args[draw(st.sampled_from(sorted(args)))]
    elif how == "extra key":
        args[draw(st.sampled_from(["runId", "values ", "__proto__", "x" * 300, "profile_name"]))] = draw(JSON)
    return args


class Tracebacks(logging.Handler):
    """Every log record the server writes with a stack trace: what would reach its stderr."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.seen.append(f"{record.name}: {record.getMessage()[:300]}")


@dataclass
class Wire:
    """Two official clients (one per era) held open over HTTP on a portal, and the three sandboxes."""

    portal: BlockingPortal
    clients: dict[str, Client]
    sandboxes: dict[str, SandboxServer]
    schemas: dict[str, dict[str, Any]]
    tracebacks: Tracebacks
    real: dict[str, str] = field(default_factory=dict)

    def call(self, era: str, name: str, args: dict[str, Any]) -> CallToolResult:
        async def call() -> CallToolResult:
            with anyio.fail_after(20):
                return await self.clients[era].call_tool(name, args)

        return self.portal.call(call)

    def seen(self) -> dict[str, Counter[str]]:
        return {family: requests_seen(sandbox) for family, sandbox in self.sandboxes.items()}


def _fill(value: Any, real: dict[str, str]) -> Any:
    if isinstance(value, str):
        return real.get(value, value)
    if isinstance(value, dict):
        return {k: _fill(v, real) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, real) for v in value]
    return value


@pytest.fixture(scope="module")
def wire() -> Iterator[Wire]:
    with (
        SandboxServer("openwop", api_key=KEYS["openwop"], keepalive_seconds=0.2) as wop,
        SandboxServer("orchestrations", api_key=KEYS["orchestrations"], keepalive_seconds=0.2) as syn,
        SandboxServer("orchagent", api_key=KEYS["orchagent"], keepalive_seconds=0.2) as oa,
        pytest.MonkeyPatch.context() as env,
    ):
        sandboxes = {"openwop": wop, "orchestrations": syn, "orchagent": oa}
        profiles = []
        for family, sandbox in sandboxes.items():
            env.setenv(f"RB_FUZZ_{family.upper()}_KEY", KEYS[family])
            profiles.append(profile_for(family, sandbox, NAMES[family], f"RB_FUZZ_{family.upper()}_KEY"))
        settings = settings_for(*profiles, wait_seconds=0.3, max_wait_seconds=0.5)
        tracebacks = Tracebacks()
        logging.getLogger().addHandler(tracebacks)
        with (
            serving(http_app(settings)) as url,
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(Client(url, mode="legacy")) as legacy,
            portal.wrap_async_context_manager(Client(url, mode="auto")) as modern,
        ):
            listed = portal.call(legacy.list_tools)
            schemas = {tool.name: tool.input_schema for tool in listed.tools}
            w = Wire(portal, {"legacy": legacy, "auto": modern}, sandboxes, schemas, tracebacks)
            _seed(w)
            try:
                yield w
            finally:
                logging.getLogger().removeHandler(tracebacks)


def _seed(w: Wire) -> None:
    """Real ids to aim at: a finished run, a run waiting at a gate, its gate, and a thread."""
    done = w.call("legacy", "runs_start", {"target_id": "quick-demo"}).structured_content
    waiting = w.call("legacy", "runs_start", {"target_id": "approval-demo"}).structured_content
    thread = w.call("legacy", "threads_create", {"spec": {"workflow": "chat"}, "profile": "oa"}).structured_content
    assert done is not None, "seeding the fuzz targets failed"
    assert waiting is not None
    assert thread is not None
    w.real.update(
        {
            "@run": done["run_id"],
            "@waiting-run": waiting["run_id"],
            "@gate": waiting["waiting_for"]["gate_id"],
            "@thread": thread["thread_id"],
        }
    )


def _check_backend_traffic(before: dict[str, Counter[str]], after: dict[str, Counter[str]], tool: str) -> None:
    for family, seen in after.items():
        for route in seen - before[family]:
            method, _, path = route.partition(" ")
            assert path.startswith(API_PREFIXES[family]), f"{tool} sent {method} {path!r} to the {family} backend"
            owners = WRITES.get(route)
            assert owners is None or tool in owners, f"{tool} caused {route} on the {family} backend"


def test_the_tool_surface_lists_a_schema_for_every_tool(wire: Wire) -> None:
    assert {"runs_start", "gates_respond", "threads_set_secrets", "approvals_approve"} <= set(wire.schemas)
    assert all(schema.get("type") == "object" for schema in wire.schemas.values())


@pytest.mark.slow  # fuzzing: EXAMPLES generated calls
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=st.data())
def test_generated_arguments_end_in_a_result_or_a_curated_tool_error_and_the_server_keeps_answering(
    wire: Wire, data: st.DataObject
) -> None:
    era = data.draw(st.sampled_from(["legacy", "auto"]), label="era")
    tool = data.draw(st.sampled_from(sorted(wire.schemas)), label="tool")
    args = _fill(data.draw(arguments(wire.schemas[tool]), label="arguments"), wire.real)
    before = wire.seen()
    wire.tracebacks.seen.clear()
    result = wire.call(era, tool, args)  # a protocol error (MCPError) or a client-side schema failure raises here
    assert not wire.tracebacks.seen, f"{tool}({str(args)[:200]}) logged a stack trace: {wire.tracebacks.seen}"
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        assert_curated(text, *KEYS.values())
        assert text.strip() != f"Error executing tool {tool}", "an unexpected exception escaped the tool"
        assert len(text) <= MAX_ERROR_CHARS, f"{tool} refused with {len(text)} characters"
    else:
        assert result.structured_content is not None
        for key in KEYS.values():
            assert key not in text
    _check_backend_traffic(before, wire.seen(), tool)
    alive = wire.call(era, "profiles_list", {})
    assert not alive.is_error
    assert [p["name"] for p in (alive.structured_content or {})["profiles"]] == list(NAMES.values())


PATH_LIKE = [
    "../../etc/passwd",
    "..",
    "a/../../../../admin",
    "run_nope/cancel#",
    "x?limit=1000#",
    "//evil.example/x",
    "http://169.254.169.254/latest/meta-data/",
    "\x1f",
]
ID_TOOLS = [
    ("runs_get", "run_id", "wop"),
    ("runs_events", "run_id", "wop"),
    ("runs_fork", "run_id", "wop"),
    ("runs_cancel", "run_id", "wop"),
    ("targets_describe", "target_id", "wop"),
    ("targets_describe", "target_id", "syn"),
    ("runs_start", "target_id", "syn"),
    ("threads_history", "thread_id", "oa"),
    ("threads_send", "thread_id", "oa"),
    ("approvals_approve", "run_id", "oa"),
]


@pytest.mark.parametrize(("tool", "key", "profile"), ID_TOOLS)
def test_path_like_and_url_like_ids_stay_one_path_segment_of_the_backends_api(
    wire: Wire, tool: str, key: str, profile: str
) -> None:
    """Every id is one segment of the backend's path: none leaves its API, none reaches another endpoint."""
    required = {"threads_send": {"user_prompt": "hi"}, "approvals_approve": {"tool": "t"}}.get(tool, {})
    for value in PATH_LIKE:
        before = wire.seen()
        result = wire.call("legacy", tool, {key: value, "profile": profile, **required})
        assert result.is_error, f"{tool}({key}={value!r}) found something"
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        assert_curated(text, *KEYS.values())
        assert text.strip() != f"Error executing tool {tool}", f"{tool}({key}={value!r}) crashed"
        _check_backend_traffic(before, wire.seen(), tool)


def test_a_huge_argument_is_not_echoed_back_in_full_and_the_refusal_still_says_what_to_do(wire: Wire) -> None:
    huge = "x" * 200_000
    profile = wire.call("legacy", "runs_list", {"profile": huge})
    field = wire.call(
        "auto", "gates_respond", {"gate_id": wire.real["@gate"], "decision": "accept", "values": {huge: 1}}
    )
    for result in (profile, field):
        assert result.is_error
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        assert len(text) <= MAX_ERROR_CHARS, len(text)
        assert_curated(text, *KEYS.values())
    assert "Configured profiles: oa, syn, wop" in profile.content[0].text  # type: ignore[union-attr]
