"""The package as users get it: the sdist and the wheel built from it, the wheel installed into a fresh virtual
environment (`runbridge --version`, a stdio session with the official MCP client through a gated run, and
`runbridge serve` never importing the sandbox, which ships for the demo), and `uvx --from <wheel> runbridge demo`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from packaging_tools import uv
from tests.mcp_people import Human

from runbridge import __version__
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.slow

KEY_ENV = "RUNBRIDGE_WHEEL_TEST_KEY"

# Run in the fresh environment instead of its `runbridge` script, with the same entry point: any import of
# runbridge.sandbox (or below it) fails the import, so a `serve` that reaches for it breaks the session.
SERVE_WITHOUT_SANDBOX = """
import sys
from importlib.abc import MetaPathFinder

class NoSandbox(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "runbridge.sandbox" or name.startswith("runbridge.sandbox."):
            raise ImportError(f"runbridge serve imported {name}")
        return None

sys.meta_path.insert(0, NoSandbox())
from runbridge.cli import main
code = main(["serve"])
assert not [m for m in sys.modules if m.startswith("runbridge.sandbox")]
raise SystemExit(code)
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENWOP_", "ORCHAGENT_", "RUNBRIDGE_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment with only the wheel (and its dependencies) installed."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    done = subprocess.run(
        [uv(), "pip", "install", "--python", str(python), str(wheel)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    return root


def test_the_sdist_and_the_wheel_hold_the_package_and_nothing_of_the_repository(dist: Path, wheel: Path) -> None:
    (sdist,) = dist.glob("runbridge-*.tar.gz")
    assert sdist.name == f"runbridge-{__version__}.tar.gz"
    assert wheel.name == f"runbridge-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "runbridge/cli/__init__.py" in names
    assert "runbridge/py.typed" in names
    assert "runbridge/sandbox/__init__.py" in names, "the sandbox ships: `runbridge demo` needs it"
    assert not [n for n in names if n.startswith(("tests/", "bench/", "examples/", "manifests/"))]
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert f"runbridge-{__version__}/src/runbridge/__init__.py" in members
    assert not [m for m in members if "node_modules" in m or "/.venv/" in m or "__pycache__" in m]


def test_the_installed_wheel_says_its_version(venv: Path) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "runbridge"), "--version"], capture_output=True, text=True, timeout=60, env=_clean_env()
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"runbridge {__version__}"


@pytest.mark.anyio
async def test_the_installed_wheel_serves_a_gated_run_over_stdio_without_importing_the_sandbox(
    venv: Path, sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = tmp_path / "runbridge.toml"
    config.write_text(
        '[server]\nstate_path = ":memory:"\n\n[profiles.sandbox]\nfamily = "openwop"\n'
        f'base_url = "{sandbox.base_url}"\napi_key_env = "{KEY_ENV}"\nworkflows = ["approval-demo"]\n',
        encoding="utf-8",
    )
    env = _clean_env(RUNBRIDGE_CONFIG=str(config), **{KEY_ENV: sandbox.api_key})
    params = StdioServerParameters(
        command=str(venv / "bin" / "python"), args=["-c", SERVE_WITHOUT_SANDBOX], env=env, cwd=str(tmp_path)
    )
    human = Human(("accept", {"decision": "accept"}))
    with anyio.fail_after(60):
        async with Client(stdio_client(params), mode="legacy", elicitation_callback=human) as client:
            result = await client.call_tool("runs_start", {"target_id": "approval-demo"})
    assert not result.is_error, result.content
    report = result.structured_content or {}
    assert report["status"] == "completed"
    assert report["decision"] == "accepted"
    assert len(human.questions) == 1


def test_the_no_sandbox_guard_catches_an_import_of_the_sandbox(venv: Path) -> None:
    """The guard above can fail: the same finder stops `runbridge demo`, which does need the sandbox."""
    script = SERVE_WITHOUT_SANDBOX.replace('main(["serve"])', 'main(["demo", "--non-interactive", "--speed", "0"])')
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=60, env=_clean_env()
    )
    assert done.returncode != 0
    assert "runbridge serve imported runbridge.sandbox" in done.stderr


def test_uvx_runs_the_demo_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    uvx = Path(uv()).with_name("uvx")
    done = subprocess.run(
        [
            str(uvx),
            "--from",
            str(wheel),
            "runbridge",
            "demo",
            "--non-interactive",
            "--answer",
            "approve",
            "--speed",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=_clean_env(XDG_STATE_HOME=str(tmp_path / "state")),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^Run \S+: completed \(you accepted\)$", done.stdout, re.M), done.stdout


def test_install_run_by_uvx_writes_uvx_not_its_passing_environment(wheel: Path, tmp_path: Path) -> None:
    """`uvx runbridge install` runs from a cache entry that may go away: the host is given `uvx runbridge@VERSION`,
    by uvx's absolute path."""
    uvx = Path(uv()).with_name("uvx")
    done = subprocess.run(
        [str(uvx), "--from", str(wheel), "runbridge", "install", "--client", "cursor", "--print"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=_clean_env(HOME=str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout.split("\n", 1)[1])["mcpServers"]["runbridge"]
    assert entry["command"] == str(uvx)
    assert entry["args"] == [f"runbridge@{__version__}", "serve"]
