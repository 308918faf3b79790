// What Claude Desktop runs for a packed bundle: unpacks it with the official mcpb library, then resolves the
// manifest's mcp_config with the user's configuration (its ${__dirname} and ${user_config.*} variables), as the
// host does. Usage: node bundle_config.mjs BUNDLE.mcpb OUTPUT_DIR '{"openwop_base_url": "..."}'
// Prints {"command", "args", "env"} as JSON.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { getMcpConfigForManifest, unpackExtension } from "@anthropic-ai/mcpb";

const [bundle, outputDir, userConfigJson] = process.argv.slice(2);
if (!(await unpackExtension({ mcpbPath: bundle, outputDir, silent: true }))) {
  console.error(`could not unpack ${bundle}`);
  process.exit(1);
}
const manifest = JSON.parse(await readFile(path.join(outputDir, "manifest.json"), "utf8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: outputDir,
  systemDirs: {},
  userConfig: JSON.parse(userConfigJson),
  pathSeparator: path.sep,
});
if (config === undefined) {
  console.error("the bundle's configuration is incomplete");
  process.exit(1);
}
console.log(JSON.stringify(config));
