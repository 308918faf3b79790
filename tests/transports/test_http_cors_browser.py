"""`runbridge serve --http --allow-origin` lets a browser page in, and only that page: checked from a real headless
Chromium whose page, served on the allowed origin by a tiny loopback server, calls runbridge with `fetch()`
(initialize, tools/list in the session, a 2026-era tools/list, a listening stream resumed with Last-Event-ID, and
DELETE, all with a bearer token) and writes what it got into the page, which `--dump-dom` reads back. The same page
on an origin that is not allowed gets nothing. The CORS answers themselves are also checked by hand, without a
browser.

Chromium is Debian's `chromium` package, which `.ci/run` installs where it can (apt-get as root) and names in
$RUNBRIDGE_CHROMIUM, or explains in $RUNBRIDGE_CHROMIUM_UNAVAILABLE why it could not. Locally, without one, the
browser test is skipped with that reason. Under $RUNBRIDGE_REAL_REQUIRED=1 (CI) a missing browser fails the test
unless `.ci/run` said why it could not install one: a machine without apt or root cannot have it, but a CI run that
could install it and did not must not pass silently."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from tests.raw_jsonrpc import ACCEPT, INITIALIZE

from runbridge.cli.serve import http_app
from runbridge.core import ConfigError, Settings

TOKEN_ENV = "RUNBRIDGE_CORS_TOKEN"
TOKEN = "tok-cors-browser-4e8a1f0c"
ALLOWED, FOREIGN = "app.example", "evil.example"  # both resolved to 127.0.0.1 by the browser only
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {ALLOWED} 127.0.0.1, MAP {FOREIGN} 127.0.0.1",
    "--virtual-time-budget=15000",  # the page's fetches finish before the DOM is dumped
]
PAGE = """<!doctype html><html><head><title>pending</title></head><body><pre id="out">pending</pre><script>
const url = %(url)s, token = %(token)s;
const meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": {name: "page", version: "0"},
  "io.modelcontextprotocol/clientCapabilities": {}};
function lastMessage(text) {  // a JSON body, or the last `data:` of an SSE stream
  if (text.trim().startsWith("{")) return JSON.parse(text);
  const data = text.split("\\n").filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).filter(Boolean);
  return JSON.parse(data[data.length - 1]);
}
async function run() {
  const base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                "Authorization": "Bearer " + token};
  const post = (headers, body) => fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
  const init = await post(base, {jsonrpc: "2.0", id: 1, method: "initialize", params: {
    protocolVersion: "2025-11-25", capabilities: {}, clientInfo: {name: "page", version: "0"}}});
  const session = init.headers.get("Mcp-Session-Id");
  const version = lastMessage(await init.text()).result.protocolVersion;
  const inSession = {...base, "Mcp-Session-Id": session, "Mcp-Protocol-Version": version};
  await post(inSession, {jsonrpc: "2.0", method: "notifications/initialized"});
  const listed = await post(inSession, {jsonrpc: "2.0", id: 2, method: "tools/list"});
  const tools = lastMessage(await listed.text()).result.tools.map(t => t.name);
  const modern = await post({...base, "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"},
    {jsonrpc: "2.0", id: 3, method: "tools/list", params: {_meta: meta}});
  const modernTools = lastMessage(await modern.text()).result.tools.length;
  const listening = await fetch(url, {method: "GET", headers: {
    "Accept": "text/event-stream", "Authorization": "Bearer " + token, "Mcp-Session-Id": session,
    "Mcp-Protocol-Version": version, "Last-Event-ID": "0"}});
  const ended = await fetch(url, {method: "DELETE", headers: {"Authorization": "Bearer " + token,
    "Mcp-Session-Id": session, "Mcp-Protocol-Version": version}});
  await listening.text();  // ending the session ends its listening stream
  return {session: Boolean(session), version, tools, modernTools, listening: listening.status,
          ended: ended.status};
}
run().then(r => { document.getElementById("out").textContent = "OK " + JSON.stringify(r); },
           e => { document.getElementById("out").textContent = "ERR " + e; });
</script></body></html>"""


def _chromium() -> str:
    named = os.environ.get("RUNBRIDGE_CHROMIUM")
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            pytest.fail(f"$RUNBRIDGE_CHROMIUM names {named}, which is not an executable")
        return named
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    why = os.environ.get("RUNBRIDGE_CHROMIUM_UNAVAILABLE")
    if os.environ.get("RUNBRIDGE_REAL_REQUIRED") == "1" and not why:
        pytest.fail("no chromium although this run requires the real tier: .ci/run should have installed it")
    pytest.skip(f"no headless chromium here ({why or 'install Debian package chromium'})")


class PageServer:
    """A loopback server answering every GET with `page` (set once its port, and so its origin, is known)."""

    def __init__(self) -> None:
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.page = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="page-server", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


def _visit(browser: str, url: str) -> str:
    """What the page wrote into its `out` element, once its fetches are done."""
    with tempfile.TemporaryDirectory(prefix="runbridge-chromium-") as profile:
        done = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    found = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium gave no page (exit {done.returncode}): {done.stderr[-800:]}"
    return html.unescape(found.group(1))


def test_a_page_on_an_allowed_origin_drives_runbridge_from_a_real_browser_and_a_foreign_one_cannot(
    settings: Settings, serve_http: Callable[[Any], str], pages: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = _chromium()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = serve_http(http_app(settings, token_env=TOKEN_ENV, allowed_origins=[f"http://{ALLOWED}:{pages.port}"]))
    pages.page = PAGE % {"url": json.dumps(url), "token": json.dumps(TOKEN)}
    allowed = _visit(browser, f"http://{ALLOWED}:{pages.port}/")
    foreign = _visit(browser, f"http://{FOREIGN}:{pages.port}/")  # the same page, on an origin not allowed
    assert allowed.startswith("OK "), allowed
    report = json.loads(allowed[3:])
    assert report["session"] is True, "the page could not read Mcp-Session-Id"
    assert report["version"] == "2025-11-25"
    assert "runs_start" in report["tools"]
    assert report["modernTools"] == len(report["tools"])
    assert report["listening"] == 200
    assert report["ended"] == 200
    assert foreign == "ERR TypeError: Failed to fetch", foreign


APP = "https://app.example"
WANTED = ("content-type", "authorization", "mcp-session-id", "mcp-protocol-version", "last-event-id")


def test_the_cors_answers_by_hand(
    settings: Settings, serve_http: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = serve_http(http_app(settings, token_env=TOKEN_ENV, allowed_origins=[APP, "http://localhost:*"]))
    asking = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": ",".join([*WANTED, "mcp-method", "mcp-name"]),
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx2.Client(timeout=10) as http:
        preflight = http.options(url, headers={**asking, "Origin": APP})
        by_port = http.options(url, headers={**asking, "Origin": "http://localhost:5173"})
        unlisted = http.options(url, headers={**asking, "Origin": "https://evil.example"})
        loopback_page = http.options(url, headers={**asking, "Origin": "http://127.0.0.1:3000"})
        without_token = http.post(url, json=INITIALIZE, headers={**ACCEPT, "Origin": APP})
        opened = http.post(url, json=INITIALIZE, headers={**ACCEPT, **auth, "Origin": APP})
        no_origin = http.post(url, json=INITIALIZE, headers={**ACCEPT, **auth})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP
    assert {"GET", "POST", "DELETE"} <= {
        m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")
    }
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {*WANTED, "mcp-method", "mcp-name"} <= allowed
    assert by_port.status_code == 204
    assert by_port.headers["access-control-allow-origin"] == "http://localhost:5173"
    # Not listed: refused, with nothing a browser would read as a grant (a loopback page may call in, but it gets
    # no CORS grant unless it is listed).
    for refused in (unlisted, loopback_page):
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
    # A refusal reaches the page too, so that it can say why.
    assert without_token.status_code == 401
    assert without_token.headers["access-control-allow-origin"] == APP
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == APP
    assert "mcp-session-id" in opened.headers["access-control-expose-headers"].lower()
    assert "vary" in opened.headers
    assert no_origin.status_code == 200
    assert "access-control-allow-origin" not in no_origin.headers


@pytest.mark.parametrize("origin", ["app.example", "ftp://app.example", "https://app.example/path", "https://"])
def test_an_allow_origin_that_is_not_an_origin_is_a_config_error(settings: Settings, origin: str) -> None:
    with pytest.raises(ConfigError, match="--allow-origin"):
        http_app(settings, allowed_origins=[origin])


def test_a_listening_stream_asked_to_resume_opens_instead_of_getting_no_answer(
    settings: Settings, serve_http: Callable[[Any], str]
) -> None:
    # runbridge keeps no event store: the MCP SDK would end such a GET without any answer (a 500 from uvicorn).
    url = serve_http(http_app(settings))
    with httpx2.Client(timeout=10) as http:
        opened = http.post(url, json=INITIALIZE, headers=ACCEPT)
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        stream = {**session, "Accept": "text/event-stream", "Last-Event-ID": "0"}
        with http.stream("GET", url, headers=stream) as listening:
            status = listening.status_code
            kind = listening.headers.get("content-type", "")
        ended = http.delete(url, headers=session)
    assert status == 200
    assert kind.startswith("text/event-stream")
    assert ended.status_code == 200
