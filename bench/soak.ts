// Soak (issue 22): generate N tokens through the CLI's own path (readModelPath → textCodec → openCliSession →
// generate) on the CPU reference or WebGPU, in context-sized rounds on one session (reset between rounds, as a
// long chat that starts over would), sampling memory every --every tokens. A leak shows as RSS/heap growing
// with tokens; flat means bounded. Also runs the CLI command itself per round (--cli) to catch per-invocation
// leaks (sessions or devices never freed).
//   npx tsx bench/soak.ts [--model data/models/b1.58] [--backend cpu|webgpu] [--tokens 2000] [--every 50] [--cli]
// Writes bench/results/soak-<backend>[-cli].json.
import {mkdirSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {parseArgs} from "node:util";
import {runCli} from "../scripts/probe.js";
import {generate} from "../src/lib/generate.js";
import {readModelPath} from "../src/node/files.js";
import {codecContext, openCliSession, textCodec, type CliBackend} from "../src/node/runtime.js";

const {values: a} = parseArgs({
  options: {
    model: {type: "string", default: "data/models/b1.58"},
    backend: {type: "string", default: "cpu"},
    tokens: {type: "string", default: "2000"},
    every: {type: "string", default: "50"},
    cli: {type: "boolean", default: false},
  },
});
const backend = a.backend as CliBackend;
const total = Number(a.tokens);
const every = Number(a.every);
const PROMPT = "The state of the Union";

interface Sample {
  tokens: number;
  seconds: number;
  rssMB: number;
  heapMB: number;
  externalMB: number;
}
const samples: Sample[] = [];
const t0 = performance.now();
const mb = (b: number) => +(b / 2 ** 20).toFixed(1);
function sample(tokens: number): void {
  global.gc?.();
  const m = process.memoryUsage();
  samples.push({
    tokens,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    rssMB: mb(m.rss),
    heapMB: mb(m.heapUsed),
    externalMB: mb(m.external + m.arrayBuffers),
  });
  const s = samples.at(-1)!;
  console.error(
    `${String(tokens).padStart(6)} tokens  ${s.seconds.toFixed(1).padStart(7)} s  rss ${s.rssMB} MB  heap ${s.heapMB} MB  external ${s.externalMB} MB`,
  );
}

let done = 0;
sample(0);
if (a.cli) {
  // The CLI command per round: everything it opens must be freed when it returns.
  while (done < total) {
    const n = Math.min(200, total - done);
    const r = await runCli([
      "generate",
      a.model!,
      "--prompt",
      PROMPT,
      "--max-tokens",
      String(n),
      "--backend",
      backend,
      "--json",
    ]);
    if (r.code !== 0) throw new Error(`generate exited ${r.code}: ${r.err}`);
    done += (JSON.parse(r.out) as {tokens: number[]}).tokens.length;
    sample(done);
  }
} else {
  const m = await readModelPath(a.model!);
  const codec = textCodec(m.tokenizer, m.weights.config, codecContext(m));
  const ids = codec.encode(PROMPT);
  const room = m.weights.config.max_position_embeddings - ids.length;
  const session = await openCliSession(m.weights, backend, {maxLength: m.weights.config.max_position_embeddings});
  try {
    while (done < total) {
      const r = await generate(session, ids, {
        maxTokens: Math.min(room, total - done),
        sampling: {temperature: 0.8, topK: 40, topP: 0.95, seed: done, vocabLimit: codec.vocabSize},
        onToken: () => {
          done++;
          if (done % every === 0) sample(done);
        },
      });
      if (!r.tokens.length) throw new Error("no tokens generated");
    }
  } finally {
    session.dispose();
  }
}
const first = samples[1] ?? samples[0];
const last = samples.at(-1)!;
const summary = {
  backend,
  mode: a.cli ? "cli" : "session",
  model: a.model,
  tokens: done,
  seconds: last.seconds,
  tokensPerSecond: +(done / last.seconds).toFixed(2),
  rssGrowthMB: +(last.rssMB - first.rssMB).toFixed(1),
  heapGrowthMB: +(last.heapMB - first.heapMB).toFixed(1),
  node: process.version,
  gcExposed: typeof global.gc === "function",
  samples,
};
mkdirSync("bench/results", {recursive: true});
const out = join("bench/results", `soak-${backend}${a.cli ? "-cli" : ""}.json`);
writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
console.error(
  `${done} tokens in ${last.seconds} s; rss ${first.rssMB} → ${last.rssMB} MB, heap ${first.heapMB} → ${last.heapMB} MB (from the first sample after start); wrote ${out}`,
);
process.exit(0);
