"""Reading orchagent stream lines (pure functions: no HTTP), secret references, and the ORCHAGENT_* variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runbridge.backends.orchagent.events import Decoder, map_event
from runbridge.backends.orchagent.secrets import resolve
from runbridge.core import ConfigError, EventKind, InputError
from runbridge.core.config import load_settings
from runbridge.core.threads import SecretRefs


def _events(*docs: Any) -> list[Any]:
    decoder = Decoder()
    data = "\n".join(d if isinstance(d, str) else json.dumps(d) for d in docs)
    return [map_event("run_1", raw, i + 1) for i, raw in enumerate(decoder.decode(data))]


def test_unknown_types_are_informational_and_lines_that_are_not_objects_are_skipped() -> None:
    events = _events({"type": "agent.thinking", "message": "hmm"}, "not json", "[1, 2]", {"message": "no type"})
    assert [(e.kind, e.raw_type, e.text) for e in events] == [
        (EventKind.LOG, "agent.thinking", "hmm"),
        (EventKind.LOG, "unknown", "no type"),
    ]
    assert [e.seq for e in events] == ["1", "2"]


def test_the_end_events_carry_the_output_or_the_error() -> None:
    done, failed = _events(
        {"type": "run.completed", "message": "Done", "details": {"output": "Booked."}},
        {"type": "error", "message": "LLM key missing", "details": {"code": "missing_key"}},
    )
    assert (done.kind, done.data["outputs"]) == (EventKind.RUN_COMPLETED, "Booked.")
    assert failed.kind is EventKind.RUN_FAILED
    assert failed.data["error"] == {"message": "LLM key missing", "code": "missing_key"}
    assert failed.text == "run failed: LLM key missing"


def test_gate_ids_count_each_type_from_the_start_of_the_stream() -> None:
    events = _events(
        {"type": "auth.required", "message": "Sign in", "details": {"redirect_url": "https://idp.example/a"}},
        {"type": "run.resumed"},
        {"type": "auth.required", "message": "Sign in again", "redirect_url": "https://idp.example/b"},
        {"type": "approval.required", "details": {"tool": "send_mail", "args": {"to": "x", "body": "y"}}},
    )
    gates = [e.gate for e in events if e.gate is not None]
    assert [g.gate_id for g in gates] == ["run_1:auth.required:1", "run_1:auth.required:2", "run_1:approval.required:1"]
    assert [g.redirect_url for g in gates[:2]] == ["https://idp.example/a", "https://idp.example/b"]
    approval = gates[2]
    assert approval.prompt == "Allow the tool send_mail (mcp) to run?"
    assert approval.resume == {
        "type": "tool_approval",
        "server": "mcp",
        "tool": "send_mail",
        "args_keys": ["body", "to"],
    }


def test_only_web_addresses_become_sign_in_links() -> None:
    (event,) = _events({"type": "auth.required", "details": {"redirect_url": "javascript:alert(1)"}})
    assert event.gate is not None
    assert event.gate.redirect_url is None


def test_secret_references_build_a_nested_object_and_refuse_clashes_and_pasted_values(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("from-a-file-1234\n", encoding="utf-8")
    key.chmod(0o600)
    refs = SecretRefs(from_env={"providers.openai.api_key": "OPENAI"}, from_file={"TAVILY_API_KEY": str(key)})
    assert resolve(refs, {"OPENAI": "from-env-1234"}) == {
        "providers": {"openai": {"api_key": "from-env-1234"}},
        "TAVILY_API_KEY": "from-a-file-1234",
    }
    with pytest.raises(ValidationError, match="clash"):
        SecretRefs(from_env={"providers.openai": "A", "providers.openai.api_key": "B"})
    with pytest.raises(ValidationError) as pasted:
        SecretRefs(from_env={"providers.openai.api_key": "sk-live-abc def"})
    messages = [e["msg"] for e in pasted.value.errors(include_input=False)]  # what the tools show
    assert "sk-live" not in str(messages)
    assert "never the secret itself" in str(messages)
    key.chmod(0o644)
    with pytest.raises(InputError, match="readable by others"):
        resolve(refs, {"OPENAI": "x" * 8})
    with pytest.raises(InputError) as unnamed:
        resolve(SecretRefs(from_env={"k": "sk_live_abcdef"}), {})
    assert "sk_live_abcdef" not in str(unnamed.value)


def test_any_orchagent_variable_defines_a_profile_with_the_sdk_defaults(tmp_path: Path) -> None:
    env = {"ORCHAGENT_TOKEN_FILE": str(tmp_path / "t.json")}
    profile = load_settings(env=env).profiles
    oa = profile["orchagent"]
    assert oa.base_url == "http://localhost:8080"
    assert oa.token_file == tmp_path / "t.json"
    assert (oa.read_timeout, oa.connect_timeout, oa.stream_read_timeout) == (30.0, 30.0, None)
    timed = load_settings(env={"ORCHAGENT_BASE_URL": "http://oa.lan:9000/", "ORCHAGENT_TIMEOUT": "5"}).profiles
    assert timed["orchagent"].base_url == "http://oa.lan:9000"
    assert timed["orchagent"].read_timeout == 5.0
    assert timed["orchagent"].token_file == Path("~/.orchagent/token.json").expanduser()
    assert "orchagent" not in load_settings(env={}).profiles
    with pytest.raises(ConfigError, match="ORCHAGENT_"):
        load_settings(env={"ORCHAGENT_TIMEOUT": "soon"})
