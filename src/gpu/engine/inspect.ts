// EngineInspection: run the prefill pass with the compute pass split after each inspection point, copy the
// intermediates out, and turn the copies into per-layer arrays (the chapters draw from these).
import {kvLayout, type KVFormat} from "../kernels/kv-cache.js";
import {readBuffer} from "../gpu.js";
import type {Activations, LayerKV} from "./buffers.js";
import {actWords, type Plan} from "./plan.js";
import type {EngineInspection, InspectionLayer, Step} from "./types.js";

export interface InspectCopy {
  layer: number;
  what: string;
  buf: GPUBuffer;
  bytes: number;
  /** Kept on the GPU (a device-local copy, read back through a staging buffer only when asked for). */
  kept?: boolean;
}

/** Encodes `steps` (after the embedding) with copies of the requested layers' intermediates: into mappable buffers,
 *  or with `keep` into device-local buffers that stay on the GPU until a view asks for their layer (readCopies). */
export function encodeInspected(
  device: GPUDevice,
  enc: GPUCommandEncoder,
  P: Plan,
  A: Activations,
  steps: readonly Step[],
  M: number,
  layers: Set<number>,
  encode: (pass: GPUComputePassEncoder, s: readonly Step[]) => void,
  keep = false,
): InspectCopy[] {
  const hd = P.H * P.d;
  const copies: InspectCopy[] = [];
  const copy = (layer: number, what: string, src: GPUBuffer, bytes: number) => {
    const usage = keep
      ? GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST
      : GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
    const buf = device.createBuffer({size: Math.max(16, Math.ceil(bytes / 4) * 4), usage});
    enc.copyBufferToBuffer(src, 0, buf, 0, bytes);
    copies.push({layer, what, buf, bytes, kept: keep});
  };
  let pass = enc.beginComputePass();
  for (const s of steps) {
    if (s.after?.what === "qkv_in" && layers.has(s.after.layer)) {
      pass.end();
      copy(s.after.layer, "residual_in", A.h, M * P.C * 4);
      pass = enc.beginComputePass();
    }
    encode(pass, [s]);
    if (!s.after || !layers.has(s.after.layer)) continue;
    pass.end();
    const l = s.after.layer;
    const w = s.after.what;
    const n = ["qkv_in", "gate_up_in", "k_in", "v_in", "up_in"].includes(w)
      ? P.C
      : w === "o_in"
        ? hd
        : w === "down_in"
          ? P.F
          : 0;
    if (n) {
      copy(l, w + ":dbg", A.dbg!, M * 2 * n * 4);
      if (P.kind === "ternary") {
        copy(l, w + ":q", A.xin, M * actWords("ternary", n) * 4);
        copy(l, w + ":meta", A.xmeta, M * 8);
      }
    } else if (w === "qkv") copy(l, "qkv", A.qkv, M * P.qkvN * 4);
    else if (w === "glu") copy(l, "glu", A.inner, M * P.F * 4);
    else if (w === "residual") copy(l, "residual_out", A.h, M * P.C * 4);
    pass = enc.beginComputePass();
  }
  pass.end();
  return copies;
}

/** Reads copies back: mappable ones directly (and destroys them), kept ones through one staging buffer (they stay).
 *  Returns the data per copy and the bytes that crossed back to the CPU. */
export async function readCopies(
  device: GPUDevice,
  copies: readonly InspectCopy[],
): Promise<{data: ArrayBuffer[]; bytes: number}> {
  const kept = copies.filter((c) => c.kept);
  let staging: GPUBuffer | undefined;
  const at = new Map<InspectCopy, number>();
  if (kept.length) {
    let off = 0;
    for (const c of kept) {
      at.set(c, off);
      off += Math.ceil(c.bytes / 4) * 4;
    }
    staging = device.createBuffer({size: Math.max(16, off), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
    const enc = device.createCommandEncoder();
    for (const c of kept) enc.copyBufferToBuffer(c.buf, 0, staging, at.get(c)!, Math.ceil(c.bytes / 4) * 4);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
  }
  const range = staging?.getMappedRange();
  const data: ArrayBuffer[] = [];
  let bytes = 0;
  for (const cp of copies) {
    bytes += cp.bytes;
    if (cp.kept) {
      data.push(range!.slice(at.get(cp)!, at.get(cp)! + cp.bytes));
      continue;
    }
    await cp.buf.mapAsync(GPUMapMode.READ);
    data.push(cp.buf.getMappedRange().slice(0, cp.bytes));
    cp.buf.unmap();
    cp.buf.destroy();
  }
  staging?.unmap();
  staging?.destroy();
  return {data, bytes};
}

/** Reads the copies back into an EngineInspection of one block of M tokens (`bytes`: what was copied back). */
export async function collectInspection(
  device: GPUDevice,
  P: Plan,
  M: number,
  tokens: readonly number[],
  start: number,
  copies: InspectCopy[],
): Promise<EngineInspection & {bytes: number}> {
  const hd = P.H * P.d;
  const byLayer = new Map<number, Map<string, ArrayBuffer>>();
  const read = await readCopies(device, copies);
  copies.forEach((cp, i) => {
    if (!byLayer.has(cp.layer)) byLayer.set(cp.layer, new Map());
    byLayer.get(cp.layer)!.set(cp.what, read.data[i]);
  });
  const layers: InspectionLayer[] = [];
  for (const [layer, m] of [...byLayer.entries()].sort((a, b) => a[0] - b[0])) {
    // the norm-quant kernels write (pre, post) rows of 2n floats per token into dbg
    const dbgPart = (w: string, n: number, second: boolean) => {
      const all = new Float32Array(m.get(w + ":dbg")!);
      const out = new Float32Array(M * n);
      for (let t = 0; t < M; t++)
        out.set(all.subarray(t * 2 * n + (second ? n : 0), t * 2 * n + (second ? 2 * n : n)), t * n);
      return out;
    };
    const codes = (w: string, n: number) => {
      const raw = new Int8Array(m.get(w + ":q")!);
      const stride = actWords("ternary", n) * 4;
      const q = new Int8Array(M * n);
      for (let t = 0; t < M; t++) q.set(raw.subarray(t * stride, t * stride + n), t * n);
      const meta = new Float32Array(m.get(w + ":meta")!);
      const invScale = new Float32Array(M);
      for (let t = 0; t < M; t++) invScale[t] = 1 / meta[2 * t];
      return {q, invScale};
    };
    layers.push({
      layer,
      residualIn: new Float32Array(m.get("residual_in")!),
      qkvInput: dbgPart("qkv_in", P.C, true),
      qkv: new Float32Array(m.get("qkv")!),
      attnOut: dbgPart("o_in", hd, false),
      oInput: dbgPart("o_in", hd, true),
      gateUpInput: dbgPart("gate_up_in", P.C, true),
      glu: new Float32Array(m.get("glu")!),
      downInput: dbgPart("down_in", P.F, true),
      codes:
        P.kind === "ternary"
          ? {
              qkv: codes("qkv_in", P.C),
              o: codes("o_in", hd),
              gate_up: codes("gate_up_in", P.C),
              down: codes("down_in", P.F),
            }
          : undefined,
      residualOut: new Float32Array(m.get("residual_out")!),
      projInputs: m.has("k_in:dbg")
        ? Object.fromEntries(
            (["k", "v", "up"] as const).map((p) => [
              p,
              {input: dbgPart(`${p}_in`, P.C, true), codes: P.kind === "ternary" ? codes(`${p}_in`, P.C) : undefined},
            ]),
          )
        : undefined,
    });
  }
  return {start, tokens: [...tokens], layers, bytes: read.bytes};
}

/** Joins the inspections of consecutive blocks (codes are dropped: their per-block strides differ). */
export function joinInspections(parts: EngineInspection[], start: number, tokens: readonly number[]): EngineInspection {
  const cat = (i: number, k: keyof InspectionLayer) => {
    const arrs = parts.map((x) => x.layers[i][k] as Float32Array);
    const o = new Float32Array(arrs.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of arrs) {
      o.set(p, off);
      off += p.length;
    }
    return o;
  };
  const layers = parts[0].layers.map((l0, i) => {
    if (parts.length === 1) return l0;
    return {
      ...l0,
      residualIn: cat(i, "residualIn"),
      qkvInput: cat(i, "qkvInput"),
      qkv: cat(i, "qkv"),
      attnOut: cat(i, "attnOut"),
      oInput: cat(i, "oInput"),
      gateUpInput: cat(i, "gateUpInput"),
      glu: cat(i, "glu"),
      downInput: cat(i, "downInput"),
      residualOut: cat(i, "residualOut"),
      codes: undefined,
      projInputs: undefined,
    };
  });
  return {start, tokens: [...tokens], layers};
}

/** A layer's quantized KV cache as stored on the GPU, for `count` positions from `start` (WebGPUSession.inspectKV). */
export interface InspectedKV {
  /** Bits per position (the BOS token at position 0 may differ; 16 = stored as floats, no codes). */
  bits: number[];
  /** Unsigned codes [count, KV heads, d] of K and V (0 where a position is stored as floats). */
  k: Uint8Array;
  v: Uint8Array;
  /** Per vector [count, KV heads]: zero point (min) and step, as dequantization min + code · step. */
  kMin: Float32Array;
  kStep: Float32Array;
  vMin: Float32Array;
  vStep: Float32Array;
}

/** Reads back only positions [start, start + count) of one layer's K/V cache and unpacks their codes;
 *  `bits0` is what position 0 was stored with (the variant table's kvBitsAt for the session's first token). */
export async function readKV(
  device: GPUDevice,
  P: Plan,
  f: KVFormat,
  kv: LayerKV,
  start: number,
  count: number,
  bits0: number,
): Promise<{kv: InspectedKV; bytes: number}> {
  const lay = kvLayout(f, P.d, P.KV);
  const w0 = lay.offset(start, 0);
  const w1 = lay.offset(start + count - 1, P.KV - 1) + (start + count - 1 === 0 ? lay.bosWords : lay.words);
  const [kw, vw, km, vm] = await Promise.all([
    readBuffer(device, kv.K, (w1 - w0) * 4, w0 * 4).then((b) => new Uint32Array(b)),
    readBuffer(device, kv.V, (w1 - w0) * 4, w0 * 4).then((b) => new Uint32Array(b)),
    readBuffer(device, kv.Km, count * P.KV * 8, start * P.KV * 8).then((b) => new Float32Array(b)),
    readBuffer(device, kv.Vm, count * P.KV * 8, start * P.KV * 8).then((b) => new Float32Array(b)),
  ]);
  const n = count * P.KV * P.d,
    nv = count * P.KV;
  const out: InspectedKV = {
    bits: [],
    k: new Uint8Array(n),
    v: new Uint8Array(n),
    kMin: new Float32Array(nv),
    kStep: new Float32Array(nv),
    vMin: new Float32Array(nv),
    vStep: new Float32Array(nv),
  };
  for (let t = 0; t < count; t++) {
    const j = start + t;
    const bits = j === 0 ? bits0 : f.bits;
    out.bits.push(bits);
    if (bits >= 16) continue;
    const mask = (1 << bits) - 1;
    for (let g = 0; g < P.KV; g++) {
      const base = lay.offset(j, g) - w0;
      const vi = t * P.KV + g;
      out.kMin[vi] = km[2 * vi];
      out.kStep[vi] = km[2 * vi + 1];
      out.vMin[vi] = vm[2 * vi];
      out.vStep[vi] = vm[2 * vi + 1];
      for (let e = 0; e < P.d; e++) {
        const bit = e * bits;
        const wi = base + (bit >>> 5);
        const sh = bit & 31;
        for (const [words, dst] of [
          [kw, out.k],
          [vw, out.v],
        ] as const) {
          let code = words[wi] >>> sh;
          if (sh + bits > 32) code |= words[wi + 1] << (32 - sh);
          dst[vi * P.d + e] = code & mask;
        }
      }
    }
  }
  return {kv: out, bytes: 2 * (w1 - w0) * 4 + 2 * count * P.KV * 8};
}
