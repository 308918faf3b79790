"""Cold start: from spawning `runbridge serve` (stdio) to the answer of its first `tools/list`, next to a minimal
`MCPServer` hello-world spawned and asked the same way, alternating so that both see the same machine.

The client side is raw JSON-RPC lines over pipes (no SDK client in the way): `initialize`, `notifications/
initialized`, `tools/list`; the clock stops when the `tools/list` answer arrives.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._support import PYTHON, RUNBRIDGE, Figure, Outcome, median, percentile

TARGET_RATIO = 1.5
HELLO = Path(__file__).with_name("_hello_server.py")

_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "runbridge-bench", "version": "0"},
    },
}
_INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def _send(process: subprocess.Popen[bytes], message: dict[str, object]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def first_answer(command: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from spawn to the `tools/list` answer."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    try:
        assert process.stdout is not None
        _send(process, _INITIALIZE)
        if b'"result"' not in process.stdout.readline():
            raise RuntimeError(f"{command}: initialize failed")
        _send(process, _INITIALIZED)
        _send(process, _TOOLS)
        answer = process.stdout.readline()
        elapsed = time.perf_counter() - start
        if b'"tools"' not in answer:
            raise RuntimeError(f"{command}: tools/list failed: {answer[:200]!r}")
        return elapsed
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _config(directory: Path) -> Path:
    """A profile that is never reached (cold start touches no backend): runbridge's usual surface."""
    path = directory / "runbridge.toml"
    path.write_text(
        '[server]\nstate_path = ":memory:"\n\n[profiles.bench]\nfamily = "openwop"\n'
        'base_url = "http://127.0.0.1:9"\napi_key_env = "RUNBRIDGE_BENCH_UNUSED_KEY"\nworkflows = ["bench-stream"]\n',
        encoding="utf-8",
    )
    return path


def measure(repeat: int = 10) -> Outcome:
    outcome = Outcome("coldstart", f"python -m bench --only coldstart --repeat {repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp))
        runbridge = [*RUNBRIDGE, "serve", "--config", str(config)]
        hello = [PYTHON, str(HELLO)]
        first_answer(hello)  # warm the OS page cache for both
        first_answer(runbridge)
        times: dict[str, list[float]] = {"runbridge": [], "hello": []}
        for _ in range(repeat):
            times["hello"].append(first_answer(hello))
            times["runbridge"].append(first_answer(runbridge))
    ours, theirs = median(times["runbridge"]), median(times["hello"])
    ratio = ours / theirs
    outcome.details = {name: sorted(values) for name, values in times.items()}
    outcome.figures.append(
        Figure(
            "coldstart",
            "`runbridge serve` first tools/list over stdio, vs a hello-world MCPServer",
            ratio,
            "x",
            target=f"≤ {TARGET_RATIO:g}x",
            met=ratio <= TARGET_RATIO,
            ratio=f"{ratio:.2f}x the hello-world",
            absolute=f"median {ours * 1000:.0f} ms vs {theirs * 1000:.0f} ms (p90 "
            f"{percentile(times['runbridge'], 90) * 1000:.0f} vs {percentile(times['hello'], 90) * 1000:.0f} ms; "
            f"{repeat} alternating spawns each)",
        )
    )
    return outcome


if __name__ == "__main__":  # pragma: no cover
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    print(result.details)
    for figure in result.figures:
        print(f"{figure.name}: {figure.value:.2f}{figure.unit}  ({figure.absolute})")
