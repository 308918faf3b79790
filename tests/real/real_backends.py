"""The real backends the `real` test tier runs against: where their sources are, how each is installed (once, cached
between runs and keyed by what it installs), and how each is started on a free loopback port and stopped.

Run as a script (`python tests/real/real_backends.py install`) it installs everything ahead of the tests, so that
`.ci/run` can do it in the background while the rest of the suite runs; the fixtures wait for it through the same
file locks.

Where things are:
- `RUNBRIDGE_REAL_BACKENDS`: the folder holding `openwop/{sqlite,python,in-memory,conformance-fixtures}` (the
  OpenWOP reference hosts). Without it, the folder `real-backends` of the `shared` checkout beside the repository.
- `RUNBRIDGE_REAL_CACHE`: where installs are kept (default `~/.cache/runbridge-real`).
- `RUNBRIDGE_REAL_REQUIRED=1` (set by `.ci/run`, and implied by `CI`): a backend that cannot be installed or started
  fails its tests instead of skipping them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(os.environ.get("RUNBRIDGE_REAL_BACKENDS") or ROOT.parent / "shared" / "real-backends")
CACHE = Path(os.environ.get("RUNBRIDGE_REAL_CACHE") or Path.home() / ".cache" / "runbridge-real")
REQUIRED = os.environ.get("RUNBRIDGE_REAL_REQUIRED") == "1" or bool(os.environ.get("CI"))

SYNAPSE_VERSION = "1.9.2"
# The official client libraries that judge the sandbox: each in a virtual environment of its own, since two of
# them install the same top-level module (`openwop_client` 1.x and 2.x), and none is a runtime dependency.
CLIENT_VENVS: dict[str, list[str]] = {
    "openwop-client-1": ["openwop-client==1.1.1"],
    "openwop-client-2": ["openwop-client==2.7.0"],
    "orchagent-sdk-local": ["orchagent==0.1.3"],
    "orchagent-sdk-platform": ["orchagent-sdk==0.1.13"],  # also a module named `orchagent`: a venv of its own
    "orq-ai-sdk": ["orq-ai-sdk==4.17.13"],
}


class Unavailable(RuntimeError):
    """A real backend could not be installed or started here; the message says why, in one line."""


def openwop_source() -> Path:
    source = SOURCE / "openwop"
    if not (source / "sqlite" / "package-lock.json").is_file():
        raise Unavailable(f"the OpenWOP reference hosts are not at {SOURCE} (set RUNBRIDGE_REAL_BACKENDS)")
    return source


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One installer at a time per cache entry, across processes (the background install and the fixtures)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], *, cwd: Path | None = None, log: Path, timeout: float) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"{command[0]} failed: {exc} (log: {log})") from exc
    if done.returncode != 0:
        raise Unavailable(f"`{' '.join(command[:3])}` exited {done.returncode} (log: {log})")


def openwop_node_modules() -> Path:
    """The SQLite host's `node_modules` (tsx, better-sqlite3 compiled here), keyed by its package-lock.json."""
    lock = openwop_source() / "sqlite" / "package-lock.json"
    key = hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    target = CACHE / f"openwop-sqlite-{key}"
    with _locked(target.name):
        if (target / ".complete").is_file():
            return target / "node_modules"
        if shutil.which("npm") is None:
            raise Unavailable("npm is not installed (the OpenWOP SQLite host needs Node.js 20 and npm)")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(lock.parent / name, target / name)
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=target, log=CACHE / f"{target.name}.log", timeout=900)
        (target / ".complete").write_text("ok\n")
        return target / "node_modules"


def venv(name: str, requirements: list[str]) -> Path:
    """A virtual environment of its own holding `requirements`; returns its python."""
    key = hashlib.sha256(f"{sys.version_info[:2]}{sorted(requirements)}".encode()).hexdigest()[:12]
    target = CACHE / f"venv-{name}-{key}"
    python = target / "bin" / "python"
    with _locked(target.name):
        if (target / ".complete").is_file():
            return python
        shutil.rmtree(target, ignore_errors=True)
        log = CACHE / f"{target.name}.log"
        _run([sys.executable, "-m", "venv", str(target)], log=log, timeout=120)
        _run([str(python), "-m", "pip", "install", "--quiet", *requirements], log=log, timeout=1200)
        (target / ".complete").write_text("ok\n")
        return python


def synapse_python() -> Path:
    return venv("synapse", [f"synapse-orch-ai=={SYNAPSE_VERSION}"])


def install_all() -> int:
    """Everything the tier needs, two installs at a time (each is mostly one subprocess: a compile or downloads);
    what fails is said, and the rest is still installed."""
    jobs: list[tuple[str, Callable[[], object]]] = [
        ("openwop sqlite host", openwop_node_modules),
        ("synapse", synapse_python),
    ]
    jobs += [(name, functools.partial(venv, name, reqs)) for name, reqs in CLIENT_VENVS.items()]
    from real_langgraph import python as langgraph_python  # its own module: the server, its graphs and its pins

    jobs.append(("langgraph agent server", langgraph_python))

    def run(job: tuple[str, Callable[[], object]]) -> bool:
        label, make = job
        started = time.monotonic()
        try:
            make()
        except Unavailable as exc:
            print(f"real backends: {label}: {exc}", file=sys.stderr, flush=True)
            return False
        print(f"real backends: {label} ready ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        return True

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, jobs))
    return 0 if all(results) else 1


# -- processes --------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port for a host, below the ephemeral range and this xdist worker's own (tests/ports.py). Imported
    here: run as a script (`install`) this module has no `tests` package on its path, and needs no port."""
    from tests.ports import free_port as pick

    return pick()


class HostProcess:
    """A server started in a process group of its own, so that stopping it stops its children too (`tsx` runs the
    host in a child `node`). `restart()` stops it and starts it again on the same port with the same data."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        port: int,
        ready_path: str,
        ready_within: float = 60,
    ) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.env = dict(env)
        self.port = port
        self.ready_path = ready_path
        self.ready_within = ready_within
        self.log = Path(tempfile.mkstemp(prefix=f"runbridge-real-{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_within
        url = self.base_url + self.ready_path
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise Unavailable(f"{self.name} exited with {self.process.returncode} while starting: {self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback http URL built above)
                    return
            except urllib.error.HTTPError:
                return  # it answers: ready (the path may need a key)
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)  # polls a starting server, bounded by the deadline
        self.stop()
        raise Unavailable(
            f"{self.name} did not answer {self.ready_path} within {self.ready_within:.0f} s: {self.tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            break
        # The group may outlive its leader (a child that ignored SIGTERM): make sure nothing of it is left.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> HostProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def openwop_host(kind: str, workdir: Path, api_key: str) -> HostProcess:
    """An OpenWOP reference host (`sqlite`, `python` or `in-memory`), from a copy of its source in `workdir`."""
    source = openwop_source()
    copy = workdir / "openwop"
    if not copy.exists():
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("node_modules"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENWOP_", "OTEL_")) and k != "NODE_OPTIONS"}
    env.update(
        OPENWOP_PORT=str(port),
        OPENWOP_API_KEY=api_key,
        OPENWOP_FIXTURES_DIR=str(copy / "conformance-fixtures"),
        OPENWOP_HOST="127.0.0.1",
    )
    if kind == "python":
        env["PYTHONPATH"] = "src"
        command = [sys.executable, "-m", "openwop_host"]
        return HostProcess(kind, command, cwd=copy / "python", env=env, port=port, ready_path="/.well-known/openwop")
    node_modules = openwop_node_modules()
    sqlite_dir = copy / "sqlite"
    if not (sqlite_dir / "node_modules").exists():
        (sqlite_dir / "node_modules").symlink_to(node_modules, target_is_directory=True)
    tsx = str(sqlite_dir / "node_modules" / ".bin" / "tsx")
    if kind == "sqlite":
        env["OPENWOP_SQLITE_PATH"] = str(workdir / "host.sqlite")
        cwd = sqlite_dir
    else:
        cwd = copy / kind
    return HostProcess(
        f"openwop-{kind}", [tsx, "src/server.ts"], cwd=cwd, env=env, port=port, ready_path="/.well-known/openwop"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python tests/real/real_backends.py install")
    sys.exit(install_all())
