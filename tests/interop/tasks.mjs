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
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

function parseArgs(argv) {
  const options = { target: "approval-demo", cancel: "approval-demo" };
  const split = argv.indexOf("--");
  const own = split === -1 ? argv : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  for (let i = 0; i < own.length; i += 2) {
    const key = own[i].replace(/^--/, "");
    if (!(key in options) || own[i + 1] === undefined) {
      throw new Error(`unknown or incomplete option ${own[i]}`);
    }
    options[key] = own[i + 1];
  }
  if (command.length === 0) {
    throw new Error("usage: node tasks.mjs [--target ID] [--cancel ID] -- COMMAND [ARGS...]");
  }
  return { ...options, command: command[0], args: command.slice(1) };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const transport = new StdioClientTransport({
    command: options.command,
    args: options.args,
    env: { ...process.env },
    stderr: "pipe",
  });
  let protocolVersion = null;
  transport.setProtocolVersion = (version) => {
    protocolVersion = version;
  };
  let stderr = "";
  transport.stderr?.on("data", (chunk) => {
    stderr += chunk.toString();
  });

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
      JSON.stringify({ protocolVersion, taskSupport, messages, elicitations, result, cancelled, listed, stderr }) + "\n",
    );
  } finally {
    await client.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
