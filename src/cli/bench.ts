// `bitnet-lab bench [--json] [--quick] [--peers FILE]`: the WebGPU benchmark (src/gpu/measure/benchmark.ts) on this machine's GPU —
// copy ceiling, the 2B4T ternary linear stack vs dense f32/f16, end-to-end decode/prefill, Hadamard cost, and a
// CPU-vs-GPU check. Without a GPU, Dawn falls back to SwiftShader (use --quick there).
import type {Command, ParsedArgs} from "./command.js";
import {expectPositionals, flagBool} from "./command.js";
import {acquireGpu} from "../gpu/device.js";
import {formatBenchReport} from "../gpu/measure/bench-report.js";
import {runGpuBenchmark} from "../gpu/measure/benchmark.js";
import type {PeerResults} from "../gpu/measure/roofline.js";
import {readFileSync} from "node:fs";

export async function runBench(args: ParsedArgs): Promise<number> {
  expectPositionals(args, []);
  const json = flagBool(args, "json");
  const quick = flagBool(args, "quick");
  // --peers FILE: the peer harnesses' results of the same run ({torch, w2a8Cpp, e2e, wgsl}), printed beside ours
  const peersFile = args.flags.get("peers");
  const peers =
    typeof peersFile === "string" ? (JSON.parse(readFileSync(peersFile, "utf8")) as PeerResults) : undefined;
  // Dawn quantizes timestamps unless told not to; the benchmark needs them at full resolution.
  const ctx = await acquireGpu({dawnFlags: ["disable-dawn-features=timestamp_quantization"]});
  if (/swiftshader/i.test(ctx.description) && !quick)
    console.error(
      "bitnet-lab bench: this is SwiftShader (a CPU Vulkan): full shapes would take very long; use --quick",
    );
  const log = (line: string) => console.error(`bench: ${line}`);
  try {
    const report = await runGpuBenchmark(ctx, {quick, log, peers});
    console.log(json ? JSON.stringify(report, null, 2) : formatBenchReport(report));
  } finally {
    ctx.device.destroy();
  }
  return 0;
}

export const bench: Command = {
  name: "bench",
  summary:
    "WebGPU benchmark: copy ceiling, 2B4T ternary linear stack vs dense, end-to-end decode/prefill, Hadamard cost",
  usage: "bitnet-lab bench [--json] [--quick] [--peers FILE]",
  options: {json: "boolean", quick: "boolean", peers: "string"},
  run: runBench,
};
