"""Reading a file a tool call named, so that what is read is what was checked, and knowing which files must never be.

A tool call's path (a workflow spec for `threads_create`, a secret for `secrets_from_file`) is chosen by the model,
and a prompt it read may choose it for it: the file's content goes to a backend. `open_checked` opens the file once
(never through a final symlink, never blocking on a pipe), checks the open descriptor itself (a regular file, within
a size bound) and reads from that descriptor, so a file swapped in after a path check is never the one read; the
caller then compares the descriptor's identity (device, inode) with reserved files, which also catches hard links.

`host_config_reason` names the configuration files of MCP hosts, where users keep the keys of their MCP servers
(runbridge's included): by well-known name anywhere, and by their platform paths.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FileId",
    "Opened",
    "Unreadable",
    "file_id",
    "holds_any",
    "host_config_paths",
    "host_config_reason",
    "open_checked",
]

FileId = tuple[int, int]  # (st_dev, st_ino): the same file whatever path or hard link names it

_HOST_FILE = "an MCP host's configuration file (it holds the keys of the MCP servers it starts)"
# Names no workflow spec or secret file has, refused wherever they are: the host reads them from several places
# (a project's .mcp.json, a user's ~/.claude.json) and a copy anywhere still holds the same keys.
_HOST_NAMES = {
    "claude_desktop_config.json": f"Claude Desktop's configuration file, {_HOST_FILE}",
    ".claude.json": f"Claude Code's configuration file, {_HOST_FILE}",
    ".mcp.json": f"a project's MCP server configuration (Claude Code), {_HOST_FILE}",
    "mcp_config.json": f"Windsurf's MCP configuration file, {_HOST_FILE}",
    "runbridge.toml": "a runbridge configuration file (it names runbridge's backends and credentials)",
}
# `mcp.json` is refused inside these folders only: Cursor's and VS Code's project folders and VS Code's user folder.
_MCP_JSON_PARENTS = {".cursor": "Cursor", ".vscode": "VS Code", "User": "VS Code (user settings)"}


class Unreadable(Exception):
    """Why a file cannot be used, as the end of a sentence about it ("does not exist"); never the path, which may be
    a secret pasted where a path belongs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Opened:
    data: bytes
    identity: FileId
    mode: int
    where: Path | None = None  # where the opened descriptor really is (None where the system cannot say)


def file_id(info: os.stat_result) -> FileId:
    return (info.st_dev, info.st_ino)


def open_checked(path: Path, *, max_bytes: int) -> Opened:
    """The content of the regular file at `path` (a real path: symlinks already resolved), read from the one
    descriptor that was checked. Raises `Unreadable` saying why not."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Unreadable("does not exist") from None
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.__class__.__name__})") from None
    try:
        info = os.fstat(fd)
        where = _where(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("is not a regular file (a directory, device, pipe or socket)")
        if info.st_size > max_bytes:
            raise Unreadable(f"is larger than {max_bytes // 1024} KB")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew after the fstat
        raise Unreadable(f"is larger than {max_bytes // 1024} KB")
    return Opened(data=data, identity=file_id(info), mode=info.st_mode, where=where)


def _where(fd: int) -> Path | None:
    """The path of an open descriptor as the kernel knows it: a folder swapped for a symlink between a path check
    and the open shows here as the place the file really is."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def holds_any(data: bytes, credentials: Mapping[str, str]) -> str | None:
    """What the first credential found in `data` is (its label, never the value), compared in memory only: as
    written, and as JSON would escape it."""
    for value, label in credentials.items():
        escaped = json.dumps(value)[1:-1]
        if value.encode() in data or (escaped != value and escaped.encode() in data):
            return label
    return None


def host_config_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    """Where MCP hosts keep their configuration on Linux, macOS and Windows (absolute, not resolved)."""
    appdata = Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    support = home / "Library" / "Application Support"
    paths = [base / "Claude" / "claude_desktop_config.json" for base in (config, support, appdata)]
    paths += [base / "Code" / "User" / "mcp.json" for base in (config, support, appdata)]
    paths += [
        home / ".claude.json",
        home / ".mcp.json",
        home / ".cursor" / "mcp.json",
        home / ".codeium" / "windsurf" / "mcp_config.json",
    ]
    return paths


def host_config_reason(paths: Iterable[Path]) -> str | None:
    """Why any of `paths` (the name given and the real path) is an MCP host's configuration file, else None."""
    for path in paths:
        if path.name in _HOST_NAMES:
            return _HOST_NAMES[path.name]
        if path.name == "mcp.json" and path.parent.name in _MCP_JSON_PARENTS:
            return f"{_MCP_JSON_PARENTS[path.parent.name]}'s MCP configuration file, {_HOST_FILE}"
        if path.name.startswith(".claude.json"):  # Claude Code keeps .claude.json.backup beside it
            return f"a copy of Claude Code's configuration file, {_HOST_FILE}"
    return None
