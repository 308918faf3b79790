"""`runbridge doctor`: is each profile configured, credentialed and reachable?"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import anyio

from ..backends import create_backend
from ..core.config import Profile, Settings
from ..core.errors import AuthError, BadRequestError, NotFoundError, RunbridgeError, UnsupportedError, sentence
from ..core.families import family_names, find_family
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


_HOST_LINE_MAX = 200


def _api_prefix(profile: Profile) -> str | None:
    """What is wrong with a base_url that ends in the API's own version prefix, and the URL to use instead."""
    # The path prefixes the family's adapter puts before every route itself (its spec's `doctor.api_prefixes`): a
    # base_url that already ends in one doubles it (`/v1/v1/runs`), and every request then misses.
    spec = find_family(profile.family)
    url = urlsplit(profile.base_url)
    path = url.path.rstrip("/")
    for prefix in spec.doctor.api_prefixes if spec and spec.doctor else ():
        if path.endswith(prefix):
            root = urlunsplit(url._replace(path=path[: -len(prefix)], query="", fragment=""))
            return (
                f"base_url ends in {prefix!r}, the prefix runbridge puts before every request itself: use "
                f'base_url = "{root}"'
            )
    return None


_PROBE_RUN = "runbridge-doctor-probe"


class _NotThisAPI(RunbridgeError):
    """The address answers, but not as a host of the profile's family does."""


def _host_kind(family: str) -> str:
    spec = find_family(family)
    return spec.host_kind if spec else f"{family} host"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeio' else 'a'} {noun}"


def _wrong_place(profile: Profile) -> str:
    """What to check when the address does not answer as the profile's family does."""
    families = ", ".join(family_names())
    return (
        f"Is this {_a(_host_kind(profile.family))}? Check the profile's `family` ({families}) and that `base_url` is "
        "the API's root, with its path prefix if it has one"
    )


async def _check_credentials(backend: RunsAPI) -> None:
    """Ask for a run that does not exist: "not found" proves the backend took the credentials (listing targets may
    not send any request, and discovery is read without them); a refusal raises, with what to fix. A family whose
    every error carries its own code (`coded_errors`) must say "not found" with one: a bare 404 came from something
    else at that address (another API, a gateway, a path without the API's prefix)."""
    try:
        await backend.get_run(_PROBE_RUN)
    except NotFoundError as exc:
        if getattr(backend, "coded_errors", False) and exc.code is None:
            kind = _host_kind(str(getattr(backend, "family", "")))
            raise _NotThisAPI(
                f"a run that does not exist got a 404 without the error code every {kind} gives"
            ) from None
        return
    except UnsupportedError:
        raise  # the profile asks for what the server lacks (Synapse v2 without scale mode): said as it is
    except AuthError as exc:
        if exc.status == 403:  # the key was recognised; reading runs is merely not among its permissions
            return
        raise RunbridgeError(f"reading a run that does not exist, to check the credentials: {exc}") from None
    except RunbridgeError as exc:
        raise RunbridgeError(f"reading a run that does not exist, to check the credentials: {exc}") from None


def _host_line(info: HostInfo) -> str:
    """What the host says about itself, in one line: its name and version, or its protocol versions and the one
    runbridge speaks to it and what it advertises; then what it says is deprecated."""
    speaks = f" (runbridge speaks {info.wire_version})" if info.wire_version else ""
    if not info.available:
        line = f"  host: {info.note or 'says nothing about itself'}"
        return f"{line}; runbridge speaks {info.wire_version}" if info.wire_version else line
    if info.server and not (info.protocol_versions or info.protocol_version):
        line = f"  host: {info.server}"
    else:
        versions = ", ".join(info.protocol_versions) or info.protocol_version or "version not stated"
        advertised = ", ".join(info.capabilities) or "no optional features"
        line = f"  host: protocol {versions}{speaks}; advertises {advertised}"
    if info.deprecations:
        line += f"; deprecated: {'; '.join(info.deprecations)}"
    return _within(line, info)


def _within(line: str, info: HostInfo) -> str:
    """The host line under about 200 characters: a host that advertises many features is summed up by their count
    (`runbridge` uses what it needs of them either way), and what still does not fit is cut."""
    if len(line) > _HOST_LINE_MAX and len(info.capabilities) > 3:
        listed = ", ".join(info.capabilities)
        line = line.replace(
            f"advertises {listed}",
            f"advertises {len(info.capabilities)} features ({', '.join(info.capabilities[:3])}, …)",
        )
    return line if len(line) <= _HOST_LINE_MAX else line[: _HOST_LINE_MAX - 1] + "…"


def _note(profile: Profile) -> str | None:
    """The family's word on a profile that works but offers less than it could (its spec's `doctor.note`)."""
    spec = find_family(profile.family)
    return spec.doctor.note(profile) if spec and spec.doctor else None


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
            problem = _api_prefix(profile) or await _unreachable(profile)
            if problem:
                print(f"✗ {name} ({profile.family}) at {profile.base_url}: {problem}")
                failures += 1
                continue
            caps = ", ".join(sorted(capabilities_of(backend)))
            deadline = profile.read_timeout + profile.connect_timeout + 5
            host: str | None = None
            if isinstance(backend, HostInfoAPI):  # first: a host runbridge cannot speak to is a failure, not a tick
                with anyio.fail_after(deadline):
                    info = await backend.host_info()
                if info.foreign:
                    raise _NotThisAPI(info.foreign)
                host = _host_line(info)
            counted = ""
            if isinstance(backend, TargetsAPI):
                with anyio.fail_after(deadline):
                    page = await backend.list_targets(limit=5)
                counted = f": {page.total or len(page.items)} target(s)"
                note = _note(profile)
                if note:
                    counted += f" ({note})"
            if isinstance(backend, RunsAPI):
                with anyio.fail_after(deadline):
                    await _check_credentials(backend)
            print(f"✓ {name} ({profile.family}) at {profile.base_url}{counted}")
            print(f"  capabilities: {caps}")
            if host is not None:
                print(host)
        except (RunbridgeError, TimeoutError) as exc:
            why = str(exc) or "timed out"
            if isinstance(exc, _NotThisAPI | NotFoundError | BadRequestError):  # the address, not the request
                why = f"{why} {sentence(_wrong_place(profile))}"
            print(f"✗ {name} ({profile.family}) at {profile.base_url}: {why}")
            failures += 1
        finally:
            await backend.aclose()
    return 1 if failures else 0


def run_doctor(settings: Settings) -> int:
    return anyio.run(_check, settings)
