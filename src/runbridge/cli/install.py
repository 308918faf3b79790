"""`runbridge install --client HOST`: write an MCP host's configuration for the runbridge this command runs from.

The entry names runbridge by its absolute path (hosts start servers without the shell's `PATH`), the
configuration file that was read (`serve --config`), and the environment variables the profiles name. A key is
never written in clear where the host can keep it elsewhere (`install_hosts.py` says how each host does). The host's
file is merged, not replaced: other servers and settings stay as they were, a copy of the file is kept beside it,
and a file that is not JSON is refused and left untouched. `--print` only shows what would be written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.config import Settings
from ..core.errors import ConfigError
from ..core.families import registered_families
from .install_hosts import HOSTS, Host, cursor_link, entry_for, vscode_inputs, vscode_link

__all__ = [
    "CLIENTS",
    "family_key_variables",
    "readme_command",
    "readme_install_links",
    "readme_install_table",
    "run_install",
    "runbridge_command",
]

CLIENTS = tuple(HOSTS)

# Variables runbridge itself reads that a host must pass on, when they are set (never a key).
_OWN_VARIABLES = ("RUNBRIDGE_SPEC_DIRS",)


def runbridge_command() -> list[str]:
    """The runbridge this process runs from, by absolute path: its script beside the interpreter (a virtualenv's
    `bin/runbridge`), else the interpreter with `-m runbridge`. Run by `uvx`, whose environment is a cache entry
    that may go away, it is `uvx runbridge@VERSION` (uvx by its absolute path)."""
    uv = os.environ.get("UV")
    if uv and any(part.startswith("archive-v") for part in Path(sys.prefix).parts):
        uvx = Path(uv).with_name("uvx.exe" if sys.platform == "win32" else "uvx")
        return [str(uvx if uvx.is_file() else shutil.which("uvx") or "uvx"), f"runbridge@{__version__}"]
    interpreter = Path(sys.executable).absolute()
    script = interpreter.with_name("runbridge.exe" if sys.platform == "win32" else "runbridge")
    if script.is_file():
        return [str(script)]
    return [str(interpreter), "-m", "runbridge"]


def family_key_variables() -> set[str]:
    """Every variable a family's environment profile can read its key from: asked with all its variables set, then
    again without each key found (LangGraph, say, reads the first of three)."""
    keys: set[str] = set()
    for spec in registered_families():
        env = dict.fromkeys(spec.env_vars, "x")
        while (key := (spec.env_profile(env) or {}).get("api_key_env")) and key in env:
            keys.add(key)
            del env[key]
    return keys


def _variables(settings: Settings, environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str | None]]:
    """(plain variables with their values, keys with their value in this shell or None) the profiles need: each
    profile's key variable (and the secrets it sends by reference), and the variables of every family whose
    environment profile this shell defines (its key variables as keys, never as plain values)."""
    keys: dict[str, str | None] = {}
    for profile in settings.profiles.values():
        named = [profile.api_key_env] if profile.api_key_env else []
        named += list(getattr(profile.options, "secrets_from_env", {}).values())  # sent to the backend by reference
        for name in named:
            keys[name] = environ.get(name) or None
    secret = family_key_variables()
    plain: dict[str, str] = {}
    for spec in registered_families():
        if spec.env_profile(environ) is None:
            continue
        for name in (*spec.env_vars, *spec.credentials.path_env):
            if not environ.get(name) or name in keys:
                continue
            if name in secret:
                keys[name] = environ[name]
            else:
                plain[name] = environ[name]
    for name in _OWN_VARIABLES:
        if environ.get(name):
            plain[name] = environ[name]
    return plain, keys


def _read_json(file: Path, host: Host) -> dict[str, Any]:
    """The host's file as a JSON object ({} when it does not exist or is empty); anything else is refused."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {file} ({exc.__class__.__name__}); nothing was changed.") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{file} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}; comments are not read): "
            "nothing was changed. Fix the file, or see what to add with `runbridge install --client "
            f"{host.name} --print`."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file} does not hold a JSON object; nothing was changed.")
    if not isinstance(data.get(host.servers_key, {}), dict):
        raise ConfigError(f"{file}: {host.servers_key!r} is not an object; nothing was changed.")
    if host.secrets == "input" and not isinstance(data.get("inputs", []), list):
        raise ConfigError(f"{file}: 'inputs' is not a list; nothing was changed.")
    return data


def _merged(data: dict[str, Any], host: Host, name: str, entry: dict[str, Any], inputs: list[dict[str, Any]]) -> bool:
    """Put the entry (and VS Code's inputs) into `data`; True when an entry of that name was there already."""
    servers: dict[str, Any] = data.setdefault(host.servers_key, {})
    replaced = name in servers
    servers[name] = entry
    if inputs:
        ours = {item["id"] for item in inputs}
        kept = [item for item in data.get("inputs", []) if not (isinstance(item, dict) and item.get("id") in ours)]
        data["inputs"] = kept + inputs
    return replaced


def _write(file: Path, data: dict[str, Any], *, private: bool) -> Path | None:
    """Write `data` over `file` atomically, keeping a copy of what was there; returns the copy's path."""
    file.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = 0o600
    if file.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = file.with_name(f"{file.name}.{stamp}.bak")
        shutil.copy2(file, backup)
        mode = file.stat().st_mode & 0o777
    if private:
        mode &= 0o600
    handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, ensure_ascii=False)
            out.write("\n")
        os.chmod(temporary, mode)
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return backup


def _shown(entry: dict[str, Any], keys: Mapping[str, str | None], host: Host) -> dict[str, Any]:
    """The entry as printed: a key written in clear shows as a placeholder, never its value."""
    if host.secrets != "clear" or "env" not in entry:
        return entry
    env = {name: (f"<{name} from your environment>" if name in keys else value) for name, value in entry["env"].items()}
    return {**entry, "env": env}


def run_install(
    settings: Settings,
    client: str,
    *,
    name: str = "runbridge",
    file: str | None = None,
    print_only: bool = False,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    host = HOSTS[client]
    environ = os.environ if environ is None else environ
    target = Path(file).expanduser().absolute() if file else host.config_file(home or Path.home())
    command = [*runbridge_command(), "serve"]
    if settings.config_file is not None:
        command += ["--config", str(settings.config_file)]
    plain, keys = _variables(settings, environ)
    entry = entry_for(host, command, plain=plain, keys=keys)
    inputs = vscode_inputs(keys) if host.secrets == "input" else []
    if print_only:
        shown: dict[str, Any] = {host.servers_key: {name: _shown(entry, keys, host)}}
        if inputs:
            shown["inputs"] = inputs
        print(f"# {host.display_name}: merge this into {target}")
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0
    missing = [key for key, value in keys.items() if value is None]
    if host.secrets == "clear" and missing:
        raise ConfigError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set in this shell, and "
            f"{host.display_name} cannot read variables: set {'it' if len(missing) == 1 else 'them'} and run "
            "again (nothing was changed)."
        )
    data = _read_json(target, host)
    replaced = _merged(data, host, name, entry, inputs)
    backup = _write(target, data, private=host.secrets == "clear" and bool(keys))
    done = "replaced the" if replaced else "added a"
    print(f"{host.display_name}: {done} {name!r} server in {target}")
    if backup is not None:
        print(f"  the file as it was: {backup}")
    print(f"  it runs: {' '.join(command)}")
    for variable in plain:
        print(f"  {variable}: its value from this shell")
    for variable in keys:
        print(f"  {variable}: {host.keeps_keys}")
    if not settings.profiles:
        print("  no profile is configured: pass --config /path/to/runbridge.toml so that runbridge has a backend")
    print(f"  restart {host.display_name} (or reload its MCP servers) to start it")
    return 0


# -- the README's install table and links ----------------------------------------------------------------------

README_CONFIG = "${userHome}/.config/runbridge/runbridge.toml"
"""Where the README's install links expect runbridge.toml (Cursor and VS Code expand `${userHome}`)."""

README_SHELL_CONFIG = "~/.config/runbridge/runbridge.toml"
"""The same file as typed in a shell, which expands `~`."""


def readme_command(config: str) -> list[str]:
    """What the README's ways in run: runbridge from PyPI through `uvx`, serving with `config`."""
    return ["uvx", "runbridge", "serve", "--config", config]


def _shortest_way(host: Host) -> str:
    """A host's shortest way in, for the README's first screen (a host added to `HOSTS` needs its way here)."""
    if host.name == "claude-desktop":
        return (
            "`npx @anthropic-ai/mcpb pack manifests/mcpb runbridge.mcpb`, then open `runbridge.mcpb`: it asks for the "
            "file or a backend, and keeps keys in the OS keychain"
        )
    if host.name == "claude-code":
        entry = entry_for(host, readme_command(README_SHELL_CONFIG), plain={}, keys={})
        return f"`claude mcp add runbridge -- {' '.join([entry['command'], *entry['args']])}`"
    if host.name in ("cursor", "vscode"):
        return f"the *Install in {host.display_name}* link below"
    if host.name == "windsurf":
        return f"`runbridge install --client {host.name}`"
    raise ValueError(f"the README's install table has no way into {host.display_name}: add one")


def readme_install_table() -> str:
    """The README's first-screen install table: each host `runbridge install` knows, with its shortest way in."""
    rows = ["| host | the shortest way in |", "|---|---|"]
    rows.append(
        "| any terminal | `uvx runbridge demo`: a gated run on the embedded sandbox, answered in your terminal |"
    )
    rows += [f"| {host.display_name} | {_shortest_way(host)} |" for host in HOSTS.values()]
    others = ", ".join(f"`{name}`" for name in CLIENTS)
    rows.append(
        f"| any of them, from a virtualenv | `runbridge install --client NAME`, NAME one of {others} "
        "(`--print` only shows it) |"
    )
    return "\n".join(rows) + "\n"


def readme_install_links() -> str:
    """The README's Cursor and VS Code install links: runbridge from PyPI through `uvx`, reading
    ~/.config/runbridge/runbridge.toml."""
    command = readme_command(README_CONFIG)
    cursor = entry_for(HOSTS["cursor"], command, plain={}, keys={})
    vscode = entry_for(HOSTS["vscode"], command, plain={}, keys={})
    return (
        f"[Install in Cursor]({cursor_link('runbridge', cursor)}) · "
        f"[Install in VS Code]({vscode_link('runbridge', vscode)})\n"
    )
