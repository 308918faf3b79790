"""Synapse 1.9.2 (PyPI `synapse-orch-ai`) for the real tier: started on a free loopback port from its installed
`backend` folder, an API key made for the public `/api/v1` API, and the orchestrations the tests run saved through
the server's internal (loopback-only) API. Only step types that need no model are used: `human`, `print`,
`transform` (run on the host), `end`.

`SynapseHost.run(run_id)` reads a run through the internal API (`/api/orchestrations/runs/{id}`): what the server
itself says about a run, for tests to assert on (runbridge never uses that API)."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import real_backends
from real_backends import HostProcess, Unavailable
from tests.mcp_people import Progress

SETTINGS = {
    "browser_automation_enabled": False,
    "coding_agent_enabled": False,
    "report_agent_enabled": False,
    "messaging_enabled": False,
    "transform_runtime": "host",
    "vault_enabled": False,
}


def _step(step_id: str, name: str, kind: str, next_step: str | None, **config: Any) -> dict[str, Any]:
    return {"id": step_id, "name": name, "type": kind, "next_step_id": next_step, **config}


def _orchestration(orch_id: str, name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": orch_id,
        "name": name,
        "description": f"{name} (runbridge real tier)",
        "steps": steps,
        "entry_step_id": steps[0]["id"],
    }


REVIEW_FIELDS = [
    {"name": "decision", "type": "select", "label": "Decision", "options": "approve,reject"},
    {"name": "notes", "type": "text", "label": "Editor notes"},
    {"name": "budget", "type": "number", "label": "Budget (EUR)"},
]

# The orchestrations the tests run, by id. Step names differ from their ids on purpose: a step shown by its id is a
# defect the tests catch.
ORCHESTRATIONS: dict[str, dict[str, Any]] = {
    "rt-one-gate": _orchestration(
        "rt-one-gate",
        "One review",
        [
            _step(
                "s-draft",
                "Write the draft",
                "print",
                "s-review",
                print_content="Draft for {state.user_input}",
                output_key="draft",
            ),
            _step(
                "s-review",
                "Editor review",
                "human",
                "s-publish",
                human_prompt="Publish this draft?",
                human_fields=REVIEW_FIELDS,
                input_keys=["draft"],
                output_key="review",
            ),
            _step(
                "s-publish",
                "Publish it",
                "print",
                "s-end",
                print_content="Published: {state.review}",
                output_key="published",
            ),
            _step("s-end", "Finish", "end", None),
        ],
    ),
    "rt-two-gates": _orchestration(
        "rt-two-gates",
        "Two reviews",
        [
            _step(
                "s-first",
                "First review",
                "human",
                "s-second",
                human_prompt="Your name?",
                human_fields=[{"name": "who", "type": "text", "label": "Name"}],
                output_key="first",
            ),
            _step(
                "s-second",
                "Second review",
                "human",
                "s-done",
                human_prompt="How many copies?",
                human_fields=[
                    {"name": "copies", "type": "number", "label": "Copies"},
                    {"name": "format", "type": "select", "label": "Format", "options": "pdf,html"},
                ],
                output_key="second",
            ),
            _step(
                "s-done",
                "Wrap up",
                "print",
                "s-end",
                print_content="{state.first} / {state.second}",
                output_key="summary",
            ),
            _step("s-end", "Finish", "end", None),
        ],
    ),
    "rt-plain": _orchestration(
        "rt-plain",
        "Plain",
        [
            _step(
                "s-hello",
                "Say hello",
                "print",
                "s-sum",
                print_content="Hello {state.user_input}",
                output_key="greeting",
            ),
            _step("s-sum", "Add up", "transform", "s-end", transform_code="result = 2 + 3", output_key="total"),
            _step("s-end", "Finish", "end", None),
        ],
    ),
    "rt-slow": _orchestration(
        "rt-slow",
        "Slow",
        [
            _step(
                "s-wait",
                "Take a while",
                "transform",
                "s-end",
                transform_code="import time\ntime.sleep(6)\nresult = 1",
                output_key="waited",
            ),
            _step("s-end", "Finish", "end", None),
        ],
    ),
    "rt-raising": _orchestration(
        "rt-raising",
        "Raising",
        [
            _step("s-hello", "Say hello", "print", "s-boom", print_content="Hello", output_key="greeting"),
            _step(
                "s-boom", "Divide by zero", "transform", "s-end", transform_code="result = 1 / 0", output_key="ratio"
            ),
            _step("s-end", "Finish", "end", None),
        ],
    ),
}


def edited(orch_id: str, steps: int) -> dict[str, Any]:
    """An orchestration of `steps` print steps (saved again with another count, it is "an orchestration edited")."""
    ids = [f"s-{i}" for i in range(1, steps + 1)]
    chain = [
        _step(step, f"Print {i}", "print", ids[i] if i < steps else "s-end", print_content=f"line {i}", output_key=step)
        for i, step in enumerate(ids, start=1)
    ]
    return _orchestration(orch_id, "Edited", [*chain, _step("s-end", "Finish", "end", None)])


def profile(host: SynapseHost, *versions: str) -> dict[str, Any]:
    """A runbridge profile on `host` (v1 unless other API versions are named)."""
    return {
        "family": "orchestrations",
        "base_url": host.base_url,
        "options": {"api_versions": list(versions or ["v1"])},
    }


REVIEW = {"decision": "approve", "notes": "Ship it", "budget": 12}  # the answer to rt-one-gate's review


def assert_readable(progress: Progress, *, ids: tuple[str, ...]) -> None:
    """Progress never passes its total, and reads as words: no raw event type, no step id."""
    assert progress.updates, "no progress was reported"
    for value, total, message in progress.updates:
        assert total is None or value <= total, (value, total, message)
        text = message or ""
        assert "_" not in text.replace("user_input", ""), text  # transform_result, human_input_required, ...
        assert not any(step in text for step in ids), text


def backend_dir(python: Path) -> Path:
    found = list((python.parent.parent / "lib").glob("python3*/site-packages/backend/core/server.py"))
    if not found:
        raise Unavailable(f"synapse-orch-ai is installed without its backend folder ({python})")
    return found[0].parent.parent


class SynapseHost:
    """One Synapse server (a `HostProcess`), its API key, and the helpers tests use to ask it about runs."""

    def __init__(self, workdir: Path) -> None:
        python = real_backends.synapse_python()
        backend = backend_dir(python)
        data = workdir / "synapse-data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "settings.json").write_text(json.dumps(SETTINGS), encoding="utf-8")
        port = real_backends.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNAPSE_", "OTEL_"))}
        env.update(
            SYNAPSE_DATA_DIR=str(data),
            PYTHONPATH=str(backend),
            ANONYMIZED_TELEMETRY="False",
            PYTHONUNBUFFERED="1",
        )
        command = [str(python), "-m", "uvicorn", "core.server:app", "--host", "127.0.0.1", "--port", str(port)]
        self.process = HostProcess(
            "synapse", command, cwd=backend, env=env, port=port, ready_path="/api/orchestrations", ready_within=180
        )
        self.api_key = ""

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def start(self) -> SynapseHost:
        self.process.start()
        try:
            self.api_key = str(self.internal("POST", "/api/settings/api-keys", {"name": "tests"})["key"])
            for orchestration in ORCHESTRATIONS.values():
                self.internal("POST", "/api/orchestrations", orchestration)
        except (OSError, KeyError, ValueError) as exc:
            self.process.stop()
            raise Unavailable(f"synapse started but could not be set up: {exc}: {self.process.tail()}") from exc
        return self

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.process.restart()

    def internal(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the server's internal API (no token from loopback)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (a loopback http URL)
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def run(self, run_id: str) -> dict[str, Any]:
        """The run as the server records it (`status`, `shared_state`, `waiting_for_human`, ...)."""
        return self.internal("GET", f"/api/orchestrations/runs/{run_id}")

    def runs(self) -> list[dict[str, Any]]:
        """Every run the server has a record of."""
        found = self.internal("GET", "/api/orchestrations/runs")
        return found if isinstance(found, list) else list(found.get("runs", []))

    def requests_to(self, prefix: str) -> int:
        """How many requests for paths under `prefix` the server's own access log shows."""
        return sum(1 for line in self.process.log.read_text(errors="replace").splitlines() if f" {prefix}" in line)

    def public(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A call to the public `/api/v1` API with the key; (status, JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"}
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


if __name__ == "__main__":  # a server to poke at by hand: python tests/real/real_synapse.py <workdir>
    host = SynapseHost(Path(sys.argv[1])).start()
    print(host.base_url, host.api_key, flush=True)
    try:
        sys.stdin.read()
    finally:
        host.stop()
