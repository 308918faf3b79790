// Drives runbridge's 2025-11-25 tasks over stdio with the official TypeScript SDK's task client (1.x
// `client.experimental.tasks`), the way a Node-based host would.
//
//   node tests/interop/tasks.mjs [--target approval-demo] [--cancel long-demo] -- COMMAND [ARGS...]
//
// The client declares elicitation (answering every question with {decision: "accept"}) and tasks, lists the tools,
// calls the target as a task through `callToolStream` (which polls `tasks/get` and, once the task needs input or
// ends, asks `tasks/result`), then starts `--cancel` as a task (a plain task-augmented request) and cancels it, and lists the tasks. It prints one
// JSON summary on stdout: {protocolVersion, taskSupport, messages, elicitations, result, cancelled, listed}.
// Exit status 1 (message on stderr) if anything fails on the way.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

import { parseArgs, recordedStdio, run } from "./driver.mjs";

const USAGE = "usage: node tasks.mjs [--target ID] [--cancel ID] -- COMMAND [ARGS...]";

async function main() {
  const options = parseArgs(process.argv.slice(2), { target: "approval-demo", cancel: "approval-demo" }, USAGE);
  const { transport, seen } = recordedStdio(options);

  const client = new Client(
    { name: "runbridge-interop-tasks", version: "0.0.0" },
    { capabilities: { elicitation: {}, tasks: { list: {}, cancel: {} } } },
  );
  const elicitations = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params.message);
    return { action: "accept", content: { decision: "accept" } };
  });

  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    const taskSupport = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport ?? null]));
    const messages = [];
    let result = null;
    const stream = client.experimental.tasks.callToolStream(
      { name: "runs_start", arguments: { target_id: options.target } },
      CallToolResultSchema,
      { task: { ttl: 600000 } },
    );
    for await (const message of stream) {
      if (message.type === "taskCreated" || message.type === "taskStatus") {
        messages.push({ type: message.type, status: message.task.status, taskId: message.task.taskId });
      } else if (message.type === "result") {
        messages.push({ type: "result" });
        result = message.result;
      } else {
        messages.push({ type: message.type, error: String(message.error?.message ?? message.error) });
      }
    }

    // A task made with a plain task-augmented request (no polling), then cancelled while its run goes on.
    const created = await client.request(
      { method: "tools/call", params: { name: "runs_start", arguments: { target_id: options.cancel }, task: {} } },
      CreateTaskResultSchema,
    );
    const cancelled = await client.experimental.tasks.cancelTask(created.task.taskId);
    const { tasks } = await client.experimental.tasks.listTasks();
    const listed = tasks.map((t) => ({ taskId: t.taskId, status: t.status }));
    process.stdout.write(
      JSON.stringify({
        protocolVersion: seen.protocolVersion,
        taskSupport,
        messages,
        elicitations,
        result,
        cancelled,
        listed,
        stderr: seen.stderr,
      }) + "\n",
    );
  } finally {
    await client.close();
  }
}

run("tasks.mjs", main);
