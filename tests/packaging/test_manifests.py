"""The manifests (manifests/): the MCP registry entry valid on its schema (2025-12-11, copied beside this test
from its $id, which cannot be fetched here), the Claude Desktop bundle validated and packed by the official mcpb
CLI, the packed bundle started as Claude Desktop starts it (answering `tools/list`), and every version in them the
package's version."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from packaging_tools import ROOT, node, node_tool, uv, with_uv_on_path

from runbridge import __version__
from runbridge.cli.install import family_key_variables
from runbridge.core.families import registered_families
from runbridge.sandbox import SandboxServer

MANIFESTS = ROOT / "manifests"
SCHEMA = Path(__file__).with_name("server.schema.json")


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_registry_entry_is_valid_on_the_2025_12_11_schema() -> None:
    entry, schema = _json(MANIFESTS / "server.json"), _json(SCHEMA)
    assert entry["$schema"] == schema["$id"]
    jsonschema.validate(entry, schema, format_checker=jsonschema.FormatChecker())
    transports = {package["transport"]["type"] for package in entry["packages"]}
    assert transports == {"stdio", "streamable-http"}
    assert [remote["type"] for remote in entry["remotes"]] == ["streamable-http"]


def test_the_registry_entry_names_every_family_variable_and_marks_every_key_secret() -> None:
    """Each family's own environment variables are listed for the stdio package; those a family's environment
    profile can read its key from, and only those, are `isSecret` (so is every header of a remote)."""
    entry = _json(MANIFESTS / "server.json")
    stdio = next(p for p in entry["packages"] if p["transport"]["type"] == "stdio")
    listed = {variable["name"]: variable for variable in stdio["environmentVariables"]}
    for spec in registered_families():
        for name in spec.env_vars:
            assert name in listed, f"manifests/server.json: add {name} ({spec.display_name}) to the stdio package"
    secrets = {name for name, variable in listed.items() if variable.get("isSecret")}
    assert secrets == family_key_variables()
    for remote in entry["remotes"]:
        assert all(header.get("isSecret") for header in remote["headers"])


class _Reads(Mapping[str, str]):
    """An environment that notes every variable looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.given, self.read = dict(values), set[str]()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.given[name]

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return name in self.given

    def __iter__(self) -> Iterator[str]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)


def _family_variables() -> set[str]:
    """Every variable a family's environment profile reads: those it declares, those naming a credential file, its
    key variables, and any it looks up when asked with none set, with all it declares set, then without each key
    variable in turn (LangGraph reads its second and third key only without the first)."""
    keys = family_key_variables()
    names = set(keys)
    for spec in registered_families():
        names |= {*spec.env_vars, *spec.credentials.path_env}
        env = dict.fromkeys(spec.env_vars, "x")
        asked = [{}, dict(env)]
        for key in sorted(keys & set(env)):
            del env[key]
            asked.append(dict(env))
        for values in asked:
            reads = _Reads(values)
            spec.env_profile(reads)
            names |= reads.read
    return names


def test_the_bundle_asks_for_every_variable_a_family_reads() -> None:
    """Each variable a family's environment profile reads reaches the server from a user configuration option of
    the bundle (so a new family, or a new variable of one, fails here until the bundle asks for it), and each key
    variable's option is `sensitive` (kept in the OS keychain)."""
    bundle = _json(MANIFESTS / "mcpb" / "manifest.json")
    env = bundle["server"]["mcp_config"]["env"]
    options = bundle["user_config"]
    for name in sorted(_family_variables()):
        passed = re.fullmatch(r"\$\{user_config\.(\w+)\}", env.get(name, ""))
        assert passed, f"manifests/mcpb/manifest.json: pass {name} from a user_config option in server.mcp_config.env"
        option = options[passed.group(1)]
        assert option.get("default") == "", f"{name}: an option left empty must reach runbridge as unset"
        if name in family_key_variables():
            assert option.get("sensitive") is True, f"{name} is a key: its option must be sensitive"


def test_every_manifest_carries_the_package_version() -> None:
    entry = _json(MANIFESTS / "server.json")
    bundle = _json(MANIFESTS / "mcpb" / "manifest.json")
    project = tomllib.loads((MANIFESTS / "mcpb" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert entry["version"] == __version__
    assert {package["version"] for package in entry["packages"]} == {__version__}
    assert bundle["version"] == __version__
    assert project["version"] == __version__
    assert project["dependencies"] == [f"runbridge=={__version__}"]


def test_the_bundle_uses_the_newest_manifest_version_the_cli_knows_and_keeps_keys_sensitive() -> None:
    bundle = _json(MANIFESTS / "mcpb" / "manifest.json")
    constants = node_tool("@anthropic-ai", "mcpb", "dist", "shared", "constants.js").read_text(encoding="utf-8")
    assert f'LATEST_MANIFEST_VERSION = "{bundle["manifest_version"]}"' in constants
    assert bundle["server"]["type"] == "uv"
    env = bundle["server"]["mcp_config"]["env"]
    keys = family_key_variables()
    for name, option in bundle["user_config"].items():
        reached = {variable for variable, value in env.items() if value == f"${{user_config.{name}}}"}
        assert reached, f"user_config.{name} reaches no variable"
        is_key = bool(reached & keys)
        assert option.get("sensitive", False) == is_key, (
            f"user_config.{name} ({', '.join(sorted(reached))}): sensitive exactly when it holds a family's key"
        )


def _mcpb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cli = node_tool("@anthropic-ai", "mcpb", "dist", "cli", "cli.js")
    return subprocess.run([str(node()), str(cli), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.node
def test_mcpb_validates_the_bundle_manifest() -> None:
    done = _mcpb("validate", str(MANIFESTS / "mcpb" / "manifest.json"), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation passes" in done.stdout


@pytest.mark.node
def test_mcpb_refuses_a_broken_manifest(tmp_path: Path) -> None:
    """The validation can fail: the same manifest with a key type the schema does not have is refused."""
    broken = _json(MANIFESTS / "mcpb" / "manifest.json")
    broken["user_config"]["openwop_api_key"]["type"] = "secret"
    (tmp_path / "manifest.json").write_text(json.dumps(broken), encoding="utf-8")
    done = _mcpb("validate", str(tmp_path / "manifest.json"), cwd=tmp_path)
    assert done.returncode != 0


@pytest.mark.node
@pytest.mark.slow
@pytest.mark.anyio
async def test_the_packed_bundle_starts_as_claude_desktop_runs_it_and_lists_tools(
    tmp_path: Path, wheel: Path, sandbox: SandboxServer
) -> None:
    """`mcpb pack`, then the bundle unpacked and its command resolved with a user's configuration by the mcpb
    library (what Claude Desktop runs), started with uv, which installs runbridge (this build: the wheel is offered
    through UV_FIND_LINKS, standing in for PyPI) and answers the official MCP client."""
    packed = tmp_path / "runbridge.mcpb"
    done = _mcpb("pack", str(MANIFESTS / "mcpb"), str(packed), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(zipfile.ZipFile(packed).namelist()) == ["manifest.json", "pyproject.toml", "server.py"]
    user_config = {
        "openwop_base_url": sandbox.base_url,
        "openwop_api_key": sandbox.api_key,
        "openwop_workflows": "approval-demo,quick-demo",
    }
    resolver = Path(__file__).parents[1] / "hosts" / "bundle_config.mjs"
    resolved = subprocess.run(
        [str(node()), str(resolver), str(packed), str(tmp_path / "unpacked"), json.dumps(user_config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=resolver.parent,
    )
    assert resolved.returncode == 0, resolved.stderr
    config = json.loads(resolved.stdout)
    assert config["command"] == "uv"
    assert config["env"]["OPENWOP_API_KEY"] == sandbox.api_key
    base = with_uv_on_path({k: v for k, v in os.environ.items() if not k.startswith(("OPENWOP_", "ORCHAGENT_"))})
    env = {**base, **config["env"], "UV_FIND_LINKS": str(wheel.parent), "XDG_STATE_HOME": str(tmp_path / "state")}
    params = StdioServerParameters(command=uv(), args=config["args"], env=env, cwd=str(tmp_path))
    with anyio.fail_after(180):  # the first start installs runbridge's dependencies into the bundle's environment
        async with Client(stdio_client(params)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            targets = await client.call_tool("targets_list", {})
    assert {"runs_start", "runs_watch", "gates_respond", "targets_list"} <= tools
    assert not targets.is_error, targets.content
    assert [t["id"] for t in (targets.structured_content or {})["targets"]] == ["approval-demo", "quick-demo"]


def _package_command(package: dict[str, Any], wheel: Path, values: dict[str, str]) -> list[str]:
    """The command a registry client builds for a package: its runtime (`uvx`, with this build's wheel standing in
    for PyPI), the package, then its arguments (a named one with its value, else the value the user gave for its
    hint, else its default)."""
    assert package["runtimeHint"] == "uvx"
    command = [str(Path(uv()).with_name("uvx")), "--from", str(wheel), package["identifier"]]
    for argument in package["packageArguments"]:
        value = argument.get("value") or values.get(argument.get("valueHint", "")) or argument.get("default")
        command += [argument["name"], value] if argument["type"] == "named" else [value]
    return command


@pytest.mark.slow
@pytest.mark.anyio
async def test_both_packages_of_the_registry_entry_run_as_written(
    tmp_path: Path, wheel: Path, sandbox: SandboxServer
) -> None:
    """The stdio package with its environment variables, and the streamable HTTP package on the port a user picks,
    at the URL its transport names: each answers the official MCP client."""
    from tests.ports import free_port

    entry = _json(MANIFESTS / "server.json")
    stdio, http = sorted(entry["packages"], key=lambda p: p["transport"]["type"] != "stdio")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENWOP_", "ORCHAGENT_", "RUNBRIDGE_"))}
    config = tmp_path / "runbridge.toml"
    config.write_text('[server]\nstate_path = ":memory:"\n', encoding="utf-8")
    variables = {
        "RUNBRIDGE_CONFIG": str(config),
        "OPENWOP_BASE_URL": sandbox.base_url,
        "OPENWOP_API_KEY": sandbox.api_key,
        "OPENWOP_WORKFLOWS": "approval-demo",
    }
    assert set(variables) <= {v["name"] for v in stdio["environmentVariables"]}
    command = _package_command(stdio, wheel, {})
    params = StdioServerParameters(command=command[0], args=command[1:], env={**env, **variables}, cwd=str(tmp_path))
    with anyio.fail_after(120):
        async with Client(stdio_client(params)) as client:
            targets = await client.call_tool("targets_list", {})
    assert [t["id"] for t in (targets.structured_content or {})["targets"]] == ["approval-demo"]

    port = str(free_port())
    command = _package_command(http, wheel, {"port": port})
    server = subprocess.Popen(
        command, env={**env, **variables}, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        with anyio.fail_after(120):
            line = await anyio.to_thread.run_sync(server.stderr.readline)  # it says its address once it listens
            url = http["transport"]["url"].replace("{port}", port)
            assert url in line, line
            while True:  # it says so as it starts listening: wait until it accepts a connection
                try:
                    await (await anyio.connect_tcp("127.0.0.1", int(port))).aclose()
                    break
                except OSError:
                    await anyio.sleep(0.05)
            async with Client(url) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"runs_start", "targets_list"} <= tools
    finally:
        server.terminate()
        server.communicate(timeout=30)
