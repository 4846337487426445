// Accelerator entry (bundled by ../shared/gpu/prepare.sh bench/verify-gpu.ts): `bitnet-lab verify` as one bundle,
// so the GPU host checks the engine against the CPU reference on a real GPU — every model of the folder under every
// engine option set of src/cli/verify-options.ts that must give the reference's logits (EXACT_SETS: the defaults,
// the unfused kernels, the H100 bench's kernels on f32 storage, norm statistics, the prefill GEMM, the rows prefill)
// unless --options names some (--options all adds the f16-storage set), as JSON unless told otherwise.
//   on the GPU host: source .gpu/on-device.sh && node .gpu/verify-gpu.mjs data/models > verify.json
//   (exit 1 if any model × set fails)
import {parseArgs} from "../src/cli/command.js";
import {verify} from "../src/cli/verify.js";
import {EXACT_SETS} from "../src/cli/verify-options.js";

const argv = process.argv.slice(2);
if (!argv.some((a) => a === "--options" || a.startsWith("--options="))) argv.push("--options", EXACT_SETS.join(","));
if (!argv.includes("--json")) argv.push("--json");
const code = await Promise.resolve()
  .then(() => verify.run(parseArgs(argv, verify.options)))
  .catch((e) => {
    console.error(`bench/verify-gpu.ts: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  });
process.exit(code);
