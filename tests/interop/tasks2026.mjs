// Drives runbridge's 2026-07-28 tasks extension over streamable HTTP with the official tasks client
// (`@modelcontextprotocol/ext-tasks`) on the 2.x TypeScript client, the way a Node-based host would.
//
//   node tests/interop/tasks2026.mjs --url http://127.0.0.1:PORT/mcp [--target approval-demo]
//
// The 2.x client connects pinned to 2026-07-28; the tasks session sends the extension's requests through a raw
// dispatch (a POST per request with the 2026 headers, which the package asks its host for), answers every input
// request with {decision: "accept"}, calls the target, and follows the execution to its outcome. It prints one JSON
// summary on stdout: {era, kind, statuses, inputs, outcome, result, error}. Exit status 1 (message on stderr) on failure.

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, taskViewFromExecutionEvent } from "@modelcontextprotocol/ext-tasks/client";

import { parseArgs as parseDriverArgs, run } from "./driver.mjs";

const EXTENSION = "io.modelcontextprotocol/tasks";
const VERSION = "2026-07-28";

function parseArgs(argv) {
  const options = parseDriverArgs(argv, { url: null, target: "approval-demo" }, null, { command: false });
  if (!options.url) {
    throw new Error("usage: node tasks2026.mjs --url URL [--target ID]");
  }
  return options;
}

/** One request as its own JSON-RPC POST (framed here: the package hands over method and params), with the headers the 2026 wire wants; the response as the package wants. */
function rawDispatch(url) {
  let next = 0;
  return async (bare, options) => {
    const request = { jsonrpc: "2.0", id: `tasks-${++next}`, ...bare };
    const headers = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": VERSION,
      "mcp-method": request.method,
    };
    if (typeof request.params?.name === "string") {
      headers["mcp-name"] = request.params.name;
    }
    const response = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(request),
      signal: options?.signal,
    });
    const text = await response.text();
    let message;
    if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      const data = text
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => JSON.parse(line.slice(5)));
      message = data.filter((m) => m.id === request.id).pop() ?? data.pop();
    } else {
      message = JSON.parse(text);
    }
    return message.error ? { kind: "error", error: message.error } : { kind: "result", result: message.result };
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const clientInfo = { name: "runbridge-interop-tasks2026", version: "0.0.0" };
  const clientCapabilities = { elicitation: { form: {} }, extensions: { [EXTENSION]: {} } };
  const client = new Client(clientInfo, {
    capabilities: clientCapabilities,
    versionNegotiation: { mode: { pin: VERSION } },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(options.url)));
  const inputs = [];
  const session = createTaskSessionFromClient(client, {
    endpointId: "runbridge-interop",
    rawDispatch: rawDispatch(options.url),
    v2RequestFraming: { protocolVersion: VERSION, clientInfo, clientCapabilities },
    onInputRequest: async (request) => {
      inputs.push(request.kind === "elicitation" ? request.params.message : request.kind);
      return { action: "accept", content: { decision: "accept" } };
    },
  });
  try {
    const execution = await session.callTool("runs_start", { target_id: options.target });
    const statuses = [];
    const { outcome } = await execution.settle({
      onEvent: (event) => {
        const view = taskViewFromExecutionEvent(event);
        if (view) statuses.push(view.status);
      },
    });
    const result = outcome.status === "completed" ? outcome.result : null;
    const error = outcome.status === "failed" ? String(outcome.error?.message ?? outcome.error) : null;
    process.stdout.write(
      JSON.stringify({
        era: client.getProtocolEra(),
        kind: execution.kind,
        statuses,
        inputs,
        outcome: outcome.status,
        result,
        error,
      }) + "\n",
    );
  } finally {
    await session.close();
    await client.close();
  }
}

run("tasks2026.mjs", main);
