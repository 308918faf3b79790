"""The README's generated sections: each lies between `<!-- generated: NAME -->` and `<!-- end: NAME -->` and is
produced by runbridge's own code, so the README cannot drift from what runbridge has (tests/packaging/
test_readme_generated.py fails when it does).

Regenerate them all with one command, from the repository root:

    python -m tests.packaging.readme --write
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from runbridge.cli.install import readme_install_links, readme_install_table
from runbridge.cli.tool_table import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"

GENERATORS: dict[str, Callable[[], str]] = {
    "tools": markdown_table,  # `runbridge tools --markdown`
    "install-table": readme_install_table,  # the first screen: each host with its shortest way in
    "install-links": readme_install_links,
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {re.escape(name)} [^>]*-->\n)(.*?)(<!-- end: {re.escape(name)} -->)", re.S)


def current(text: str, name: str) -> str | None:
    """What the README holds between the markers of `name` (None: the markers are missing)."""
    found = _pattern(name).search(text)
    return None if found is None else found.group(2)


def regenerated(text: str) -> str:
    """The README text with every generated section rewritten from the code."""
    for name, generate in GENERATORS.items():
        body = generate()
        text, count = _pattern(name).subn(lambda m, body=body: m.group(1) + body + m.group(3), text)
        if count != 1:
            raise SystemExit(f"README.md must hold the markers of the {name!r} section exactly once (found {count})")
    return text


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = regenerated(text)
    if "--write" in argv:
        README.write_text(new, encoding="utf-8")
        print("README.md: generated sections " + ("rewritten" if new != text else "already up to date"))
        return 0
    print(
        "README.md is " + ("up to date" if new == text else "out of date: run python -m tests.packaging.readme --write")
    )
    return 0 if new == text else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
