// Hashes the WGSL text of the attention, RoPE/KV-write and linear builders over a broad sweep of configurations, so
// a refactor of a builder can show its text unchanged (issue 21): run before and after, compare the files.
//   npx tsx scripts/dev/wgsl-hash.ts OUT.txt
import {createHash} from "node:crypto";
import {writeFileSync} from "node:fs";
import * as att from "../../src/gpu/kernels/attention.js";
import * as rk from "../../src/gpu/kernels/rope-kv.js";
import * as lin from "../../src/gpu/kernels/linear.js";
const mods: Record<string, unknown>[] = [att, rk, lin];
const fn = (name: string) => {
  for (const m of mods) if (typeof m[name] === "function") return m[name] as (...a: unknown[]) => string;
  throw new Error(`no ${name}`);
};
const lines: string[] = [];
const h = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);
const run = (label: string, f: () => string) => {
  let out: string;
  try {
    out = f();
  } catch (e) {
    out = `ERR ${(e as Error).message}`;
  }
  lines.push(`${label} ${h(out)}`);
};
const kvs = [] as {bits: number; bosBits: number; store16: "f32" | "f16"}[];
for (const [bits, bosBits] of [
  [16, 16],
  [8, 8],
  [8, 16],
  [4, 4],
  [4, 8],
  [3, 3],
  [3, 16],
  [2, 8],
])
  for (const store16 of ["f32", "f16"] as const) kvs.push({bits, bosBits, store16});
const shapes = [
  [4, 4, 64],
  [8, 2, 64],
  [16, 4, 128],
  [20, 5, 64],
  [6, 3, 40],
  [32, 8, 128],
  [4, 1, 64],
  [12, 4, 96],
  [2, 2, 8],
  [8, 8, 32],
];
for (const [H, KV, d] of shapes)
  for (const kv of kvs) {
    for (const exact of [false, true])
      for (const fusedRope of [false, true])
        run(`attn ${H} ${KV} ${d} ${JSON.stringify(kv)} ${exact} ${fusedRope}`, () =>
          fn("attentionWGSL")({H, KV, d, kv, exact, fusedRope}),
        );
    for (const WG of [64, 128, 256])
      for (const exact of [false, true])
        run(`rope ${H} ${KV} ${d} ${JSON.stringify(kv)} ${WG} ${exact}`, () =>
          fn("ropeKVWGSL")({H, KV, d, kv, WG, exact}),
        );
  }
const nqs = [
  {n: 256, src: "plain", norm: true, hadamard: false, quant: "int8", inspect: false, sub: 0, WG: 64},
  {n: 256, src: "plain", norm: true, hadamard: false, quant: "int8", inspect: false, sub: 32, WG: 128},
  {n: 512, src: "attn", H: 8, d: 64, norm: true, hadamard: true, quant: "int8", inspect: false, sub: 0, WG: 64},
  {
    n: 512,
    src: "attn",
    H: 8,
    d: 64,
    attnFF: true,
    norm: true,
    hadamard: false,
    topK: 100,
    quant: "int8",
    inspect: false,
    sub: 32,
    WG: 64,
  },
  {n: 384, src: "plain", norm: true, hadamard: true, quant: "int4", inspect: false, sub: 0, WG: 128},
];
for (const kind of ["ternary", "f32", "f16"])
  for (const R of [1, 2, 4])
    for (const T of [1, 4, 8, 32])
      for (const MT of [1, 2, 4])
        for (const WG of [64, 128])
          for (const sub of [0, 32])
            for (const epilogue of ["store", "residual", "glu-relu2", "glu-silu"])
              for (const U of [undefined, 1, 2, 4]) {
                const c = {kind, R, T, MT, WG, sub, epilogue, U};
                run(`lin ${JSON.stringify(c)}`, () => fn("linearWGSL")(c));
                if (kind === "ternary" && MT === 1) {
                  run(`lin+stats ${JSON.stringify(c)}`, () => fn("linearWGSL")(c, undefined, true));
                  for (const nq of nqs)
                    for (const statsIn of [undefined, {parts: 7}])
                      for (const so of [false, true])
                        run(
                          `lin+fused ${JSON.stringify(c)} ${JSON.stringify(nq)} ${JSON.stringify(statsIn)} ${so}`,
                          () => fn("linearWGSL")(c, {prologue: {...nq, WG}, statsIn}, so),
                        );
                }
              }
writeFileSync(process.argv[2], lines.join("\n") + "\n");
console.log(`${lines.length} configs, total ${h(lines.join("\n"))}`);
