"""The official client libraries as judges: each runs in a virtual environment of its own (`CLIENT_VENVS`), drives a
server through its documented flows with a driver script from `official/`, and prints what it read as JSON.

The drivers are run, never imported: the clients are not installed in the test environment (and the two
`openwop-client` majors install the same module name). Their file names do not match `test_*.py`, so pytest does
not collect them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import real_backends
from real_backends import CLIENT_VENVS, Unavailable

DRIVERS = Path(__file__).parent / "official"


def client_python(name: str) -> Path:
    """The python of the virtual environment holding the client `name` (installed once, cached); where it cannot
    be installed, a skip locally and a failure where the real tier is required (as `conftest.available`)."""
    try:
        return real_backends.venv(name, CLIENT_VENVS[name])
    except Unavailable as exc:
        if real_backends.REQUIRED:
            pytest.fail(f"official client unavailable: {exc}", pytrace=False)
        pytest.skip(f"official client unavailable: {exc}")


def drive(python: Path, driver: str, plan: dict[str, Any], *, timeout: float = 180) -> dict[str, Any]:
    """Run `official/<driver>` with the client's python on `plan`; its JSON summary, one entry per flow."""
    done = subprocess.run(
        [str(python), str(DRIVERS / driver), json.dumps(plan)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{driver} exited {done.returncode}: {done.stderr[-2000:]}", pytrace=False)
    return json.loads(done.stdout)


def finished(result: dict[str, Any]) -> dict[str, Any]:
    """A flow's result, after checking the client went through every step of it."""
    assert "failed" not in result, f"the client stopped at {result.get('failed')}: {result.get('error')}"
    return result


def contiguous(sequences: list[int]) -> bool:
    return sequences == list(range(sequences[0], sequences[0] + len(sequences))) if sequences else False
