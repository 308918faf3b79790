"""A capability an adapter implements is one it serves: no method of a capability protocol is, in a shipped adapter,
only a refusal (`raise UnsupportedError(...)`). Such a stub makes the adapter match the protocol, so its tool is shown
for the family (and the README's tool table lists the family) while every call fails; a family that cannot do it
leaves the method out, and the protocol is split where a family serves only part of it."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

from runbridge.backends.registry import SHIPPED
from runbridge.core.protocols import _CAPABILITIES, capabilities_of  # pyright: ignore[reportPrivateUsage]

# `runs_cancel` belongs to every family's runs: where a backend cannot cancel, its refusal says how its runs end.
REFUSALS_KEPT = {"cancel_run"}


def _only_refuses(function: object) -> bool:
    """The function's body (past its docstring) is one `raise UnsupportedError(...)`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # pyright: ignore[reportArgumentType]
    body = tree.body[0].body  # pyright: ignore[reportAttributeAccessIssue]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "UnsupportedError"


@pytest.mark.parametrize("family", SHIPPED, ids=lambda spec: spec.name)
def test_no_capability_an_adapter_implements_is_only_a_refusal(family: object) -> None:
    adapter = family.adapter()  # pyright: ignore[reportAttributeAccessIssue]
    stubs: list[str] = []
    for capability in sorted(capabilities_of(adapter)):
        protocol = _CAPABILITIES[capability]
        for name, member in vars(protocol).items():
            if name.startswith("_") or name in REFUSALS_KEPT or not callable(member):
                continue
            method = getattr(adapter, name, None)
            if method is not None and _only_refuses(method):
                stubs.append(f"{capability}: {adapter.__name__}.{name}")
    assert not stubs, f"these only raise UnsupportedError; leave them out (split the protocol if needed): {stubs}"
