"""The MCP hosts `runbridge install` knows: where each keeps its MCP configuration, how it spells a stdio server, and
how it can hold a key without the key being written in its file.

| host | file | servers under | a key is written as |
|---|---|---|---|
| Claude Desktop | `claude_desktop_config.json` | `mcpServers` | its value (no variables there) |
| Claude Code | `~/.claude.json` | `mcpServers` | `${NAME}`, from Claude Code's environment |
| Cursor | `~/.cursor/mcp.json` | `mcpServers` | `${env:NAME}`, from Cursor's environment |
| VS Code | the user `mcp.json` | `servers` | `${input:ID}`: asked once, kept in VS Code's secret storage |
| Windsurf | `~/.codeium/windsurf/mcp_config.json` | `mcpServers` | `${env:NAME}`, from Windsurf's environment |

The install links (Cursor, VS Code) are made here too, from the same entry, so the README's links and what
`runbridge install` writes cannot disagree.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

__all__ = ["HOSTS", "Host", "cursor_link", "entry_for", "vscode_inputs", "vscode_link"]

SecretStyle = Literal["clear", "dollar", "env", "input"]


def _app_dir(home: Path, name: str) -> Path:
    """A desktop app's configuration folder: ~/Library/Application Support on macOS, %APPDATA% on Windows,
    $XDG_CONFIG_HOME (~/.config) elsewhere."""
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / name
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / name
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / name


@dataclass(frozen=True)
class Host:
    """One MCP host: its name on the command line, its name for people, its file and how it spells an entry."""

    name: str
    display_name: str
    servers_key: str  # the object that holds the servers
    secrets: SecretStyle
    typed: bool  # the entry says `"type": "stdio"`

    def config_file(self, home: Path) -> Path:
        if self.name == "claude-desktop":
            return _app_dir(home, "Claude") / "claude_desktop_config.json"
        if self.name == "claude-code":
            return home / ".claude.json"
        if self.name == "cursor":
            return home / ".cursor" / "mcp.json"
        if self.name == "vscode":
            return _app_dir(home, "Code") / "User" / "mcp.json"
        return home / ".codeium" / "windsurf" / "mcp_config.json"

    def secret_ref(self, variable: str) -> str:
        """How the host's file names a key without holding it (not for `clear` hosts)."""
        if self.secrets == "dollar":
            return "${" + variable + "}"
        if self.secrets == "env":
            return "${env:" + variable + "}"
        return "${input:" + input_id(variable) + "}"

    @property
    def keeps_keys(self) -> str:
        """One line for people: where the host takes the keys from."""
        if self.secrets == "input":
            return f"{self.display_name} asks for it once and keeps it in its secret storage"
        if self.secrets == "clear":
            return (
                f"{self.display_name} cannot read variables, so its value from this shell is in the file "
                "(the Claude Desktop bundle keeps keys in the OS keychain instead)"
            )
        return f"{self.display_name} reads it from its own environment: start it where the variable is set"


HOSTS: dict[str, Host] = {
    host.name: host
    for host in (
        Host("claude-desktop", "Claude Desktop", "mcpServers", "clear", typed=False),
        Host("claude-code", "Claude Code", "mcpServers", "dollar", typed=True),
        Host("cursor", "Cursor", "mcpServers", "env", typed=False),
        Host("vscode", "VS Code", "servers", "input", typed=True),
        Host("windsurf", "Windsurf", "mcpServers", "env", typed=False),
    )
}


def input_id(variable: str) -> str:
    """VS Code's input id for a key: `runbridge-openwop-api-key` for OPENWOP_API_KEY."""
    return "runbridge-" + variable.lower().replace("_", "-")


def entry_for(
    host: Host, command: list[str], *, plain: Mapping[str, str], keys: Mapping[str, str | None]
) -> dict[str, Any]:
    """The host's entry for runbridge: `command` (the program, then its arguments), `plain` variables with their
    values, and `keys` (name -> value from this shell, or None) written the way the host keeps a key."""
    entry: dict[str, Any] = {"type": "stdio"} if host.typed else {}
    entry["command"] = command[0]
    entry["args"] = command[1:]
    env = dict(plain)
    for name, value in keys.items():
        env[name] = (value or "") if host.secrets == "clear" else host.secret_ref(name)
    if env:
        entry["env"] = env
    return entry


def vscode_inputs(keys: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """VS Code's `inputs` for the keys: a password prompt each, answered once and kept in its secret storage."""
    return [
        {"type": "promptString", "id": input_id(name), "description": f"runbridge: {name}", "password": True}
        for name in keys
    ]


def cursor_link(name: str, entry: Mapping[str, Any]) -> str:
    """Cursor's install deeplink: the entry as base64 JSON."""
    config = base64.b64encode(json.dumps(entry, separators=(",", ":")).encode()).decode()
    return f"cursor://anysphere.cursor-deeplink/mcp/install?name={quote(name)}&config={quote(config)}"


def vscode_link(name: str, entry: Mapping[str, Any]) -> str:
    """VS Code's install link: the entry with its name, URL-encoded JSON."""
    return "vscode:mcp/install?" + quote(json.dumps({"name": name, **entry}, separators=(",", ":")), safe="")
