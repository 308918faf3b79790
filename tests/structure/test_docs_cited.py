"""Docstrings and comments cite the repository's own docs, and only docs that exist: a maintainer who clones the
repository has everything a citation points to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"DESIGN\.md|reference §|backend reference|\bseed 0\d\d\b|\.\./shared|/work/shared")
CITED = re.compile(r"\bdocs/[\w./<>-]+?\.md\b")
CITED_TEST = re.compile(r"\btests/[\w/]+?\.py\b")


def _sources() -> list[Path]:
    found = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    return sorted(p for p in found if "node_modules" not in p.parts and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_cites_no_document_outside_the_repository(path: Path) -> None:
    if path == Path(__file__).resolve():
        return  # the patterns themselves
    text = path.read_text(encoding="utf-8")
    outside = [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]
    assert not outside, f"cite docs/architecture.md or docs/backends/<family>.md instead: {outside}"


def test_every_doc_a_module_cites_exists() -> None:
    missing: set[str] = set()
    for path in _sources():
        for cited in CITED.findall(path.read_text(encoding="utf-8")):
            if "<" not in cited and not (ROOT / cited).is_file():
                missing.add(f"{path.relative_to(ROOT)}: {cited}")
    assert not missing, sorted(missing)


def test_every_test_module_a_module_cites_exists() -> None:
    missing: set[str] = set()
    for path in _sources():
        for cited in CITED_TEST.findall(path.read_text(encoding="utf-8")):
            if not (ROOT / cited).is_file():
                missing.add(f"{path.relative_to(ROOT)}: {cited}")
    assert not missing, sorted(missing)
