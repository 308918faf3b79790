"""A 2026 client of the tasks extension built on the official Python client's seams (`ClientExtension`,
`ResultClaim`): it declares `io.modelcontextprotocol/tasks`, claims `resultType: "task"`, and either polls the task
to its end (`poll=True`, what a host does) or hands the created task back (`created`) for the caller to drive with
`tasks/get`, `tasks/update` and `tasks/cancel`.

The official client has no task support of its own, so this is the one copy of it: `behaviours/task.py` imports it
as `from _tasks import ...` (examples/ on the path, see `_harness.py`), the tests as `examples._tasks` (the
repository root is on their path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import anyio
from mcp.client import ClaimContext, ClientExtension, ResultClaim
from mcp.client.extension import NotificationBinding
from mcp_types import (
    CallToolResult,
    Request,
    RequestParams,
    Result,
    SubscriptionFilter,
    SubscriptionsListenRequest,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    TextContent,
)
from pydantic import ConfigDict, Field

EXTENSION_ID = "io.modelcontextprotocol/tasks"


class TaskCreated(Result):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(default=None, alias="statusMessage")
    ttl_ms: int | None = Field(alias="ttlMs")
    poll_interval_ms: int | None = Field(default=None, alias="pollIntervalMs")


class TaskState(Result):
    """`tasks/get`'s answer, kept whole (`raw`) as well."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(default=None, alias="statusMessage")
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, Any] | None = Field(default=None, alias="inputRequests")


class TaskNote(RequestParams):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    task_id: str = Field(alias="taskId")
    status: str


class Done(Result):
    model_config = ConfigDict(extra="allow")


class TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True)
    task_id: str = Field(alias="taskId")


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any] = Field(alias="inputResponses")


class TasksGet(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"


class TasksUpdate(Request[UpdateParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"


class TasksCancel(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"


class TaskExtension(ClientExtension):
    """`poll=True`: `call_tool` returns the task's result, polled to its end (every status seen is in `seen`);
    else it returns at once with the task id as its text, and the task is in `created`."""

    identifier = EXTENSION_ID

    def __init__(self, *, poll: bool = True, interval: float = 0.05) -> None:
        self.poll = poll
        self.interval = interval
        self.created: list[TaskCreated] = []
        self.seen: list[TaskState] = []
        self.notified: list[dict[str, Any]] = []  # `notifications/tasks` params, as received

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskCreated, resolve=self._resolve)]

    def notifications(self) -> list[NotificationBinding[Any]]:
        return [NotificationBinding(method="notifications/tasks", params_type=TaskNote, handler=self._noted)]

    async def _noted(self, params: TaskNote) -> None:
        self.notified.append(params.model_dump(by_alias=True, exclude_none=True))

    async def _resolve(self, created: TaskCreated, ctx: ClaimContext) -> CallToolResult:
        self.created.append(created)
        if not self.poll:
            # Marked an error so that the client does not check it against the tool's output schema: it is no result.
            return CallToolResult(content=[TextContent(type="text", text=created.task_id)], is_error=True)
        while True:
            state = await get(ctx.session, created.task_id)
            self.seen.append(state)
            if state.status == "completed":
                assert state.result is not None
                return CallToolResult.model_validate(state.result)
            if state.status in ("failed", "cancelled"):
                return CallToolResult(content=[TextContent(type="text", text=state.status)], is_error=True)
            await anyio.sleep(self.interval)


async def get(session: Any, task_id: str) -> TaskState:
    return await session.send_request(TasksGet(params=TaskIdParams(taskId=task_id)), TaskState)


async def update(session: Any, task_id: str, responses: dict[str, Any]) -> None:
    await session.send_request(TasksUpdate(params=UpdateParams(taskId=task_id, inputResponses=responses)), Done)


async def cancel(session: Any, task_id: str) -> None:
    await session.send_request(TasksCancel(params=TaskIdParams(taskId=task_id)), Done)


async def until(
    session: Any,
    task_id: str,
    *statuses: str,
    within: float = 20.0,
    on_state: Callable[[TaskState], None] | None = None,
) -> TaskState:
    """Poll the task until its status is one of `statuses`; `on_state` is shown every answer to `tasks/get`."""
    with anyio.fail_after(within):
        while True:
            state = await get(session, task_id)
            if on_state is not None:
                on_state(state)
            if state.status in statuses:
                return state
            await anyio.sleep(0.05)


async def listen_to_tasks(session: Any, *task_ids: str) -> None:
    """A `subscriptions/listen` stream naming tasks (`taskIds`); returns when the stream ends (cancel it to stop)."""
    wanted = SubscriptionFilter.model_validate({"taskIds": list(task_ids)})
    request = SubscriptionsListenRequest(params=SubscriptionsListenRequestParams(notifications=wanted))
    await session.send_request(request, SubscriptionsListenResult)
