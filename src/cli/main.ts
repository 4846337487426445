import {readFileSync} from "node:fs";
import {UsageError, parseArgs} from "./command.js";
import {commands} from "./commands.js";
import {vulkanDrivers} from "../node/gpu-env.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {version: string};

function help(): string {
  const width = Math.max(8, ...commands.map((c) => c.name.length));
  return [
    `bitnet-lab ${pkg.version} — BitNet b1.58 / a4.8 / v2 on the CPU and WebGPU`,
    "",
    "usage: bitnet-lab <command> [options]",
    "       bitnet-lab <command> --help",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "options:",
    "  --help       show this help",
    "  --version    print the version",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(pkg.version);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`bitnet-lab: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  vulkanDrivers(); // before any command starts Dawn
  try {
    const args = parseArgs(rest, command.options);
    if (args.flags.has("help")) {
      console.log(`usage: ${command.usage}\n\n${command.summary}`);
      return 0;
    }
    return await command.run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bitnet-lab ${name}: ${e.message}\nusage: ${command.usage}`);
      return 2;
    }
    console.error(`bitnet-lab ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
