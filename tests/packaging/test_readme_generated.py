"""The README's generated sections are what runbridge's code makes now: the tool table is `runbridge tools
--markdown` (the live surface, so a new tool or toolset shows as drift until the README is regenerated) and the
install links are made from the same entries `runbridge install` writes."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.packaging import readme

from runbridge.cli.install import CLIENTS, README_CONFIG
from runbridge.cli.install_hosts import HOSTS
from runbridge.core import Settings
from runbridge.server import visible_tools
from runbridge.tools import SURFACE


def test_every_generated_section_of_the_readme_is_what_the_code_makes_now() -> None:
    text = readme.README.read_text(encoding="utf-8")
    for name, generate in readme.GENERATORS.items():
        shown = readme.current(text, name)
        assert shown is not None, f"README.md lost the markers of its {name!r} section"
        assert shown == generate(), (
            f"README.md's {name!r} section is out of date: run `python -m tests.packaging.readme --write`"
        )


def test_the_tool_table_is_what_runbridge_tools_markdown_prints_and_names_every_tool() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "tools", "--markdown"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == readme.current(readme.README.read_text(encoding="utf-8"), "tools")
    rows = [line for line in done.stdout.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [spec.name for spec in SURFACE]


def test_the_markdown_table_ignores_the_configuration_the_plain_listing_follows() -> None:
    """`--markdown` is the whole surface even where no profile is configured; the plain listing shows what this
    configuration exposes (here, without a profile, only the tools that need no capability)."""
    plain = {spec.name for spec in visible_tools(Settings())}
    assert plain < {spec.name for spec in SURFACE}


def test_the_install_links_carry_the_entry_cursor_and_vscode_expect() -> None:
    links = readme.current(readme.README.read_text(encoding="utf-8"), "install-links") or ""
    cursor = links.split("](", 1)[1].split(")", 1)[0]
    query = parse_qs(urlsplit(cursor).query)
    assert query["name"] == ["runbridge"]
    entry = json.loads(base64.b64decode(query["config"][0]))
    assert entry["command"] == "uvx"
    assert entry["args"][:2] == ["runbridge", "serve"]
    vscode = links.split("](")[2].split(")", 1)[0]
    assert vscode.startswith("vscode:mcp/install?")
    server = json.loads(unquote(vscode.removeprefix("vscode:mcp/install?")))
    assert server["name"] == "runbridge"
    assert server["type"] == "stdio"
    assert server["args"] == entry["args"]


_CONFIG = "<runbridge.toml>"


def _printed_entry(client: str, tmp_path: Path) -> dict[str, Any]:
    """What `runbridge install --client CLIENT --print` shows for runbridge serving `tmp_path/runbridge.toml`, in a
    home and environment of its own (so no profile variable of this shell is added), its config file as `CONFIG`."""
    tmp_path.mkdir()
    config = tmp_path / "runbridge.toml"
    config.write_text('[server]\nstate_path = ":memory:"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "SYSTEMROOT", "VIRTUAL_ENV")}
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "install", "--client", client, "--print", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.split("\n", 1)[1])
    (entry,) = shown[HOSTS[client].servers_key].values()
    return {**entry, "args": [_CONFIG if a == str(config) else a for a in entry["args"]]}


def _as_readme_runs(printed: dict[str, Any], config: str) -> dict[str, Any]:
    """The printed entry with runbridge run as the README runs it (`uvx runbridge`) and its config file there."""
    args = [config if a == _CONFIG else a for a in printed["args"]]
    return {**printed, "command": "uvx", "args": ["runbridge", *args]}


def test_the_install_table_names_every_host_with_what_runbridge_install_writes(tmp_path: Path) -> None:
    """The README's first screen: every host `runbridge install --client` takes has its row; the commands shown
    there run what `runbridge install --print` writes for that host (the same arguments and entry, with runbridge
    from PyPI through uvx), so neither can change without the README failing here."""
    text = readme.README.read_text(encoding="utf-8")
    table = readme.current(text, "install-table") or ""
    cells = [line.removeprefix("| ").removesuffix(" |").split(" | ", 1) for line in table.splitlines()]
    rows = {row[0]: row[1] for row in cells[2:]}  # below the header and its rule
    links = readme.current(text, "install-links") or ""
    for client in CLIENTS:
        host = HOSTS[client]
        assert host.display_name in rows, f"README.md's install table has no row for {host.display_name}"
        assert f"`{client}`" in rows["any of them, from a virtualenv"], f"{client} missing from the install row"
        printed = _printed_entry(client, tmp_path / client)
        way = rows[host.display_name]
        if client == "claude-code":
            command = shlex.split(way.split("`")[1].split(" -- ", 1)[1])
            wanted = _as_readme_runs(printed, "~/.config/runbridge/runbridge.toml")
            assert command == [wanted["command"], *wanted["args"]], way
            assert printed["type"] == "stdio"  # what `claude mcp add` writes
        elif client in ("cursor", "vscode"):
            assert f"Install in {host.display_name}" in way
            shown = _link_entry(links, host.display_name)
            assert shown == _as_readme_runs(printed, README_CONFIG)
        elif client == "windsurf":
            assert way == f"`runbridge install --client {client}`"
        else:
            assert "mcpb pack manifests/mcpb" in way  # Claude Desktop: the bundle


def _link_entry(links: str, display_name: str) -> dict[str, Any]:
    """The server entry an install link carries (Cursor: base64 JSON; VS Code: URL-encoded JSON with its name)."""
    target = links.split(f"[Install in {display_name}](", 1)[1].split(")", 1)[0]
    if target.startswith("cursor://"):
        return json.loads(base64.b64decode(parse_qs(urlsplit(target).query)["config"][0]))
    server = json.loads(unquote(target.removeprefix("vscode:mcp/install?")))
    assert server.pop("name") == "runbridge"
    return server
