"""The README's generated sections are what runbridge's code makes now: the tool table is `runbridge tools
--markdown` (the live surface, so a new tool or toolset shows as drift until the README is regenerated) and the
install links are made from the same entries `runbridge install` writes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from urllib.parse import parse_qs, unquote, urlsplit

from tests.packaging import readme

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
