"""`runbridge doctor` on the mistakes a new user makes with a working host (fast lane, on the sandboxes; the real
tier checks the same against Synapse and the OpenWOP SQLite host): a `base_url` that ends in the API's own version
prefix fails naming the URL to use, and a v2 orchestrations profile on a server without scale mode says so once."""

from __future__ import annotations

import os
from pathlib import Path

from transport_harness import KEY_ENV, SECRET, run_cli

from runbridge.sandbox import SandboxServer


def test_doctor_names_the_base_url_to_use_and_says_once_that_v2_needs_scale_mode(tmp_path: Path) -> None:
    with SandboxServer(["openwop", "orchestrations"], api_key=SECRET) as hosts:
        openwop, synapse = hosts.base_urls["openwop"], hosts.base_urls["orchestrations"]
        profiles = {
            "ow_v1": ("openwop", f"{openwop}/v1/", 'workflows = ["quick-demo"]\n'),
            "syn_api": ("orchestrations", f"{synapse}/api", ""),
            "syn_api_v1": ("orchestrations", f"{synapse}/api/v1", ""),
            "syn_v2": ("orchestrations", synapse, 'options = { api_versions = ["v1", "v2"] }\n'),
        }
        config = tmp_path / "doctor.toml"
        config.write_text(
            '[server]\nstate_path = ":memory:"\n\n'
            + "".join(
                f'[profiles.{name}]\nfamily = "{family}"\nbase_url = "{url}"\napi_key_env = "{KEY_ENV}"\n{extra}\n'
                for name, (family, url, extra) in profiles.items()
            ),
            encoding="utf-8",
        )
        done = run_cli("doctor", "--config", str(config), env={**os.environ, KEY_ENV: SECRET}, timeout=60)
        v2_requests = sum(n for route, n in hosts.stats()["requests"].items() if "/api/v2/" in route)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = {line[2:].split(" ", 1)[0]: line for line in done.stdout.splitlines() if line[:2] in ("✓ ", "✗ ")}
    assert f'use base_url = "{openwop}"' in lines["ow_v1"]
    assert f'use base_url = "{synapse}"' in lines["syn_api"]
    assert f'use base_url = "{synapse}"' in lines["syn_api_v1"]
    assert "'/api/v1', the prefix runbridge puts before every request itself" in lines["syn_api_v1"]
    v2 = lines["syn_v2"]
    assert v2.startswith("✗ ")
    assert v2.lower().count("scale mode") == 1, v2
    assert v2_requests == 1  # the 503 is the server's configuration: not retried
