// Accelerator entry (bundled by ../shared/gpu/prepare.sh bench/gpu.ts): the same benchmark as `bitnet-lab bench`.
//   on the GPU host: source .gpu/on-device.sh && node .gpu/gpu.mjs --json > result.json
import {parseArgs} from "../src/cli/command.js";
import {bench} from "../src/cli/bench.js";

const code = await Promise.resolve()
  .then(() => bench.run(parseArgs(process.argv.slice(2), bench.options)))
  .catch((e) => {
    console.error(`bench/gpu.ts: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  });
process.exit(code);
