"""The official client libraries as judges: each runs in a virtual environment of its own (`CLIENT_VENVS`), drives a
server through its documented flows with a driver script from `official/`, and prints what it read as JSON.

The drivers are run, never imported: the clients are not installed in the test environment (and the two
`openwop-client` majors install the same module name). Their file names do not match `test_*.py`, so pytest does
not collect them.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
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


def host_get(base_url: str, key: str, path: str) -> dict[str, Any]:
    """`GET path` on a real host, as the host itself answers it."""
    request = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a loopback host this test started)
        return json.loads(response.read())


def host_run_settles(base_url: str, key: str, run_id: str, *, within: float = 15) -> dict[str, Any]:
    """The host's snapshot of the run once it no longer runs (a resumed run finishes on its own), within `within`
    seconds; the last snapshot read, whatever it says, when it does not."""
    deadline = time.monotonic() + within
    while True:
        snapshot = host_get(base_url, key, f"/v1/runs/{run_id}")
        if snapshot.get("status") not in ("pending", "running", "cancelling") or time.monotonic() > deadline:
            return snapshot
        time.sleep(0.1)  # polls a real server's run, bounded by the deadline
