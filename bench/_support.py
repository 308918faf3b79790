"""What every benchmark shares: the machine, the sandbox in its own process, runbridge's config, process meters,
percentiles, and the figure record the report is written from."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEY_ENV = "RUNBRIDGE_BENCH_SANDBOX_KEY"
PYTHON = sys.executable
RUNBRIDGE = [PYTHON, "-m", "runbridge"]


@dataclass
class Figure:
    """One line of the results table: a measured value (ratio or absolute) against its target."""

    benchmark: str
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    absolute: str = ""
    note: str = ""
    ratio: str = ""  # the figure against its reference measured in the same run


@dataclass
class Outcome:
    """What one benchmark produced: its figures, the command that reproduces it, and the raw numbers."""

    name: str
    command: str
    figures: list[Figure] = field(default_factory=list[Figure])
    accounted: bool = True  # every event (or terminal event) reached the client
    details: dict[str, Any] = field(default_factory=dict[str, Any])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load": load,
    }


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


# -- processes -----------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def serving_child() -> int:
    """The pid of this process's `runbridge serve` child (Linux /proc)."""
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text(encoding="utf-8").split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in command:
                return int(pid)
    raise RuntimeError("no runbridge serve child process found")


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process in MB (Linux /proc)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


class Sandbox:
    """`runbridge sandbox` in its own process (so its work is not charged to runbridge): base URL and key."""

    def __init__(self, process: subprocess.Popen[str], base_url: str, api_key: str) -> None:
        self.process = process
        self.base_url = base_url
        self.api_key = api_key

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set these environment variables while the block runs, then put back what was there (a benchmark run in a
    test's process must leave its environment as it found it)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def sandbox_process(family: str = "openwop") -> Iterator[Sandbox]:
    process = subprocess.Popen(
        [*RUNBRIDGE, "sandbox", "--family", family, "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = api_key = ""
        deadline = time.monotonic() + 30
        while not (base_url and api_key) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if " at " in line and not base_url:
                base_url = line.rsplit(" at ", 1)[1].strip()
            elif line.startswith("API key:"):
                api_key = line.split(":", 1)[1].strip()
        if not (base_url and api_key):
            raise RuntimeError("the sandbox did not start")
        yield Sandbox(process, base_url, api_key)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def write_config(path: Path, sandbox: Sandbox, *, workflows: Sequence[str], server: dict[str, Any]) -> Path:
    """A runbridge.toml with one `bench` profile on the sandbox (its key named, never written); the run registry
    is a file beside it unless `server` says otherwise, as in a real installation."""
    server = {"state_path": str(path.with_name(f"{path.stem}-state.db")), **server}
    lines = ["[server]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in server.items()]
    lines += [
        "",
        "[profiles.bench]",
        'family = "openwop"',
        f"base_url = {json.dumps(sandbox.base_url)}",
        f"api_key_env = {json.dumps(KEY_ENV)}",
        f"workflows = {json.dumps(list(workflows))}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def child_env(sandbox: Sandbox, config: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RUNBRIDGE_CONFIG": str(config), KEY_ENV: sandbox.api_key})
    return env


def burst_inputs(count: int, rate: float | None = None) -> dict[str, Any]:
    """`runs_start` inputs for the sandbox's `bench-stream` workflow: `count` stamped events, `rate` per second."""
    emit: dict[str, Any] = {"count": count}
    if rate:
        emit["rate"] = rate
    return {"_sandbox": {"emit": emit}}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"
