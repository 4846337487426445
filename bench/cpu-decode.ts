// CPU reference decode speed on a ~4M-parameter random model (hidden 256, 4 layers, FFN 688, vocab 4096):
// prefill 16 tokens, then time greedy decode steps. One line per variant, or --json.
//   npx tsx bench/cpu-decode.ts [--steps 64] [--variant b1.58] [--json]
import {VARIANTS, defaultConfig} from "../src/lib/config.js";
import type {Variant} from "../src/lib/config.js";
import {argmax} from "../src/lib/generate.js";
import {randomWeights} from "../src/lib/init.js";
import {createCpuSession, parameterCounts} from "../src/lib/model.js";

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const steps = Number(flag("steps") ?? 64);
const only = flag("variant");
const json = argv.includes("--json");
const variants = only ? [only as Variant] : VARIANTS;
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer`);
if (only && !VARIANTS.includes(only as Variant)) throw new Error(`--variant must be one of ${VARIANTS.join(", ")}`);

const results = [];
for (const v of variants) {
  // v2's Hadamard needs FFN 688 = 43·16: block-diagonal plan (see src/lib/hadamard.ts).
  const config = defaultConfig(v, {
    hidden_size: 256,
    num_hidden_layers: 4,
    intermediate_size: 688,
    vocab_size: 4096,
    max_position_embeddings: 256,
  });
  const weights = randomWeights(config, 7);
  const session = createCpuSession(weights);
  const prompt = Array.from({length: 16}, (_, i) => (i * 37 + 1) % config.vocab_size);
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    session.reset();
    let logits = session.appendSync(prompt);
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) logits = session.appendSync([argmax(logits)]);
    runs.push((steps * 1000) / (performance.now() - t0));
  }
  runs.sort((a, b) => a - b);
  const row = {
    variant: v,
    parameters: parameterCounts(config).total,
    steps,
    tokensPerSecond: +runs[1].toFixed(1),
    runs: runs.map((x) => +x.toFixed(1)),
  };
  results.push(row);
  if (!json)
    console.log(
      `${v.padEnd(6)} ${row.parameters.toLocaleString("en-US")} params: ${row.tokensPerSecond} tokens/s (median of 3 × ${steps} decode steps after a 16-token prefill; runs ${row.runs.join(", ")})`,
    );
}
if (json) console.log(JSON.stringify({node: process.version, results}, null, 2));
