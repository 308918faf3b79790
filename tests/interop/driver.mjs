// What the interop drivers share: their command line, a stdio transport that notes what a host would see, and how
// a driver ends when something fails on the way.

import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

/**
 * `--name value` options (each known by its default in `defaults`), then, with `command` (the default), `--` and the
 * command that starts the server: {...options, command, args}. Throws `usage` when the command is missing.
 */
export function parseArgs(argv, defaults, usage, { command: wantsCommand = true } = {}) {
  const options = { ...defaults };
  const split = wantsCommand ? argv.indexOf("--") : -1;
  const own = split === -1 ? argv : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  for (let i = 0; i < own.length; i += 2) {
    const key = own[i].replace(/^--/, "");
    if (!(key in options) || own[i + 1] === undefined) {
      throw new Error(`unknown or incomplete option ${own[i]}`);
    }
    options[key] = own[i + 1];
  }
  if (!wantsCommand) {
    return options;
  }
  if (command.length === 0) {
    throw new Error(usage);
  }
  return { ...options, command: command[0], args: command.slice(1) };
}

/**
 * A 1.x SDK stdio transport to `options.command options.args` (with this process's environment) and what it saw:
 * `seen.protocolVersion`, the version the client negotiated (the client hands it to HTTP transports; stdio has no
 * use for it, so it is recorded here), and `seen.stderr`, everything the server wrote on its stderr.
 */
export function recordedStdio(options) {
  const transport = new StdioClientTransport({
    command: options.command,
    args: options.args,
    env: { ...process.env },
    stderr: "pipe",
  });
  const seen = { protocolVersion: null, stderr: "" };
  transport.setProtocolVersion = (version) => {
    seen.protocolVersion = version;
  };
  transport.stderr?.on("data", (chunk) => {
    seen.stderr += chunk.toString();
  });
  return { transport, seen };
}

/** Runs `main`; when it fails, says why on stderr (prefixed with `name`) and exits with status 1. */
export function run(name, main) {
  main().catch((error) => {
    process.stderr.write(`${name}: ${error?.stack ?? error}\n`);
    process.exit(1);
  });
}
