// Test helper: writes a random checkpoint of any shape (2B4T's included) straight to disk as a sharded
// Hugging Face packed folder — config.json (linear_class autobitlinear), model-0000k-of-0000n.safetensors,
// model.safetensors.index.json — one tensor at a time, so even the 1.2 GB full-size model never sits in
// memory. Random but well-formed: packed bytes hold codes {0,1,2} only, weight_scale ≈ mean|W| of a
// N(0, 1/in) latent (multiplying convention), BF16 embedding N(0, ~0.1), unit BF16 norms.
import {closeSync, mkdirSync, openSync, writeFileSync, writeSync} from "node:fs";
import {join} from "node:path";
import {configToJSON, expectedTensors} from "../../src/lib/checkpoint.js";
import type {BitNetConfig} from "../../src/lib/config.js";
import {packedRows} from "../../src/lib/pack.js";

// the 81 bytes whose four 2-bit fields are all valid codes
const VALID = (() => {
  const v: number[] = [];
  for (let b = 0; b < 256; b++) if ([0, 2, 4, 6].every((s) => ((b >> s) & 3) !== 3)) v.push(b);
  return Uint8Array.from(v);
})();

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

interface Entry {
  name: string;
  dtype: "U8" | "BF16";
  shape: number[];
  bytes: number;
  fill: (out: Uint8Array) => void;
}

export function randomCheckpointEntries(config: BitNetConfig, seed: number): Entry[] {
  const rnd = xorshift(seed);
  const out: Entry[] = [];
  const bf16 = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16;
  for (const e of expectedTensors(config)) {
    if (e.kind === "linear") {
      const [rows, cols] = e.shape as [number, number];
      out.push({
        name: e.name,
        dtype: "U8",
        shape: [packedRows(rows), cols],
        bytes: packedRows(rows) * cols,
        fill: (b) => {
          for (let i = 0; i < b.length; i += 4) {
            const r = rnd();
            b[i] = VALID[(r & 0xff) % 81];
            if (i + 1 < b.length) b[i + 1] = VALID[((r >>> 8) & 0xff) % 81];
            if (i + 2 < b.length) b[i + 2] = VALID[((r >>> 16) & 0xff) % 81];
            if (i + 3 < b.length) b[i + 3] = VALID[(r >>> 24) % 81];
          }
        },
      });
      const s = bf16(0.8 / Math.sqrt(cols));
      out.push({
        name: e.name.replace(/\.weight$/, ".weight_scale"),
        dtype: "BF16",
        shape: [1],
        bytes: 2,
        fill: (b) => {
          b[0] = s & 255;
          b[1] = s >> 8;
        },
      });
    } else if (e.shape.length === 1) {
      out.push({
        name: e.name,
        dtype: "BF16",
        shape: [...e.shape],
        bytes: e.shape[0] * 2,
        fill: (b) => {
          for (let i = 0; i < b.length; i += 2) {
            b[i] = 0x80;
            b[i + 1] = 0x3f;
          }
        },
      });
    } else {
      const n = (e.shape as number[]).reduce((a, x) => a * x, 1);
      out.push({
        name: e.name,
        dtype: "BF16",
        shape: [...e.shape],
        bytes: n * 2,
        fill: (b) => {
          // sign, exponent 2^-7 … 2^-2, random mantissa: |x| < 0.25
          for (let i = 0; i < b.length; i += 2) {
            const r = rnd();
            const exp = 120 + ((r >>> 8) % 6);
            const bits = ((r >>> 31) << 15) | (exp << 7) | (r & 0x7f);
            b[i] = bits & 255;
            b[i + 1] = bits >> 8;
          }
        },
      });
    }
  }
  return out;
}

/** Writes the checkpoint into `dir` as `shards` safetensors files plus the index; returns bytes written. */
export function writeRandomCheckpoint(
  dir: string,
  config: BitNetConfig,
  opts: {seed?: number; shards?: number; chunk?: number} = {},
): number {
  mkdirSync(dir, {recursive: true});
  const entries = randomCheckpointEntries(config, opts.seed ?? 1);
  const shards = Math.max(1, opts.shards ?? 2);
  const per = Math.ceil(entries.length / shards);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < shards; s++) {
    const part = entries.slice(s * per, (s + 1) * per);
    if (!part.length) continue;
    const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    const header: Record<string, unknown> = {__metadata__: {format: "pt"}};
    let off = 0;
    for (const e of part) {
      header[e.name] = {dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes]};
      off += e.bytes;
      weightMap[e.name] = file;
    }
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const hb = Buffer.from(json);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    const fd = openSync(join(dir, file), "w");
    try {
      writeSync(fd, len);
      writeSync(fd, hb);
      for (const e of part) {
        // big tensors in chunks of ≤ 64 MiB so memory stays bounded
        const chunk = opts.chunk ?? 64 << 20;
        for (let o = 0; o < e.bytes; o += chunk) {
          const b = new Uint8Array(Math.min(chunk, e.bytes - o));
          e.fill(b);
          writeSync(fd, b);
        }
      }
    } finally {
      closeSync(fd);
    }
    total += 8 + hb.length + off;
  }
  writeFileSync(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({metadata: {total_size: total}, weight_map: weightMap}, null, 1),
  );
  const cfg = configToJSON(config, {quantization: "packed", dtype: "bfloat16"});
  cfg.quantization_config = {quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "offline"};
  for (const k of Object.keys(cfg)) if (k.startsWith("bitnet_")) delete cfg[k]; // a foreign config, like the release's
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg, null, 2));
  return total;
}
