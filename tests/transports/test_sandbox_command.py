"""`runbridge sandbox`: prints where it listens (readable through a pipe at once), serves OpenWOP discovery, and
stops promptly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from transport_harness import RUNBRIDGE

from runbridge.cli.doctor import run_doctor
from runbridge.core.config import load_settings
from runbridge.sandbox import run_sandbox
from runbridge.sandbox.context import DEFAULT_API_KEY
from runbridge.sandbox.server import SANDBOX_KEY_ENV

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_the_sandbox_command_prints_its_url_serves_discovery_and_stops_on_a_signal(
    stop: signal.Signals, child_env: dict[str, str]
) -> None:
    with anyio.fail_after(20):
        async with await anyio.open_process([*RUNBRIDGE, "sandbox", "--port", "0"], env=child_env) as process:
            assert process.stdout is not None
            first = (await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 10_000)).decode()
            found = re.fullmatch(r"runbridge sandbox: openwop at (http://127\.0\.0\.1:\d+)", first)
            assert found, first
            async with httpx2.AsyncClient() as http:
                discovery = await http.get(f"{found.group(1)}/.well-known/openwop")
            process.send_signal(stop)
            with anyio.fail_after(2):
                code = await process.wait()
    assert discovery.status_code == 200
    assert isinstance(discovery.json(), dict)
    assert code in (0, 130)


async def test_the_sandbox_command_serves_under_a_root_path_and_prints_the_prefixed_address(
    child_env: dict[str, str],
) -> None:
    command = [*RUNBRIDGE, "sandbox", "--port", "0", "--root-path", "gw/openwop/"]
    with anyio.fail_after(20):
        async with await anyio.open_process(command, env=child_env) as process:
            assert process.stdout is not None
            lines = BufferedByteReceiveStream(process.stdout)
            first = (await lines.receive_until(b"\n", 10_000)).decode()
            key = (await lines.receive_until(b"\n", 10_000)).decode().removeprefix("API key: ")
            found = re.fullmatch(r"runbridge sandbox: openwop at (http://127\.0\.0\.1:\d+)(/gw/openwop)", first)
            assert found, first
            origin, base = found.group(1), found.group(1) + found.group(2)
            async with httpx2.AsyncClient() as http:
                inside = await http.get(f"{base}/.well-known/openwop")
                workflow = await http.get(
                    f"{base}/v1/workflows/approval-demo", headers={"Authorization": f"Bearer {key}"}
                )
                outside = await http.get(f"{origin}/.well-known/openwop")
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(2):
                await process.wait()
    assert inside.status_code == 200
    assert inside.json()
    assert workflow.status_code == 200
    assert workflow.json()["workflowId"] == "approval-demo"
    assert outside.status_code == 404, "nothing is served outside the prefix"


def test_the_sandbox_help_documents_the_root_path(child_env: dict[str, str]) -> None:
    import subprocess

    shown = subprocess.run(
        [*RUNBRIDGE, "sandbox", "--help"], env=child_env, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "--root-path PATH" in shown
    assert "path prefix" in shown


@pytest.mark.parametrize(
    ("family", "variant"),
    [("openwop", None), ("orchestrations", None), ("orchestrations", "scale"), ("orchagent", None)],
)
def test_the_sandbox_prints_a_profile_that_doctor_accepts_as_is(
    family: str,
    variant: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    def record(line: str) -> None:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            ready.set()

    thread = threading.Thread(
        target=run_sandbox,
        kwargs={"family": family, "variant": variant, "speed": 0, "print_fn": record, "stop": stop},
        daemon=True,
    )
    thread.start()
    try:
        assert ready.wait(10), lines
        shown = next(line for line in lines if line.startswith("workflows: ")).removeprefix("workflows: ").split(", ")
        start = next(i for i, line in enumerate(lines) if line.startswith("For runbridge.toml"))
        assert f"export {SANDBOX_KEY_ENV}={DEFAULT_API_KEY}" in lines[start]
        snippet = "\n".join(lines[start + 1 : -1])
        config = tmp_path / "runbridge.toml"
        config.write_text(f'[server]\nstate_path = ":memory:"\n\n{snippet}\n', encoding="utf-8")
        monkeypatch.setenv(SANDBOX_KEY_ENV, DEFAULT_API_KEY)
        settings = load_settings(config)
        status = run_doctor(settings)
    finally:
        stop.set()
        thread.join(10)
    profile = settings.profiles["sandbox"]
    assert (profile.family, profile.base_url) == (family, lines[0].rsplit(" at ", 1)[1])
    out = capsys.readouterr().out
    assert status == 0, out
    if family == "orchestrations":
        assert ": 4 target(s)" in out, "doctor counts this family's orchestrations, not every family's examples"
    expected = {"openwop": "approval-demo", "orchestrations": "orch-research-report", "orchagent": "chat"}[family]
    assert expected in shown
    assert all(other not in shown for other in {"approval-demo", "orch-research-report", "chat"} - {expected})
    assert "bench-stream" not in shown
    assert profile.workflows == (shown if family == "openwop" else [])
    assert profile.options.model_dump(exclude_defaults=True) == (
        {"api_versions": ["v1", "v2"]} if variant == "scale" else {}
    )
