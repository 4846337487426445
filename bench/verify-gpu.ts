// Accelerator entry (bundled by ../shared/gpu/prepare.sh bench/verify-gpu.ts): `bitnet-lab verify` as one bundle,
// so the GPU host checks the engine against the CPU reference on a real GPU.
//   on the GPU host: source .gpu/on-device.sh && node .gpu/verify-gpu.mjs data/models --json
import {parseArgs} from "../src/cli/command.js";
import {verify} from "../src/cli/verify.js";

const code = await Promise.resolve()
  .then(() => verify.run(parseArgs(process.argv.slice(2), verify.options)))
  .catch((e) => {
    console.error(`bench/verify-gpu.ts: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  });
process.exit(code);
