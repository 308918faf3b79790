"""The OpenWOP v1 wire family of the sandbox (docs/backends/openwop.md)."""

from .app import build_app
from .tokens import TokenSigner
from .variants import VARIANTS, HostVariant, resolve_variant

__all__ = ["VARIANTS", "HostVariant", "TokenSigner", "build_app", "resolve_variant"]
