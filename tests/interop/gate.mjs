// Drives a gated run through runbridge over stdio with the official 2.x TypeScript client
// (`@modelcontextprotocol/client`) pinned to the 2026-07-28 era, where a gate is an `input_required` result the client
// fulfils through its elicitation handler and retries.
//
//   node tests/interop/gate.mjs --answers '[{"decision":"maybe"},{"decision":"accept"}]' [--target ID] -- COMMAND [ARGS...]
//
// The handler accepts with each of the answers in turn (then dismisses). Prints one JSON object: {era, elicitations
// (their messages), isError, status, decision, text}.

import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

import { parseArgs as parseDriverArgs, run } from "./driver.mjs";

function parseArgs(argv) {
  const usage = "usage: node gate.mjs [--answers JSON] [--target ID] -- COMMAND [ARGS...]";
  const options = parseDriverArgs(argv, { target: "approval-demo", answers: "[]" }, usage);
  return { ...options, answers: JSON.parse(options.answers) };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const transport = new StdioClientTransport({
    command: options.command,
    args: options.args,
    env: { ...process.env },
    stderr: "ignore",
  });
  const client = new Client(
    { name: "runbridge-interop-gate", version: "0.0.0" },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  const elicitations = [];
  client.setRequestHandler("elicitation/create", async (request) => {
    elicitations.push(request.params.message);
    const content = options.answers.shift();
    return content === undefined ? { action: "cancel" } : { action: "accept", content };
  });
  await client.connect(transport);
  try {
    const result = await client.callTool(
      { name: "runs_start", arguments: { target_id: options.target } },
      { timeout: 30_000 },
    );
    const report = result.structuredContent ?? {};
    const summary = {
      era: client.getProtocolEra(),
      elicitations,
      isError: result.isError ?? false,
      status: report.status ?? null,
      decision: report.decision ?? null,
      text: result.content?.[0]?.text ?? null,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await client.close().catch(() => {});
  }
}

run("gate.mjs", main);
