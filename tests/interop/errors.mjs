// Drives runbridge over stdio with an official TypeScript MCP client through every path that answers with an
// error, and times each answer: a result a client cannot parse is dropped, and the call then hangs to its timeout.
//
//   node tests/interop/errors.mjs --sdk 1|2 [--era legacy|modern] -- COMMAND [ARGS...]
//
// `--sdk 1` is `@modelcontextprotocol/sdk` (1.x, the 2025 handshake only); `--sdk 2` is `@modelcontextprotocol/client`
// (2.x), on the 2025 handshake (`legacy`) or pinned to the 2026-07-28 stateless era (`modern`). COMMAND ARGS start the
// server with this process's environment. Prints one JSON object: {era, answers: [{path, ms, kind, isError, text,
// code, message}]}, where kind is "result" (isError, text) or "error" (code, message; a timeout is an error too).

import { parseArgs as parseDriverArgs, run } from "./driver.mjs";

const PATHS = [
  ["invalid_arguments", "tool", { name: "runs_get", arguments: { run_id: 5 } }],
  ["unknown_tool", "tool", { name: "no_such_tool", arguments: {} }],
  ["tool_error", "tool", { name: "runs_get", arguments: { run_id: "no-such-run" } }],
  ["unknown_prompt", "prompt", { name: "no_such_prompt" }],
  ["prompt_arguments", "prompt", { name: "start_and_supervise_run", arguments: {} }],
  ["resource_error", "resource", { uri: "runbridge://sandbox/runs/no-such-run" }],
  ["unknown_profile_resource", "resource", { uri: "runbridge://no-such-profile/gates" }],
];
const TIMEOUT_MS = 5_000; // far past the one second each answer must take: a dropped answer shows as this timeout

function parseArgs(argv) {
  const usage = "usage: node errors.mjs --sdk 1|2 [--era legacy|modern] -- COMMAND [ARGS...]";
  const options = parseDriverArgs(argv, { sdk: "1", era: "legacy" }, usage);
  if (!["1", "2"].includes(options.sdk) || !["legacy", "modern"].includes(options.era)) {
    throw new Error(usage);
  }
  if (options.sdk === "1" && options.era !== "legacy") {
    throw new Error("the 1.x SDK speaks only the 2025 handshake");
  }
  return options;
}

async function connect(options) {
  const info = { name: "runbridge-interop-errors", version: "0.0.0" };
  const server = { command: options.command, args: options.args, env: { ...process.env }, stderr: "ignore" };
  if (options.sdk === "1") {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    const client = new Client(info, { capabilities: {} });
    await client.connect(new StdioClientTransport(server));
    return client;
  }
  const { Client } = await import("@modelcontextprotocol/client");
  const { StdioClientTransport } = await import("@modelcontextprotocol/client/stdio");
  const versionNegotiation = options.era === "modern" ? { mode: { pin: "2026-07-28" } } : { mode: "legacy" };
  const client = new Client(info, { capabilities: {}, versionNegotiation });
  await client.connect(new StdioClientTransport(server));
  return client;
}

async function answer(client, sdk, kind, params) {
  const options = { timeout: TIMEOUT_MS };
  if (kind === "tool") {
    // 1.x takes (params, resultSchema, options), its default schema when given undefined; 2.x takes (params, options).
    const result = sdk === "1" ? await client.callTool(params, undefined, options) : await client.callTool(params, options);
    return { kind: "result", isError: result.isError ?? false, text: result.content?.[0]?.text ?? null };
  }
  if (kind === "prompt") {
    const result = await client.getPrompt(params, options);
    return { kind: "result", isError: false, text: result.messages?.[0]?.content?.text ?? null };
  }
  const result = await client.readResource(params, options);
  return { kind: "result", isError: false, text: result.contents?.[0]?.text ?? null };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const client = await connect(options);
  try {
    await client.listTools(); // as a host does first (the 2.x client checks structured output against it)
    const answers = [];
    for (const [path, kind, params] of PATHS) {
      const started = performance.now();
      let outcome;
      try {
        outcome = await answer(client, options.sdk, kind, params);
      } catch (error) {
        outcome = { kind: "error", code: error?.code ?? null, message: String(error?.message ?? error) };
      }
      answers.push({ path, ms: Math.round(performance.now() - started), ...outcome });
    }
    const era = options.sdk === "2" ? client.getProtocolEra() : "legacy";
    process.stdout.write(`${JSON.stringify({ era, answers })}\n`);
  } finally {
    await client.close().catch(() => {});
  }
}

run("errors.mjs", main);
