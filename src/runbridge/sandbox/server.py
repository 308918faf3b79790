"""Running sandbox apps with uvicorn: in a background thread for tests and embedding, or in the foreground for the CLI.

One `SandboxServer` owns one engine and one event loop (in a daemon thread) and serves one listening socket per wire
family, all on that loop, so every family sees the same runs. Ports are bound before the thread starts (port 0 →
an ephemeral port), so `base_url` is valid as soon as `start()` returns. Shutdown sets the shared `closing` event
first, so open event streams end at once and never hold it up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import FrameType
from typing import Any, Self, TypeVar

import anyio
import uvicorn
from anyio.from_thread import BlockingPortal
from starlette.types import ASGIApp

from .context import DEFAULT_API_KEY, SandboxContext
from .engine import Engine
from .families import build_family
from .faults import FaultPlan
from .middleware import PathPrefix
from .model import Workflow
from .orq import SEED_AGENTS
from .stats import Stats

__all__ = ["SandboxServer", "run_sandbox"]

T = TypeVar("T")

_NOISE = "ASGI callable returned without completing response."
SANDBOX_KEY_ENV = "SANDBOX_API_KEY"  # the variable the printed profile reads the sandbox's key from


class _QuietDrops(logging.Filter):
    """Dropping a stream on purpose makes uvicorn log an error; it is the point here, so keep it out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _NOISE


_filter_lock = threading.Lock()


def _install_log_filter() -> None:
    with _filter_lock:
        logger = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietDrops) for f in logger.filters):
            logger.addFilter(_QuietDrops())


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that tells the sandbox when shutdown starts (also on Ctrl-C), before waiting on streams."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only disables Nagle on accepted sockets whose proto says TCP, and with
    # Nagle on, every response on a kept-alive connection waits ~40 ms for a delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class SandboxServer:
    """Real HTTP sandbox servers on loopback over one scripted engine.

    Use it as a context manager, sync (`with SandboxServer() as sb:`) or async (`async with ...`). `family` is one
    wire family or several (one port each, same engine); `variant` is the family's host variant (OpenWOP: a name
    from `openwop.VARIANTS`, a `HostVariant` or a dict), `variants` sets one per family. `speed` scales step delays
    (0, the default, skips them). `root_path` serves every family under a path prefix (e.g. `/openwop`), as behind
    a gateway; `base_url` then includes it. The engine lives on the server's loop: call its methods through `call()`.
    """

    def __init__(
        self,
        family: str | Sequence[str] = "openwop",
        *,
        variant: Any = None,
        variants: Mapping[str, Any] | None = None,
        api_key: str = DEFAULT_API_KEY,
        speed: float = 0.0,
        workflows: Mapping[str, Workflow] | Iterable[Workflow] | None = None,
        keepalive_seconds: float | None = None,
        token_secret: bytes | None = None,
        token_ttl_seconds: float = 1800.0,
        host: str = "127.0.0.1",
        port: int = 0,
        root_path: str = "",
    ) -> None:
        self.families = [family] if isinstance(family, str) else list(family)
        if not self.families or len(set(self.families)) != len(self.families):
            raise ValueError("a sandbox server needs one or more distinct families")
        self._stats = Stats()
        self.faults = FaultPlan()
        self.engine = Engine(workflows, speed=speed, stats=self._stats)
        self.context = SandboxContext(
            engine=self.engine,
            faults=self.faults,
            stats=self._stats,
            api_key=api_key,
            keepalive_seconds=keepalive_seconds,
            token_secret=token_secret if token_secret is not None else secrets.token_bytes(32),
            token_ttl_seconds=token_ttl_seconds,
        )
        self._variants = {f: (variants or {}).get(f, variant) for f in self.families}
        self._host, self._port = host, port
        self._root_path = "/" + root_path.strip("/") if root_path.strip("/") else ""
        self.base_urls: dict[str, str] = {}
        self.apps: dict[str, ASGIApp] = {}
        self._servers: list[_Uvicorn] = []
        self._thread: threading.Thread | None = None
        self._portal: BlockingPortal | None = None
        self._error: BaseException | None = None

    # -- what tests use ----------------------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self.context.api_key

    @property
    def base_url(self) -> str:
        """The first family's base URL, e.g. `http://127.0.0.1:54321` (plus the `root_path`, if any)."""
        return self.base_urls[self.families[0]]

    @property
    def headers(self) -> dict[str, str]:
        """The authorization header the sandbox accepts."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def stats(self) -> dict[str, Any]:
        """Counters: runs_created, forks, resolves, cancels, stream_connections, stream_drops, requests, statuses."""
        return self._stats.snapshot()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` (sync or async) on the server's loop, e.g. `sb.call(sb.engine.answer_gate, ...)`."""
        if self._portal is None:
            raise RuntimeError("the sandbox server is not running")
        return self._portal.call(fn, *args)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def _prepare(self) -> list[socket.socket]:
        _install_log_filter()
        sockets: list[socket.socket] = []
        try:
            for i, family in enumerate(self.families):
                app = build_family(family, self.context, self._variants[family])
                served: ASGIApp = PathPrefix(app, self._root_path) if self._root_path else app
                sock = _bind(self._host, self._port if i == 0 else 0)  # later families take ephemeral ports
                sockets.append(sock)
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                self.base_urls[family] = f"http://{shown}:{port}{self._root_path}"
                self.apps[family] = app
                config = uvicorn.Config(
                    served,
                    log_level="warning",
                    access_log=False,
                    log_config=None,
                    lifespan="off",
                    ws="none",
                    http="h11",
                    timeout_graceful_shutdown=1,
                )
                self._servers.append(_Uvicorn(config, self._begin_shutdown))
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        return sockets

    def start(self) -> Self:
        """Bind, start the loop thread, return once it serves."""
        if self._thread is not None:
            raise RuntimeError("the sandbox server was already started")
        sockets = self._prepare()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=anyio.run, args=(self._main, sockets, ready), name="runbridge-sandbox", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the sandbox server did not start: {self._error!r}")
        return self

    async def _main(self, sockets: list[socket.socket], ready: threading.Event) -> None:
        try:
            async with BlockingPortal() as portal, self.engine:
                self._portal = portal
                async with anyio.create_task_group() as tg:
                    for server, sock in zip(self._servers, sockets, strict=True):
                        tg.start_soon(server.serve, [sock])
                    ready.set()
        except BaseException as exc:  # reported by start()/stop(); a thread has nobody else to tell
            self._error = exc
        finally:
            self._portal = None
            for sock in sockets:
                sock.close()
            ready.set()

    def _begin_shutdown(self) -> None:
        self.context.closing.set()
        for server in self._servers:
            server.should_exit = True

    def stop(self) -> None:
        """Stop serving (open streams end at once) and join the thread."""
        self.stop_all([self])

    @staticmethod
    def stop_all(servers: Iterable[SandboxServer]) -> None:
        """Stop several servers at once: each is told to shut down before any is waited for (a server takes a few
        tenths of a second to wind down, which a pool of them would otherwise spend one after another)."""
        stopping: list[threading.Thread] = []
        for server in servers:
            thread, portal = server._thread, server._portal
            if thread is None:
                continue
            if portal is not None and thread.is_alive():
                with contextlib.suppress(RuntimeError):  # the loop is already finishing
                    portal.call(server._begin_shutdown)
            stopping.append(thread)
        for thread in stopping:
            thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def _listed(self, family: str) -> list[str]:
        """The ids of the workflows `family`'s catalogue shows (a family that runs its own graphs says which, as
        its app's `state.catalogue`)."""
        own = getattr(getattr(self.apps.get(family), "state", None), "catalogue", None)
        if isinstance(own, list):
            return [str(name) for name in own]
        return [w.id for w in self.engine.workflows.values() if w.listed(family)]

    def _how_to_connect(self) -> list[str]:
        """Each family's example workflows, and a profile for runbridge.toml that reaches them (by the key's
        variable, never the key)."""
        several = len(self.base_urls) > 1
        lines: list[str] = []
        for family in self.base_urls:
            what, shown = "workflows", ", ".join(self._listed(family))
            if family == "orq":  # orq.ai runs agents, not the engine's workflows
                what, shown = "agents", ", ".join(a["key"] for a in SEED_AGENTS)
            lines.append(f"{family} {what}: {shown}" if several else f"{what}: {shown}")
        lines += ["", f"For runbridge.toml (and `export {SANDBOX_KEY_ENV}={self.api_key}` where runbridge runs):"]
        for family, url in self.base_urls.items():
            lines += [
                "",
                f"[profiles.sandbox{'-' + family if several else ''}]",
                f'family = "{family}"',
                f'base_url = "{url}"',
                f'api_key_env = "{SANDBOX_KEY_ENV}"',
            ]
            if family == "openwop":  # OpenWOP has no workflow list: a profile names the workflows it offers
                lines.append(f"workflows = {json.dumps(self._listed(family))}")
            if family == "orchestrations" and self._variants.get(family) == "scale":
                lines.append('options = { api_versions = ["v1", "v2"] }')
        lines.append("")
        return lines

    def serve_forever(self, print_fn: Callable[[str], object] = print, *, stop: threading.Event | None = None) -> None:
        """Start, print where to connect, and serve until Ctrl-C, SIGTERM or `stop` is set."""
        stop = stop if stop is not None else threading.Event()
        previous: Any = None
        on_main = threading.current_thread() is threading.main_thread()

        def on_term(signum: int, frame: FrameType | None) -> None:
            stop.set()

        if on_main:
            previous = signal.signal(signal.SIGTERM, on_term)
        try:
            with self:
                for family, url in self.base_urls.items():
                    print_fn(f"runbridge sandbox: {family} at {url}")
                print_fn(f"API key: {self.api_key}")
                for line in self._how_to_connect():
                    print_fn(line)
                print_fn("Press Ctrl-C to stop.")
                with contextlib.suppress(KeyboardInterrupt):
                    stop.wait()
        finally:
            if on_main:
                signal.signal(signal.SIGTERM, previous)


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    family: str = "openwop",
    variant: Any = None,
    speed: float = 1.0,
    print_fn: Callable[[str], object] = print,
    *,
    api_key: str = DEFAULT_API_KEY,
    keepalive_seconds: float | None = None,
    stop: threading.Event | None = None,
    root_path: str = "",
) -> None:
    """Serve one sandbox family in the foreground until interrupted (the `runbridge sandbox` command).

    Prints the base URL, API key and workflow ids through `print_fn` (stdout by default); uvicorn's own logs go to
    stderr at warning level. Returns normally on Ctrl-C, SIGTERM, or when `stop` (for embedding) is set.
    `root_path` serves the API under a path prefix (the printed base URL includes it).
    """
    server = SandboxServer(
        family,
        variant=variant,
        api_key=api_key,
        speed=speed,
        host=host,
        port=port,
        keepalive_seconds=keepalive_seconds,
        root_path=root_path,
    )
    server.serve_forever(print_fn, stop=stop)
