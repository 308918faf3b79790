"""`runbridge doctor`: is each profile configured, credentialed and reachable?"""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio

from ..backends import create_backend
from ..core.config import Profile, Settings
from ..core.errors import AuthError, NotFoundError, RunbridgeError
from ..core.models import HostInfo
from ..core.protocols import HostInfoAPI, RunsAPI, TargetsAPI, capabilities_of

__all__ = ["run_doctor"]


async def _unreachable(profile: Profile) -> str | None:
    """Why the profile's host takes no connection, or None. Listing targets alone proves nothing: a backend may
    answer it from the configuration without a request."""
    url = urlsplit(profile.base_url)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        with anyio.fail_after(profile.connect_timeout):
            stream = await anyio.connect_tcp(host, port)
        await stream.aclose()
    except (OSError, TimeoutError):
        return f"cannot connect to {host}:{port} (is the backend running?)"
    return None


_PROBE_RUN = "runbridge-doctor-probe"


async def _check_credentials(backend: RunsAPI) -> None:
    """Ask for a run that does not exist: "not found" proves the backend took the credentials (listing targets may
    not send any request, and discovery is read without them); a refusal raises, with what to fix."""
    try:
        await backend.get_run(_PROBE_RUN)
    except NotFoundError:
        return
    except AuthError as exc:
        if exc.status == 403:  # the key was recognised; reading runs is merely not among its permissions
            return
        raise RunbridgeError(f"reading a run that does not exist, to check the credentials: {exc}") from None
    except RunbridgeError as exc:
        raise RunbridgeError(f"reading a run that does not exist, to check the credentials: {exc}") from None


def _host_line(info: HostInfo) -> str:
    """What the host says about itself, in one line (its protocol versions and the one runbridge speaks to it, then
    what it advertises)."""
    speaks = f" (runbridge speaks {info.wire_version})" if info.wire_version else ""
    if not info.available:
        line = f"  host: {info.note or 'says nothing about itself'}"
        return f"{line}; runbridge speaks {info.wire_version}" if info.wire_version else line
    versions = ", ".join(info.protocol_versions) or info.protocol_version or "version not stated"
    advertised = ", ".join(info.capabilities) or "no optional features"
    return f"  host: protocol {versions}{speaks}; advertises {advertised}"


async def _check(settings: Settings) -> int:
    if not settings.profiles:
        print(
            "No profiles are configured. Add [profiles.NAME] to runbridge.toml (see README), or try `runbridge demo`."
        )
        return 1
    failures = 0
    for name, profile in settings.profiles.items():
        try:
            backend = create_backend(profile)
        except RunbridgeError as exc:
            print(f"✗ {name} ({profile.family}): {exc}")
            failures += 1
            continue
        try:
            problem = await _unreachable(profile)
            if problem:
                print(f"✗ {name} ({profile.family}) at {profile.base_url}: {problem}")
                failures += 1
                continue
            caps = ", ".join(sorted(capabilities_of(backend)))
            deadline = profile.read_timeout + profile.connect_timeout + 5
            host: str | None = None
            if isinstance(backend, HostInfoAPI):  # first: a host runbridge cannot speak to is a failure, not a tick
                with anyio.fail_after(deadline):
                    host = _host_line(await backend.host_info())
            counted = ""
            if isinstance(backend, TargetsAPI):
                with anyio.fail_after(deadline):
                    page = await backend.list_targets(limit=5)
                counted = f": {page.total or len(page.items)} target(s)"
                if profile.family == "openwop" and not profile.workflows:
                    counted += " (OpenWOP has no workflow list: name the ones to offer in `workflows`)"
            if isinstance(backend, RunsAPI):
                with anyio.fail_after(deadline):
                    await _check_credentials(backend)
            print(f"✓ {name} ({profile.family}) at {profile.base_url}{counted}")
            print(f"  capabilities: {caps}")
            if host is not None:
                print(host)
        except (RunbridgeError, TimeoutError) as exc:
            print(f"✗ {name} ({profile.family}) at {profile.base_url}: {exc or 'timed out'}")
            failures += 1
        finally:
            await backend.aclose()
    return 1 if failures else 0


def run_doctor(settings: Settings) -> int:
    return anyio.run(_check, settings)
