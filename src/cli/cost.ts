// `bitnet-lab cost`: memory, bandwidth-bound latency, energy and batch throughput of a model, or the
// paper-vs-model reproduction table (--reproduce).
import {existsSync, readFileSync, statSync} from "node:fs";
import {join} from "node:path";
import type {Command, ParsedArgs} from "./command.js";
import {UsageError, expectPositionals, flagBool, flagNumber, flagString} from "./command.js";
import type {BitNetConfig} from "../lib/config.js";
import {
  HARDWARE,
  PRECISIONS,
  SHAPES,
  costReport,
  findShape,
  fmtBytes,
  fmtJ,
  fmtMs,
  fmtParams,
  fmtPercent,
  fmtSig,
  fmtValue,
  getHardware,
  isPrecisionId,
  precision,
  reproductionTable,
  shapeFromConfig,
} from "../lib/cost.js";
import type {CostReport, ModelShape, PrecisionId, ReproGroup, ReproRow} from "../lib/cost.js";
import type {ProcessNode} from "../lib/paper-tables.js";

const GROUPS: readonly ReproGroup[] = ["memory", "energy", "latency", "throughput", "sparsity"];

/** A catalog name, a config.json, or a folder holding one. */
export function resolveModel(spec: string): {shape: ModelShape; maxContext?: number} {
  const known = findShape(spec);
  if (known) return {shape: known};
  const looksLikePath = spec.includes("/") || spec.endsWith(".json") || existsSync(spec);
  if (!looksLikePath) {
    throw new UsageError(
      `--model: unknown model "${spec}"; give one of ${SHAPES.map((s) => s.id).join(", ")}, a config.json or a model folder`,
    );
  }
  if (!existsSync(spec)) throw new UsageError(`--model: ${spec} does not exist`);
  const file = statSync(spec).isDirectory() ? join(spec, "config.json") : spec;
  if (!existsSync(file)) throw new UsageError(`--model: ${spec} is a folder without config.json`);
  let json: unknown;
  const notConfig = (why: string) =>
    new Error(
      `--model: ${file} is not a cost-model config (${why}): give a model's config.json, its folder, or a name from \`bitnet-lab cost --list\`${/\.gguf$/i.test(file) ? "; for a .gguf, `bitnet-lab convert " + file + " --to hf --out DIR` writes a folder with config.json" : ""}`,
    );
  if (/\.(gguf|safetensors|bin)$/i.test(file)) throw notConfig("it is a weights file");
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw notConfig(`not valid JSON: ${e instanceof Error ? e.message.slice(0, 80) : String(e)}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new Error(`${file}: expected a JSON object (a BitNetConfig)`);
  const c = json as BitNetConfig;
  const shape = shapeFromConfig(c, spec, file);
  const maxContext = typeof c.max_position_embeddings === "number" ? c.max_position_embeddings : undefined;
  return {shape, maxContext};
}

function parsePrecisions(spec: string): PrecisionId[] {
  const ids = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new UsageError("--precision needs at least one name");
  for (const id of ids) {
    if (!isPrecisionId(id))
      throw new UsageError(`--precision: unknown "${id}"; known: ${Object.keys(PRECISIONS).join(", ")}`);
  }
  return ids as PrecisionId[];
}

function table(header: string[], rows: string[][], right: boolean[] = []): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i])))
      .join("  ")
      .trimEnd();
  return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

function printReports(reports: CostReport[]): void {
  const r0 = reports[0];
  const s = r0.shape,
    n = r0.params,
    o = r0.options;
  console.log(
    `${s.label}: C ${s.hidden}, FFN ${s.ffn}, ${s.layers} layers, ${s.heads} heads (${s.kvHeads} KV, head ${s.headDim}), vocab ${s.vocab}${s.tiedEmbedding ? ", tied embedding" : ""}`,
  );
  console.log(
    `  parameters: ${fmtParams(n.total)} (${fmtParams(n.linear)} in projections, ${fmtParams(n.embedding)} embedding)`,
  );
  console.log(`  shape source: ${s.source}`);
  console.log(
    `  context ${o.context}, batch ${o.batch}, ${o.bandwidthGBps} GB/s${o.memoryGB ? `, ${o.memoryGB} GB` : ""}, energy at ${o.node}\n`,
  );
  const header = [
    "precision",
    "weights",
    "KV cache",
    "total",
    "ms/step",
    "tokens/s",
    "energy/token",
    "mult-free",
    ...(o.memoryGB ? ["max batch"] : []),
  ];
  const rows = reports.map((r) => [
    r.precision.label,
    fmtBytes(r.memory.weights),
    fmtBytes(r.memory.kvCache),
    fmtBytes(r.memory.total),
    fmtMs(r.decode.stepMs),
    fmtSig(r.decode.tokensPerSecond, 4),
    fmtJ(r.energyPerToken.totalJ),
    `${(100 * r.energyPerToken.multiplicationFreeShare).toFixed(1)}%`,
    ...(o.memoryGB ? [String(r.maxBatch)] : []),
  ]);
  console.log(table(header, rows, [false, true, true, true, true, true, true, true, true]));
  console.log(
    "\nms/step = bytes per decode step / bandwidth (a bound: no launch overheads, kernels at peak bandwidth).",
  );
}

function printReproduction(rows: ReproRow[]): void {
  const body = rows.map((r) => [
    r.within ? "yes" : "NO",
    r.quantity,
    `${fmtValue(r.paper, r.unit, 4)}${r.secondary ? "*" : ""}`,
    fmtValue(r.model, r.unit, 4),
    r.unit,
    fmtPercent(r.deviation),
    r.source,
  ]);
  console.log(
    table(["ok", "quantity", "paper", "model", "unit", "dev", "source"], body, [
      false,
      false,
      true,
      true,
      false,
      true,
      false,
    ]),
  );
  const misses = rows.filter((r) => !r.within);
  console.log(
    `\n${rows.length - misses.length} of ${rows.length} within tolerance. * = read off a figure by a third party.`,
  );
  if (misses.length) {
    console.log("\nWhy the others miss:");
    for (const r of misses) console.log(`- ${r.quantity}: ${r.whyNot}`);
  }
}

export const cost: Command = {
  name: "cost",
  summary: "memory, latency, energy and throughput from a model's shape and bits; --reproduce: paper vs model",
  usage:
    "bitnet-lab cost --model <name|config.json|folder> [--precision fp16,b1.58,a4.8] [--context N] [--batch B] " +
    "[--bandwidth GBps | --hardware a100-80|a100-40|h100] [--memory GB] [--node 7nm|45nm] [--json]\n" +
    "       bitnet-lab cost --reproduce [--group memory|energy|latency|throughput|sparsity] [--json]\n" +
    "       bitnet-lab cost --list",
  options: {
    model: "string",
    json: "boolean",
    context: "string",
    batch: "string",
    bandwidth: "string",
    memory: "string",
    hardware: "string",
    precision: "string",
    node: "string",
    reproduce: "boolean",
    group: "string",
    list: "boolean",
  },
  async run(args: ParsedArgs): Promise<number> {
    expectPositionals(args, []);
    const json = flagBool(args, "json");
    if (flagBool(args, "list")) {
      if (json) console.log(JSON.stringify(SHAPES, null, 2));
      else
        console.log(
          table(
            ["model", "params", "shape source"],
            SHAPES.map((s) => {
              return [
                s.id,
                fmtParams(
                  costReport(s, precision("fp16"), {context: 0, batch: 1, bandwidthGBps: 1, node: "7nm"}).params.total,
                ),
                s.source,
              ];
            }),
          ),
        );
      return 0;
    }
    if (flagBool(args, "reproduce")) {
      const group = flagString(args, "group");
      if (group !== undefined && !(GROUPS as readonly string[]).includes(group))
        throw new UsageError(`--group must be one of ${GROUPS.join(", ")}, got "${group}"`);
      const rows = reproductionTable().filter((r) => group === undefined || r.group === group);
      if (json) console.log(JSON.stringify(rows, null, 2));
      else printReproduction(rows);
      return 0;
    }
    const spec = flagString(args, "model");
    if (spec === undefined) throw new UsageError("--model is required (or --reproduce, or --list)");
    const {shape, maxContext} = resolveModel(spec);
    const hwId = flagString(args, "hardware");
    let hw;
    try {
      hw = hwId === undefined ? undefined : getHardware(hwId);
    } catch {
      throw new UsageError(`--hardware must be one of ${HARDWARE.map((h) => h.id).join(", ")}, got "${hwId}"`);
    }
    if (hw && args.flags.has("bandwidth")) throw new UsageError("give --bandwidth or --hardware, not both");
    const context = flagNumber(args, "context", maxContext ?? 2048, {min: 0, max: 10_000_000, integer: true});
    const batch = flagNumber(args, "batch", 1, {min: 1, max: 1_000_000, integer: true});
    const bandwidthGBps = flagNumber(args, "bandwidth", hw?.bandwidthGBps ?? getHardware("a100-80").bandwidthGBps, {
      min: 0.001,
      max: 1e6,
    });
    const memoryGB = args.flags.has("memory") ? flagNumber(args, "memory", 0, {min: 0.001, max: 1e6}) : hw?.memoryGB;
    const node = flagString(args, "node", "7nm")!;
    if (node !== "7nm" && node !== "45nm") throw new UsageError(`--node must be 7nm or 45nm, got "${node}"`);
    const ids = parsePrecisions(flagString(args, "precision", "fp16,b1.58,a4.8")!);
    const reports = ids.map((id) =>
      costReport(shape, precision(id), {context, batch, bandwidthGBps, memoryGB, node: node as ProcessNode}),
    );
    if (json) console.log(JSON.stringify(reports, null, 2));
    else printReports(reports);
    return 0;
  },
};
