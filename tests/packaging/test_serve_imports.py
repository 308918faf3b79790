"""The sandbox ships in the wheel (for `runbridge demo`) but stays out of the server's import path: everything
`runbridge serve` can load (the CLI, both transports, the server, every family's adapter) imports no module of
`runbridge.sandbox`. The wheel test (test_wheel.py) proves the same of a real stdio session."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
import runbridge.cli, runbridge.cli.serve, runbridge.server, runbridge.server.stdio
from runbridge.core.families import registered_families
for spec in registered_families():
    spec.adapter()
loaded = sorted(m for m in sys.modules if m == "runbridge.sandbox" or m.startswith("runbridge.sandbox."))
print(len(registered_families()), loaded)
"""


def test_nothing_serve_loads_imports_the_sandbox() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    families, loaded = done.stdout.split(" ", 1)
    assert int(families) >= 3
    assert loaded.strip() == "[]"


def test_the_check_sees_an_import_of_the_sandbox() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.replace("import sys\n", "import sys\nimport runbridge.sandbox\n", 1)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "'runbridge.sandbox'" in done.stdout


STARTUP = """
import sys
from runbridge.core import Settings
from runbridge.server import build_server
import runbridge.cli.serve, runbridge.server.stdio
build_server(Settings())
print(sorted(m for m in ("jwt", "jsonschema") if m in sys.modules))
"""


def test_a_server_start_leaves_out_what_only_some_sessions_need() -> None:
    """PyJWT is for `[auth]` alone, jsonschema for checking a gate's answer: each is imported when first needed, not
    by every `runbridge serve` (together some 80 ms of CPU on each start, which an MCP host waits for)."""
    done = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
