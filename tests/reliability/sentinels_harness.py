"""What the secret sentinel tests share: the client that records everything it is shown (results, notifications,
questions, resources) and answers every question yes, and `runbridge serve --http` in a subprocess with debug logs
and a bearer token, whose stderr is kept."""

from __future__ import annotations

import signal
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitResult
from surface_harness import RUNBRIDGE, wait_for_port

BEARER = "SENTINEL-bearer-token-5d9a0c6b"
STATE_KEY = "SENTINEL-state-key-0123456789abcdef0123456789"


class Seen:
    """Everything the client was shown: results, notifications (progress, logs), questions, resources."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *items: Any) -> None:
        for item in items:
            self.texts.append(item.model_dump_json() if hasattr(item, "model_dump_json") else repr(item))

    async def human(self, _ctx: Any, params: Any) -> ElicitResult:
        """Yes to everything: the first approving option of each choice, `done` for a confirmation, a text for a
        required text field."""
        self.add(params)
        if getattr(params, "mode", "form") == "url":
            return ElicitResult(action="accept")
        answer: dict[str, Any] = {}
        for name, prop in params.requested_schema.get("properties", {}).items():
            options = [o["const"] for o in prop.get("oneOf", [])] or prop.get("enum") or []
            if options:
                answer[name] = next((o for o in options if o in ("approve", "accept")), options[0])
            elif prop.get("type") == "boolean":
                answer[name] = True
            elif name in params.requested_schema.get("required", []):
                answer[name] = "sunny, 21 C"  # a client tool's result
        return ElicitResult(action="accept", content=answer)

    async def message(self, message: Any) -> None:
        self.add(message)

    async def progress(self, progress: float, total: float | None, text: str | None) -> None:
        self.add(text)

    async def call(self, client: Client, name: str, args: dict[str, Any]) -> Any:
        result = await client.call_tool(name, args, progress_callback=self.progress)
        self.add(result)
        return result


@asynccontextmanager
async def sentinel_client(url: str, mode: str, seen: Seen) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}, timeout=30) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            elicitation_callback=seen.human,
            message_handler=seen.message,
            logging_callback=seen.message,
            log_level="debug",
        ) as client,
    ):
        yield client


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


def files(root: Path, skip: set[Path]) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p not in skip]


@asynccontextmanager
async def serving(env: dict[str, str], port: int, chunks: list[bytes]) -> AsyncGenerator[None]:
    """`runbridge serve --http` with debug logs and a bearer token, its stderr read into `chunks` as it comes (a
    full pipe would stall the server); stopped with SIGTERM."""
    command = [*RUNBRIDGE, "--log-level", "DEBUG", "serve", "--http", "--port", str(port)]

    async def read_stderr(stream: Any) -> None:
        async for chunk in stream:
            chunks.append(chunk)

    async with (
        await anyio.open_process([*command, "--token-env", "RB_SECRET_BEARER"], env=env) as process,
        anyio.create_task_group() as readers,
    ):
        assert process.stderr is not None
        readers.start_soon(read_stderr, process.stderr)
        try:
            await wait_for_port(port)
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()
