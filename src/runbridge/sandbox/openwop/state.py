"""What the OpenWOP handlers of one app share."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ..context import SandboxContext
from .docs import Projector
from .idempotency import IdempotencyStore
from .tokens import TokenSigner
from .variants import HostVariant
from .versions import v1_path

__all__ = ["OpenWopState"]


@dataclass
class OpenWopState:
    """The app's variant, token signer, wire projection and idempotency store, over the sandbox's shared context."""

    ctx: SandboxContext
    variant: HostVariant
    signer: TokenSigner = field(init=False)
    projector: Projector = field(init=False)
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)

    def __post_init__(self) -> None:
        self.signer = TokenSigner(self.ctx.token_secret)
        self.projector = Projector(self.variant, self.mint)

    @property
    def keepalive_seconds(self) -> float:
        override = self.ctx.keepalive_seconds
        return override if override is not None else self.variant.keepalive_seconds

    def mint(self, run_id: str, node_id: str, interrupt_id: str, timeout_ms: int | None = None) -> str:
        """A resolve token for one interrupt; its lifetime is the default, capped by the interrupt's timeout."""
        ttl = self.ctx.token_ttl_seconds
        if timeout_ms is not None:
            ttl = min(ttl, timeout_ms / 1000)
        return self.signer.mint(run_id=run_id, node_id=node_id, interrupt_id=interrupt_id, ttl_seconds=ttl)

    def url(self, request: Request, path: str) -> str:
        """`path` as this host writes links: absolute (from the request's own base URL) or relative to the origin.

        A relative link carries the path prefix the host is mounted under (its `root_path`), as a client resolving
        it by RFC 3986 needs; without a prefix it is the plain `/v1/...` path. `path` is written as a v1 path; a v2
        request gets it without `/v1`.
        """
        path = v1_path(request.scope, path)
        if self.variant.events_url != "absolute":  # `none` answers carry no link; a Location header is relative
            return str(request.scope.get("root_path", "")) + path
        return str(request.base_url).rstrip("/") + path
