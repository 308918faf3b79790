// Drives runbridge over stdio with the official TypeScript MCP client, the way a Node-based host would.
//
//   node tests/interop/drive.mjs [--target approval-demo] [--answer accept] -- COMMAND [ARGS...]
//
// COMMAND ARGS start the server (e.g. `python -m runbridge serve`); it inherits this process's environment, so
// RUNBRIDGE_CONFIG and the backend key pass through. The client declares elicitation and answers every question
// with {decision: <answer>}, lists the tools, starts the target with a progress handler, subscribes to the run's
// resource (waiting up to 5 s for word that it changed), and prints one JSON summary on stdout: {protocolVersion,
// server, tools, progress, elicitations, isError, status, decision, runId, subscribe, updates, stderr}.
// Exit status 1 (message on stderr) if anything fails on the way.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CallToolResultSchema,
  ElicitRequestSchema,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

import { parseArgs, recordedStdio, run } from "./driver.mjs";

const USAGE = "usage: node drive.mjs [--target ID] [--answer VALUE] -- COMMAND [ARGS...]";

async function main() {
  const options = parseArgs(process.argv.slice(2), { target: "approval-demo", answer: "accept" }, USAGE);
  const { transport, seen } = recordedStdio(options);

  const client = new Client({ name: "runbridge-interop", version: "0.0.0" }, { capabilities: { elicitation: {} } });
  const elicitations = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params.message);
    return { action: "accept", content: { decision: options.answer } };
  });

  const updates = [];
  let updated = () => {};
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    updates.push(notification.params.uri);
    updated();
  });

  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    let progress = 0;
    const result = await client.callTool(
      { name: "runs_start", arguments: { target_id: options.target } },
      CallToolResultSchema,
      {
        onprogress: () => {
          progress += 1;
        },
        timeout: 60_000,
        resetTimeoutOnProgress: true,
      },
    );
    const report = result.structuredContent ?? {};
    // The run is over, so its resource changes no more: the subscription is told once, that it ended.
    const heard = new Promise((resolve) => {
      updated = resolve;
      setTimeout(resolve, 5_000);
    });
    await client.subscribeResource({ uri: `runbridge://sandbox/runs/${report.run_id}` });
    await heard;
    const summary = {
      protocolVersion: seen.protocolVersion,
      server: client.getServerVersion()?.name ?? null,
      tools: tools.map((tool) => tool.name),
      progress,
      elicitations,
      isError: result.isError ?? false,
      status: report.status ?? null,
      decision: report.decision ?? null,
      runId: report.run_id ?? null,
      subscribe: client.getServerCapabilities()?.resources?.subscribe ?? false,
      updates,
    };
    await client.close();
    process.stdout.write(`${JSON.stringify({ ...summary, stderr: seen.stderr })}\n`);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
}

run("drive.mjs", main);
