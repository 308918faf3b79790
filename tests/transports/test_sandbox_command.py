"""`runbridge sandbox`: prints where it listens (readable through a pipe at once), serves OpenWOP discovery, and
stops promptly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import re
import signal

import anyio
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from transport_harness import RUNBRIDGE

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
