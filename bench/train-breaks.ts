// "What breaks for ternary" measured outside the page (a benchmark that prints numbers, not a test): each change to
// the b1.58 recipe alone, trained by the Train page's own TwinRun (tiny model, the page's training sample and
// held-out years from the build, the page's default LR, seed 1) beside the unchanged b1.58 and the fp twin. Prints
// one JSON line per change: mean training loss of the last 20 steps and the validation losses.
//
//   npm run build && STEPS=100 BACKEND=wasm npx tsx bench/train-breaks.ts [CASES=lowlr,ema=0.99]
import {readdirSync, readFileSync} from "node:fs";
import {TwinRun} from "../src/app/train/twin-run.js";
import {PAPER_RECIPE, breaksResult, type TernaryChanges} from "../src/lib/chapters/train-breaks.js";
import {splitDocuments, tokenizeDocuments} from "../src/lib/corpus.js";
import {Tokenizer} from "../src/lib/tokenizer.js";
import {loadTf, type TfBackendName} from "../src/node/tfjs.js";

const tf = await loadTf((process.env.BACKEND ?? "wasm") as TfBackendName);
const built = (dir: string, prefix: string) => {
  const f = readdirSync(dir).find((x) => x.startsWith(prefix));
  if (!f) throw new Error(`${dir}${prefix}*: missing, run npm run build first`);
  return readFileSync(dir + f, "utf8");
};
const tok = Tokenizer.fromJSON(JSON.parse(readFileSync("data/models/b1.58/tokenizer.json", "utf8")));
const train = tokenizeDocuments(tok, splitDocuments(built("dist/_file/corpus/", "sotu-train")));
const val = tokenizeDocuments(tok, splitDocuments(built("dist/_file/data-train/", "sotu-val")));
const STEPS = Number(process.env.STEPS ?? 100);
const ALL: [string, Partial<TernaryChanges>][] = [
  ["lowlr", {lowLr: true}],
  ["wd=constant", {wd: "constant"}],
  ["wd=off", {wd: "off"}],
  ["ema=0.99", {ema: "0.99"}],
  ["late=30", {late: 30}],
  ["scale=e4m3", {scale: "e4m3"}],
  ["scale=f16", {scale: "f16"}],
];
const only = (process.env.CASES ?? "").split(",").filter(Boolean);
for (const [name, c] of only.length ? ALL.filter(([n]) => only.includes(n)) : ALL) {
  const t0 = Date.now();
  const changes = {...PAPER_RECIPE, ...c};
  const run = TwinRun.create(
    tf,
    {size: "tiny", steps: STEPS, lr: 0.005, seed: 1, vocabSize: tok.vocabSize, changes},
    {
      train,
      val,
    },
  );
  await run.run({yieldToPage: async () => {}});
  const r = breaksResult(run.points, run.evals, 20)!;
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  console.log(
    JSON.stringify({
      name,
      steps: STEPS,
      trainBase: r4(r.base),
      trainChanged: r4(r.changed),
      fp: r4(r.fp),
      valBase: r4(r.val!.base),
      valChanged: r4(r.val!.changed),
      evals: run.evals.map((e) => [e.step, r4(e.bitnet), r4(e.changed!)]),
      firstTernaryStep: run.points.find((p) => p.changedTernary)?.step,
      // training loss (papers', changed) of the steps around a full-precision → ternary switch
      aroundSwitch: c.late
        ? run.points
            .filter((p) => Math.abs(p.step - Math.round((c.late! / 100) * STEPS)) <= 3)
            .map((p) => [p.step, r4(p.bitnetLoss), r4(p.changedLoss!)])
        : undefined,
      seconds: (Date.now() - t0) / 1000,
    }),
  );
  run.dispose();
}
