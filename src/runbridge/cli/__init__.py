"""The `runbridge` command: serve, demo, sandbox, doctor, tools, install, login, logout.

Every failure a user can fix is printed as one clear line on stderr with exit status 2; no stack traces.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..backends.registry import SHIPPED
from ..core.config import load_settings
from ..core.errors import ConfigError, RunbridgeError
from ..core.families import registered_families
from ..core.logs import configure_logging
from .install_hosts import HOSTS

INSTALL_CLIENTS = tuple(HOSTS)

__all__ = ["main"]


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVELS_SHOWN = "DEBUG, INFO, WARNING (default), ERROR or CRITICAL"


def _log_level(value: str) -> str:
    """A level `logging` knows, in any case; anything else is a usage error naming the choices, not a traceback."""
    level = value.strip().upper()
    if level not in _LEVELS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a log level; use {_LEVELS_SHOWN}")
    return level


def _port(lowest: int) -> Callable[[str], int]:
    """A TCP port (`lowest` is 0 where "any free port" makes sense); anything else is a usage error saying so."""

    def port(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
        if not lowest <= number <= 65535:
            raise argparse.ArgumentTypeError(f"{number} is not a port: use {lowest} to 65535")
        return number

    return port


def _speed(value: str) -> float:
    """The sandbox speed factor: a finite number, 0 or more."""
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(speed) or speed < 0:
        raise argparse.ArgumentTypeError(f"{value} is not a speed: use 0 (no delays) or more (1: watchable)")
    return speed


def _host(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a host name or address")
    return value


def _parser() -> argparse.ArgumentParser:
    # The --family choices come from the registry: a family's spec says whether it has a demo, a sandbox, a sign-in.
    specs = registered_families()
    demos = [spec.name for spec in specs if spec.demo is not None and spec.sandbox]
    sandboxes = sorted({spec.sandbox for spec in specs if spec.sandbox})
    # The defaults are the first shipped family's (the registry's order), not the first name in the alphabet: a
    # family added later does not change what `runbridge demo` and `runbridge sandbox` do without --family.
    shipped = [spec.name for spec in SHIPPED]
    rank = {name: (shipped.index(name) if name in shipped else len(shipped), name) for name in demos}
    demo_default = min(demos, key=rank.__getitem__)
    by_sandbox = {spec.sandbox: spec.name for spec in reversed(specs) if spec.sandbox}
    sandbox_default = min(
        sandboxes, key=lambda s: (shipped.index(by_sandbox[s]) if by_sandbox[s] in shipped else len(shipped), s)
    )
    logins = [spec.name for spec in specs if spec.login is not None]
    parser = argparse.ArgumentParser(prog="runbridge", description="An MCP server for agent-orchestration platforms.")
    parser.add_argument("--version", action="version", version=f"runbridge {__version__}")
    parser.add_argument("--config", help="runbridge.toml to read (default: $RUNBRIDGE_CONFIG, then ./runbridge.toml)")
    parser.add_argument(
        "--log-level", default="WARNING", type=_log_level, metavar="LEVEL", help=f"stderr log level: {_LEVELS_SHOWN}"
    )
    # The same two options after the command (`runbridge serve --config x.toml`); SUPPRESS keeps the values above.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="runbridge.toml to read")
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        type=_log_level,
        metavar="LEVEL",
        help=f"stderr log level: {_LEVELS_SHOWN}",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        """A subcommand whose one-line summary is also the description its --help shows."""
        return sub.add_parser(name, parents=[common], help=text, description=text[:1].upper() + text[1:] + ".")

    serve = command("serve", "serve MCP over stdio (default) or streamable HTTP")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    serve.add_argument("--host", type=_host, default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=_port(1), default=8765, help="HTTP port (default 8765)")
    serve.add_argument("--token-env", help="env var holding the bearer token HTTP clients must send")
    serve.add_argument("--allow-origin", action="append", default=[], help="an allowed browser Origin (repeatable)")
    serve.add_argument(
        "--allow-host", action="append", default=[], help="an allowed Host header, e.g. example.lan:* (repeatable)"
    )
    serve.add_argument(
        "--max-sessions", type=int, help="HTTP sessions kept at most; the idlest make room (default 100, [server])"
    )
    serve.add_argument(
        "--session-idle-seconds",
        type=float,
        help="end an HTTP session with nothing in flight after this long (default 300, [server])",
    )

    demo = command("demo", "walk a gated run on the embedded sandbox, end to end")
    demo.add_argument("--family", choices=demos, default=demo_default, help=f"sandbox API (default {demo_default})")
    demo.add_argument(
        "--workflow", help="sandbox workflow to run (default approval-demo; orch-research-report for orchestrations)"
    )
    demo.add_argument("--non-interactive", action="store_true", help="answer gates without asking a person")
    demo.add_argument(
        "--answer",
        choices=["approve", "reject"],
        default="approve",
        help="the answer --non-interactive gives (default approve)",
    )
    demo.add_argument("--speed", type=_speed, default=1.0, help="sandbox speed (1: watchable; 0: no delays)")

    sandbox = command("sandbox", "run the sandbox backend on 127.0.0.1 (prints its address)")
    sandbox.add_argument("--port", type=_port(0), default=0, help="port (default: any free port)")
    sandbox.add_argument(
        "--family",
        choices=sandboxes,
        default=sandbox_default,
        help=f"wire protocol to speak (default {sandbox_default})",
    )
    sandbox.add_argument(
        "--variant",
        default="reference",
        help="host variant (default reference; openwop: reference, python-host, sqlite-host, in-memory-host, "
        "strict-spec, v2-host "
        "(protocol 2.0 only), dual-host (1.0 and 2.0); orchestrations: reference, scale (with the v2 API), seed; "
        "orchagent: reference, held-open, top-level, leaky)",
    )
    sandbox.add_argument(
        "--speed", type=_speed, default=1.0, help="speed factor (default 1; higher is faster, 0: no delays)"
    )
    sandbox.add_argument(
        "--root-path",
        default="",
        metavar="PATH",
        help="serve the API under this path prefix (e.g. /openwop), as a host behind a gateway does; "
        "the printed address includes it",
    )

    command("doctor", "check the configuration and reach every profile")
    tools = command("tools", "list the tools this configuration exposes")
    tools.add_argument(
        "--markdown", action="store_true", help="print every tool runbridge has as a Markdown table (the README's)"
    )

    install = command("install", "write an MCP host's configuration for this runbridge")
    install.add_argument("--client", required=True, choices=INSTALL_CLIENTS, help="the MCP host to configure")
    install.add_argument("--print", action="store_true", help="only show what would be written")
    install.add_argument("--name", default="runbridge", help="the server's name in the host (default runbridge)")
    install.add_argument("--file", help="the host's file to write (default: the host's user configuration)")

    login = command("login", "sign in to a backend and save its token (mode 0600)")
    login.add_argument("family", choices=logins, help="the backend family")
    login.add_argument("--register", action="store_true", help="create the account first")
    login.add_argument("--email", help="the account's email (asked for when omitted)")
    login.add_argument("--profile", help="the profile whose server and token file to use (default: the first)")
    logout = command("logout", "forget a backend's saved token")
    logout.add_argument("family", choices=logins, help="the backend family")
    logout.add_argument("--profile", help="the profile whose token file to empty (default: the first)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return _run(args)
    except RunbridgeError as exc:
        print(f"runbridge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "sandbox":
        from ..sandbox import run_sandbox

        # Flushed line by line: whoever started it reads the address from a pipe while it serves.
        try:
            run_sandbox(
                port=args.port,
                family=args.family,
                variant=args.variant,
                speed=args.speed,
                print_fn=lambda line: print(line, flush=True),
                root_path=args.root_path,
            )
        except ValueError as exc:  # an unknown variant: the message lists the known ones
            raise ConfigError(f"{exc}.") from None
        except OSError as exc:
            why = exc.strerror or exc.__class__.__name__
            raise ConfigError(f"Cannot listen on 127.0.0.1:{args.port} ({why}); pick another --port.") from None
        return 0
    if command == "demo":
        from .demo import run_demo

        return run_demo(
            workflow=args.workflow,
            interactive=not args.non_interactive,
            answer=args.answer,
            speed=args.speed,
            family=args.family,
        )
    if command == "tools" and args.markdown:  # the whole surface, whatever the configuration says
        from .tool_table import markdown_table

        print(markdown_table(), end="")
        return 0
    settings = load_settings(args.config)
    if command == "serve":
        from .serve import serve_http, serve_stdio

        if not settings.profiles:  # a host starts runbridge in a folder of its own: ./runbridge.toml is rarely there
            variables = " or ".join(spec.env_vars[0] for spec in registered_families() if spec.env_vars)
            print(
                "runbridge: no profile is configured (no --config, no $RUNBRIDGE_CONFIG, no ./runbridge.toml in "
                f"{os.getcwd()}, no {variables or 'backend'} variables): every tool will say so. "
                "Pass --config /path/to/runbridge.toml.",
                file=sys.stderr,
                flush=True,
            )

        if args.http:
            serve_http(
                settings,
                host=args.host,
                port=args.port,
                token_env=args.token_env,
                allowed_hosts=args.allow_host or None,
                allowed_origins=args.allow_origin or None,
                max_sessions=args.max_sessions,
                session_idle_seconds=args.session_idle_seconds,
            )
        else:
            serve_stdio(settings)
        return 0
    if command == "install":
        from .install import run_install

        return run_install(settings, args.client, name=args.name, file=args.file, print_only=args.print)
    if command in ("login", "logout"):
        from .login import login_profile, run_login, run_logout

        profile = login_profile(settings, args.family, args.profile)
        if command == "logout":
            return run_logout(profile)
        return run_login(profile, register=args.register, email=args.email)
    if command == "tools":
        from ..server import visible_tools

        tools = visible_tools(settings)
        width = max((len(spec.name) for spec in tools), default=0)
        for spec in tools:
            mode = "read-only" if spec.read_only else "destructive" if spec.destructive else "writes"
            print(f"{spec.name:<{width}}  {spec.toolset:<9} {mode:<11} {spec.title}")
        return 0
    from .doctor import run_doctor

    return run_doctor(settings)
