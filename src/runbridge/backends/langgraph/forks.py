"""Where a fork starts (docs/backends/langgraph.md): the checkpoint the run had reached at an event.

Every run is streamed with the `checkpoints` mode too, so the events of a run say when each checkpoint was written:
the fork starts from the first checkpoint announced after the event `from_seq` names (the state that includes what
the event says happened), else the last one before it (read again from the run's resumable stream). Without
`from_seq`, from the chain's latest checkpoint (thread history).
"""

from __future__ import annotations

from contextlib import aclosing

from ...core.errors import InputError
from .events import checkpoint_of
from .stream import ChainWatch
from .wire import CHAIN_STRIDE, as_dict

__all__ = ["checkpoint_at"]


async def checkpoint_at(watch: ChainWatch, from_seq: int | None) -> str:
    chain = await watch.chain()
    if from_seq is None:
        ours = {str(r.get("run_id")) for r in chain}
        for state in await watch.wire.history(watch.thread_id):
            if as_dict(state.get("metadata")).get("run_id") in ours:
                found = as_dict(state.get("checkpoint")).get("checkpoint_id")
                if isinstance(found, str):
                    return found
        raise InputError("This run has written no checkpoint yet: there is nothing to fork from.")
    index, position = divmod(from_seq, CHAIN_STRIDE)
    if index >= len(chain):
        raise InputError(f"from_seq {from_seq} is not an event of this run (runs_events lists them, with their seq).")
    last: str | None = None
    async with aclosing(watch.stream(str(chain[index]["run_id"]))) as events:
        async for at, raw in events:
            found = checkpoint_of(raw)
            if found is not None:
                last = found
                if at > position:
                    break  # the first checkpoint written after the event: the state that includes it
    if last is None:
        raise InputError(
            f"No checkpoint was written by event {from_seq} (or the server no longer has that run's events): "
            "fork from a later event, or leave from_seq out to fork from the latest checkpoint."
        )
    return last
