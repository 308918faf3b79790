"""What both driver scripts share: a flow is a sequence of named steps, and the first that fails ends it with the
step's name and its exception recorded. Imported by the drivers as a sibling module (a script's folder is on its
path), in whichever client library's virtual environment runs them."""

from __future__ import annotations

from typing import Any


class Stop(Exception):
    """A step failed; the flow records it and ends."""

    def __init__(self, step: str, exc: BaseException) -> None:
        super().__init__(step)
        self.step = step
        self.exc = exc


def step(name: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        raise Stop(name, exc) from exc
