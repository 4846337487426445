// Writes the prepared training data (tokenizer trained on the training split + uint16 token streams) to a
// folder that a GPU host without node_modules can read:  npx tsx bench/train-data.ts .train-data [vocab]
import {prepareData, savePrepared} from "../src/node/train-data.js";

const dir = process.argv[2] ?? ".train-data";
const vocab = Number(process.argv[3] ?? 4096);
const t0 = performance.now();
const d = prepareData(vocab);
savePrepared(dir, d);
console.log(JSON.stringify({dir, ...d.info, valYears: undefined, seconds: (performance.now() - t0) / 1000}));
