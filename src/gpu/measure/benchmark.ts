// The GPU benchmark behind `bitnet-lab bench` and bench/gpu.ts (the accelerator entry): copy-bandwidth ceiling,
// the ternary linear stack of BitNet b1.58 2B4T (30 layers of distinct random weights) against dense f32/f16
// GEMVs at the same shapes, end-to-end decode and prefill of a 2B4T-shaped model with weights generated on the
// GPU, the cost of v2's Hadamard transform inside H-BitLinear, and a CPU-vs-GPU correctness check on small models.
// DOM-free: the caller passes a device context (Node/Dawn or a browser).
import {defaultConfig, type BitNetConfig, type Variant} from "../../lib/config.js";
import type {Site} from "../../lib/variant.js";
import {argmax} from "../../lib/generate.js";
import {randomWeights} from "../../lib/init.js";
import {createCpuSession} from "../../lib/model.js";
import type {GpuContext} from "../device.js";
import {createSyntheticSession, createWebGPUSession} from "../engine.js";
import {gpuFill} from "../engine/gpu-fill.js";
import {bindGroup, pipelineChecked, storageBuffer, uniformBuffer, type Dispatch, now} from "../gpu.js";
import {rowVec4s, type Epilogue, type LinearConfig} from "../kernels/linear.js";
import {GEMM_SHAPES, type GemmShapeName} from "../kernels/linear-gemm.js";
import {copyDispatch} from "./microbench.js";
import {fitNormQuant, hadamardSignBits, normQuantBindings, normQuantWGSL} from "../kernels/normquant.js";
import {runSelfChecks} from "./selfcheck.js";
import {timeDispatches, type EncodeMode} from "./timing.js";
import {DEFAULT_PREFILL_GEMM, linearConfig, subgroupSize} from "../engine/tune.js";
import {comparePeers, decodeBytes, ROOFLINE_KINDS, rooflineRows} from "./roofline.js";
import {
  type BenchOptions,
  type BenchReport,
  type DecodeCandidate,
  type LinearResult,
  prefillShapeName,
  sig,
} from "./bench-report.js";
import {model2B4T, stackWeights, stackDispatches} from "./bench-stack.js";
import {formatDecodeWall, measureDecodeWall} from "./decode-wall.js";

export async function runGpuBenchmark(ctx: GpuContext, opts: BenchOptions = {}): Promise<BenchReport> {
  const t0 = now();
  const log = opts.log ?? (() => {});
  const quick = !!opts.quick;
  const device = ctx.device;
  const S = await subgroupSize(device);
  const reps = quick ? 2 : 10;
  // every measurement first runs ≥ 150 ms (clocks ramp up from idle) and then times submissions of ≥ 15 ms
  const TM = quick ? {} : {warmupMs: 150, targetMs: 15};
  const cfg2B = model2B4T("b1.58", quick, quick ? 512 : 2304);
  const d = cfg2B.head_dim!;
  const report: Partial<BenchReport> = {
    device: {
      description: ctx.description,
      subgroupSize: S,
      features: [...device.features].sort(),
      clock: ctx.caps.timestamps ? "timestamp" : "wall",
    },
    shape: {
      name: quick ? "quick (2B4T-like, shrunk)" : "BitNet b1.58 2B4T",
      hidden: cfg2B.hidden_size,
      ffn: cfg2B.intermediate_size,
      layers: cfg2B.num_hidden_layers,
      heads: cfg2B.num_attention_heads,
      kvHeads: cfg2B.num_key_value_heads,
      headDim: d,
      vocab: cfg2B.vocab_size,
    },
  };

  // bit-exactness on this device (cheap; first, so a broken section later cannot hide it)
  try {
    report.selfcheck = await runSelfChecks(device);
    for (const c of report.selfcheck)
      log(
        `selfcheck ${c.name}: ${c.mismatches}/${c.checked} differ${c.examples.length ? ": " + c.examples.join("; ") : ""}`,
      );
  } catch (e) {
    report.selfcheck = [];
    report.errors = [...(report.errors ?? []), `selfcheck: ${e instanceof Error ? e.message : String(e)}`];
  }

  // the cost of a dispatch itself: a tiny kernel 256 times, chained through one buffer or writing distinct ones
  {
    const tiny = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> b: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) { b[i] = b[i] * 0.5 + 1.0; }`;
    const pl = await pipelineChecked(device, tiny, "tiny");
    const one = storageBuffer(device, 256);
    const many = Array.from({length: 256}, () => storageBuffer(device, 256));
    const chained: Dispatch[] = many.map(() => ({pipeline: pl, bind: bindGroup(device, pl, [one]), grid: [1]}));
    const indep: Dispatch[] = many.map((b) => ({pipeline: pl, bind: bindGroup(device, pl, [b]), grid: [1]}));
    const tc = await timeDispatches(device, chained, {...TM, reps: quick ? 1 : 4});
    const ti = await timeDispatches(device, indep, {...TM, reps: quick ? 1 : 4});
    const tp = await timeDispatches(device, chained, {...TM, reps: quick ? 1 : 2, mode: "pass-per-dispatch"});
    report.dispatch = {
      chainedUs: (tc.ms * 1000) / 256,
      independentUs: (ti.ms * 1000) / 256,
      chainedPassPerDispatchUs: (tp.ms * 1000) / 256,
    };
    log(
      `dispatch: ${report.dispatch.chainedUs.toFixed(2)} µs chained, ${report.dispatch.independentUs.toFixed(2)} µs independent, ${report.dispatch.chainedPassPerDispatchUs.toFixed(2)} µs chained with a pass each`,
    );
    one.destroy();
    for (const b of many) b.destroy();
  }

  // (1) copy ceiling
  const copyBytes = quick ? 8 << 20 : 512 << 20;
  {
    const cp = await copyDispatch(device, copyBytes);
    const t = await timeDispatches(device, [cp.dispatch], {...TM, reps: quick ? 3 : 20});
    report.copy = {bytes: copyBytes, ms: t.ms, GBps: (2 * copyBytes) / (t.ms * 1e6)};
    report.device!.clock = t.clock;
    for (const b of cp.buffers) b.destroy();
    log(`copy: ${sig(report.copy.GBps)} GB/s (read+write of ${copyBytes >> 20} MiB, ${t.clock})`);
  }
  const copyGBps = report.copy!.GBps;

  // (2) ternary linear stack: a small sweep of kernel shapes, then the best one in other encodings
  const scratch: GPUBuffer[] = [];
  const tern = await stackWeights(device, cfg2B, "ternary", 1);
  const result = (c: Pick<LinearConfig, "R" | "T" | "WG" | "sub" | "U">, ms: number, bytes: number): LinearResult => ({
    config: {R: c.R, T: c.T, WG: c.WG, sub: c.sub, U: c.U ?? 1},
    msPerToken: ms,
    GBps: bytes / (ms * 1e6),
    ofCopy: bytes / (ms * 1e6) / copyGBps,
  });
  const TS = S && S <= 32 ? S : 8; // a whole subgroup along K where shuffles work
  // U 0 = automatic (a thread's whole share of a row requested at once); the first shape is measured again last
  // to show how much the GPU drifted over the sweep
  const shapes: {R: number; T: number; WG: number; U: number}[] = [
    {R: 4, T: TS, WG: 256, U: 0},
    {R: 4, T: TS, WG: 256, U: 1},
    {R: 2, T: TS, WG: 128, U: 0},
    {R: 2, T: TS, WG: 64, U: 0},
    {R: 4, T: TS, WG: 128, U: 0},
    {R: 4, T: 16, WG: 256, U: 0},
    {R: 8, T: TS, WG: 256, U: 0},
    {R: 4, T: TS, WG: 256, U: 0},
  ];
  const sweep: LinearResult[] = [];
  const mkCfg = (sh: {R: number; T: number; WG: number; U: number}) => (ep: Epilogue, K: number) => {
    const c = linearConfig(
      S,
      "ternary",
      ep,
      1,
      {decode: {R: sh.R, T: sh.T, WG: sh.WG, ...(sh.U ? {U: sh.U} : {})}},
      256,
      K,
    );
    return {...c, R: ep.startsWith("glu") && sh.R % 2 ? sh.R + 1 : sh.R};
  };
  for (const sh of quick ? shapes.slice(0, 3) : shapes) {
    const list = await stackDispatches(device, "ternary", tern, mkCfg(sh), false, scratch);
    const t = await timeDispatches(device, list, {...TM, reps});
    const r = result({...mkCfg(sh)("store", 2560), U: sh.U}, t.ms, tern.bytes);
    sweep.push(r);
    log(
      `ternary stack R=${sh.R} T=${sh.T} WG=${sh.WG} U=${sh.U || "auto"}: ${t.ms.toFixed(4)} ms/token, ${sig(r.GBps)} GB/s (${(r.ofCopy * 100).toFixed(0)}% of copy)`,
    );
    for (const b of scratch.splice(0)) b.destroy();
  }
  const best = sweep.reduce((a, b) => (b.msPerToken < a.msPerToken ? b : a));
  const bestShape = {R: best.config.R, T: best.config.T, WG: best.config.WG, U: best.config.U ?? 0};
  const bestCfg = mkCfg(bestShape);
  const listBest = await stackDispatches(device, "ternary", tern, bestCfg, false, scratch);
  const tPass = await timeDispatches(device, listBest, {...TM, reps, mode: "pass-per-dispatch" as EncodeMode});
  const listInd = await stackDispatches(device, "ternary", tern, bestCfg, true, scratch);
  const tInd = await timeDispatches(device, listInd, {...TM, reps});
  report.linear = {
    bytesPerToken: tern.bytes,
    sweep,
    best,
    passPerDispatch: result(best.config, tPass.ms, tern.bytes),
    independent: result(best.config, tInd.ms, tern.bytes),
  };
  log(
    `ternary stack best: ${best.msPerToken.toFixed(4)} ms/token; pass per dispatch ${tPass.ms.toFixed(4)}; independent ${tInd.ms.toFixed(4)}`,
  );
  for (const b of tern.W) b.destroy();
  for (const b of scratch.splice(0)) b.destroy();

  // (3) dense baselines at the same shapes
  const dense: Record<"f32" | "f16", {msPerToken: number; GBps: number}> = {
    f32: {msPerToken: 0, GBps: 0},
    f16: {msPerToken: 0, GBps: 0},
  };
  for (const kind of ["f32", "f16"] as const) {
    const st = await stackWeights(device, cfg2B, kind, 5);
    // a few kernel shapes for the baseline too, so the ratio is not against an untuned dense kernel
    let bestMs = Infinity;
    for (const sh of quick
      ? [{R: 4, T: TS, WG: 256, U: 1}]
      : [
          {R: 4, T: TS, WG: 256, U: 1},
          {R: 2, T: TS, WG: 128, U: 2},
          {R: 4, T: TS, WG: 256, U: 2},
          {R: 2, T: TS, WG: 256, U: 4},
        ]) {
      const list = await stackDispatches(
        device,
        kind,
        st,
        (ep, K) => ({
          ...linearConfig(S, kind, ep, 1, {decode: {R: sh.R, T: sh.T, WG: sh.WG, U: sh.U}}, 256, K),
          R: sh.R,
        }),
        false,
        scratch,
      );
      const t = await timeDispatches(device, list, {...TM, reps: quick ? 2 : 3});
      log(
        `dense ${kind} stack R=${sh.R} T=${sh.T} WG=${sh.WG} U=${sh.U}: ${t.ms.toFixed(3)} ms/token, ${sig(st.bytes / (t.ms * 1e6))} GB/s`,
      );
      bestMs = Math.min(bestMs, t.ms);
    }
    dense[kind] = {msPerToken: bestMs, GBps: st.bytes / (bestMs * 1e6)};
    for (const b of st.W) b.destroy();
    for (const b of scratch.splice(0)) b.destroy();
  }
  report.dense = {
    ...dense,
    speedupVsF32: dense.f32.msPerToken / best.msPerToken,
    speedupVsF16: dense.f16.msPerToken / best.msPerToken,
  };

  // (5) Hadamard inside H-BitLinear (v2): the W_o and W_down prologues with and without the rotation, and their GEMVs
  report.hadamard = [];
  for (const [n, rows] of [
    [cfg2B.num_attention_heads * d, cfg2B.hidden_size],
    [cfg2B.intermediate_size, cfg2B.hidden_size],
  ])
    try {
      const src = storageBuffer(
        device,
        new Float32Array(n).map((_, i) => Math.sin(i * 1.7)),
      );
      const normW = storageBuffer(device, new Float32Array(n).fill(1));
      const words = 16 * Math.ceil(n / 64);
      const out = storageBuffer(device, words * 4);
      const xmeta = storageBuffer(device, 16);
      const P = uniformBuffer(
        device,
        new Uint32Array([n, words, new Uint32Array(new Float32Array([1e-5]).buffer)[0], 0]),
      );
      const had = storageBuffer(device, hadamardSignBits(n));
      const prologue = async (hadamard: boolean) => {
        // as the engine builds it (fitNormQuant: f32 rotation where the float-float one does not fit the device)
        const c = fitNormQuant(
          {
            n,
            src: "plain",
            norm: true,
            hadamard,
            quant: "int8",
            inspect: false,
            sub: S,
            WG: Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup),
          },
          device.limits.maxComputeWorkgroupStorageSize,
        );
        const pl = await pipelineChecked(device, normQuantWGSL(c), "hadamard-prologue");
        const map: Record<string, GPUBuffer> = {P, src, normW, out, xmeta, had};
        return {
          pipeline: pl,
          bind: bindGroup(
            device,
            pl,
            normQuantBindings(c).map((k) => map[k]),
          ),
          grid: [1] as [number],
        };
      };
      const tWith = await timeDispatches(device, [await prologue(true)], {...TM, reps: quick ? 3 : 50});
      const tWithout = await timeDispatches(device, [await prologue(false)], {...TM, reps: quick ? 3 : 50});
      const st = {
        mats: [{N: rows, K: n, ep: "residual" as Epilogue}],
        W: [storageBuffer(device, rows * rowVec4s("ternary", n) * 16)],
      };
      await gpuFill(device, st.W[0], (rows * rowVec4s("ternary", n) * 16) / 4, 0, 3, 0);
      const gl = await stackDispatches(device, "ternary", st, bestCfg, false, scratch);
      const tG = await timeDispatches(device, gl, {...TM, reps: quick ? 3 : 50});
      const extra = Math.max(0, tWith.ms - tWithout.ms);
      report.hadamard.push({
        n,
        rows,
        prologueMs: tWithout.ms,
        prologueHadamardMs: tWith.ms,
        gemvMs: tG.ms,
        shareOfLayer: extra / (tWith.ms + tG.ms),
      });
      log(
        `hadamard n=${n}: prologue ${tWithout.ms.toFixed(4)} → ${tWith.ms.toFixed(4)} ms with the rotation, GEMV ${rows}×${n} ${tG.ms.toFixed(4)} ms: ${((100 * extra) / (tWith.ms + tG.ms)).toFixed(1)}% of the H-BitLinear layer`,
      );
      for (const b of [src, normW, out, xmeta, P, had, ...st.W, ...scratch.splice(0)]) b.destroy();
    } catch (e) {
      log(`hadamard n=${n}: ${e instanceof Error ? e.message : String(e)}`);
      report.errors = [...(report.errors ?? []), `hadamard n=${n}: ${e instanceof Error ? e.message : String(e)}`];
    }

  try {
    // (4) end-to-end decode and prefill of the 2B4T-shaped model (weights generated on the GPU)
    const contexts = quick ? [16, 64] : [128, 512, 2048];
    const prefillN = quick ? 32 : 512;
    // choose the decode configuration on the whole step: the three best stack shapes, fused and unfused prologues,
    // each timed at the middle context, twice, interleaved (a sweep of the bare stack alone picked shapes whose
    // decode steps differed by 60%)
    const cMid = contexts[Math.min(1, contexts.length - 1)];
    const ranked = [...sweep].sort((a, b) => a.msPerToken - b.msPerToken);
    const shapesE2E: {R: number; T: number; WG: number; U: number}[] = [];
    for (const r of ranked) {
      const sh = {R: r.config.R, T: r.config.T, WG: r.config.WG, U: r.config.U ?? 0};
      if (!shapesE2E.some((x) => x.R === sh.R && x.T === sh.T && x.WG === sh.WG && x.U === sh.U)) shapesE2E.push(sh);
    }
    const tuningOf = (sh: {R: number; T: number; WG: number; U: number}) => ({
      decode: {R: sh.R, T: sh.T, WG: sh.WG, ...(sh.U ? {U: sh.U} : {})},
    });
    const cands = shapesE2E
      .slice(0, quick ? 1 : 3)
      .flatMap((sh) => [true, false].map((fuse) => ({...sh, fuse, ms: [] as number[]})));
    const candSessions = [];
    for (const cd of cands) {
      const s = await createSyntheticSession(cfg2B, 11, {
        gpu: ctx,
        lmHead: "f16",
        kv16: "f16",
        maxBlock: 1,
        maxLength: cfg2B.max_position_embeddings,
        tuning: tuningOf(cd),
        fuse: cd.fuse,
      });
      s.setLengthForBenchmark(cMid - 1);
      candSessions.push(s);
    }
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < cands.length; i++) {
        const t = await timeDispatches(device, candSessions[i].decodeDispatches(), {...TM, reps: quick ? 2 : 10});
        cands[i].ms.push(t.ms);
      }
    }
    for (const s of candSessions.splice(0)) s.dispose();
    const score = (cd: {ms: number[]}) => Math.max(...cd.ms); // the worse of the two: prefer the stable one
    const best0 = cands.reduce((a, b) => (score(b) < score(a) ? b : a));
    // then, for that kernel shape, fusing the prologue at some sites only (fusing trades a dispatch for a whole-vector
    // prologue in every workgroup, which pays off differently for 2560-row and 13824-row linears)
    const subsets: Site[][] = quick
      ? []
      : [
          ["qkv"],
          ["gate_up"],
          ["down"],
          ["qkv", "gate_up"],
          ["qkv", "down"],
          ["gate_up", "down"],
          // W_o with its attention combine fused (fuseCombine)
          ["o", "down"],
          ["qkv", "o", "down"],
        ];
    const sub: DecodeCandidate[] = subsets.map((fuse) => ({
      R: best0.R,
      T: best0.T,
      WG: best0.WG,
      U: best0.U,
      fuse: fuse as boolean | Site[],
      ms: [] as number[],
    }));
    // prologues from the producers' norm statistics (issue 25): the RMSNorm → INT8 sites need no whole-vector prologue
    for (const fuse of [["down"], true, false] as (boolean | Site[])[])
      sub.push({R: best0.R, T: best0.T, WG: best0.WG, U: best0.U, fuse, normStats: true, ms: []});
    for (const cd of sub) {
      const s = await createSyntheticSession(cfg2B, 11, {
        gpu: ctx,
        lmHead: "f16",
        kv16: "f16",
        maxBlock: 1,
        maxLength: cfg2B.max_position_embeddings,
        tuning: tuningOf(cd),
        fuse: cd.fuse,
        normStats: cd.normStats,
      });
      s.setLengthForBenchmark(cMid - 1);
      candSessions.push(s);
    }
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < sub.length; i++)
        sub[i].ms.push(
          (await timeDispatches(device, candSessions[i].decodeDispatches(), {...TM, reps: quick ? 2 : 10})).ms,
        );
    }
    for (const s of candSessions) s.dispose();
    const all: DecodeCandidate[] = [...cands, ...sub];
    const chosenF = all.reduce((a, b) => (score(b) < score(a) ? b : a));
    // and the decode attention chunk (more, shorter chunks: more workgroups at short contexts, more partials to combine)
    for (const attnChunk of quick ? [] : [32, 16]) {
      const s = await createSyntheticSession(cfg2B, 11, {
        gpu: ctx,
        lmHead: "f16",
        kv16: "f16",
        maxBlock: 1,
        maxLength: cfg2B.max_position_embeddings,
        tuning: tuningOf(chosenF),
        fuse: chosenF.fuse,
        normStats: chosenF.normStats,
        attnChunk,
      });
      s.setLengthForBenchmark(cMid - 1);
      const ms: number[] = [];
      for (let round = 0; round < 2; round++)
        ms.push((await timeDispatches(device, s.decodeDispatches(), {...TM, reps: 10})).ms);
      s.dispose();
      all.push({...chosenF, attnChunk, ms});
    }
    const chosenC = all.reduce((a, b) => (score(b) < score(a) ? b : a));
    const chosen = {
      R: chosenC.R,
      T: chosenC.T,
      WG: chosenC.WG,
      U: chosenC.U,
      fuse: chosenC.fuse,
      normStats: !!chosenC.normStats,
      attnChunk: chosenC.attnChunk ?? 64,
    };
    const fuseName = (f: boolean | Site[], st?: boolean) =>
      (st ? "norm statistics, " : "") + (f === true ? "fused" : f === false ? "unfused" : `fused at ${f.join("+")}`);
    for (const cd of all)
      log(
        `decode config R=${cd.R} T=${cd.T} WG=${cd.WG} U=${cd.U || "auto"} ${fuseName(cd.fuse, cd.normStats)}${cd.attnChunk ? ` attnChunk ${cd.attnChunk}` : ""} @${cMid}: ${cd.ms.map((m) => m.toFixed(3)).join(" / ")} ms/token`,
      );
    log(
      `decode config chosen end to end: R=${chosen.R} T=${chosen.T} WG=${chosen.WG} U=${chosen.U || "auto"} ${fuseName(chosen.fuse, chosen.normStats)} attnChunk ${chosen.attnChunk}`,
    );
    const session = await createSyntheticSession(cfg2B, 11, {
      gpu: ctx,
      lmHead: "f16",
      kv16: "f16",
      maxBlock: prefillN,
      maxLength: cfg2B.max_position_embeddings,
      tuning: tuningOf(chosen),
      fuse: chosen.fuse,
      normStats: chosen.normStats,
      attnChunk: chosen.attnChunk,
    });
    const decode: NonNullable<BenchReport["e2e"]>["decode"] = [];
    let dispatchesPerToken = 0;
    let cpuEncode = 0;
    const breakdown: NonNullable<BenchReport["e2e"]>["breakdown"] = [];
    const passes: NonNullable<NonNullable<BenchReport["e2e"]>["passes"]> = [];
    // the first decode timing after building the sessions read 4.3–5.2 ms on an H100 (2.1–2.3 right after):
    // a discarded warm-up of ≥ 1 s first, printed so a run shows whether it was still needed
    session.setLengthForBenchmark(contexts[0] - 1);
    const warm = await timeDispatches(device, session.decodeDispatches(), {...TM, reps: 2, warmupMs: quick ? 0 : 1000});
    log(`decode warm-up @${contexts[0]}: ${warm.ms.toFixed(3)} ms/token (discarded)`);
    for (const c of contexts) {
      session.setLengthForBenchmark(c - 1);
      const full = session.decodeDispatches({layers: true, head: true, argmax: true});
      dispatchesPerToken = full.length;
      const head = session.decodeDispatches({head: true, argmax: true});
      const tFull = await timeDispatches(device, full, {...TM, reps: quick ? 2 : 10});
      const tHead = await timeDispatches(device, head, {...TM, reps: quick ? 2 : 10});
      const tPass = await timeDispatches(device, full, {...TM, reps: quick ? 2 : 5, mode: "pass-per-dispatch"});
      // wall clock: real chained decode steps (CPU encode + submit + 4-byte readback, up to 8 in flight), split
      const wall = await measureDecodeWall(session, c, quick ? {steps: 3, trials: 1, warmupMs: 0} : {});
      decode.push({
        context: c,
        gpuMsPerToken: tFull.ms,
        gpuTokensPerSec: 1000 / tFull.ms,
        wallTokensPerSec: 1000 / wall.msPerToken,
        lmHeadShare: tHead.ms / tFull.ms,
        passPerDispatchMsPerToken: tPass.ms,
        wall,
      });
      log(
        `decode @${c}: GPU ${tFull.ms.toFixed(3)} ms/token (${(1000 / tFull.ms).toFixed(0)} tok/s), wall ${(1000 / wall.msPerToken).toFixed(0)} tok/s, LM head ${((100 * tHead.ms) / tFull.ms).toFixed(0)}%, pass-per-dispatch ${tPass.ms.toFixed(3)} ms`,
      );
      log(`decode @${c}: ${formatDecodeWall(wall, tFull.ms)}`);
      if (c === cMid) {
        for (const {kind, tags} of ROOFLINE_KINDS) {
          const sub = session.decodeDispatches({
            layers: true,
            head: true,
            argmax: true,
            filter: (_l, tag) => tags.includes(tag.kind),
          });
          if (!sub.length) continue;
          const t = await timeDispatches(device, sub, {...TM, reps: quick ? 2 : 10});
          breakdown.push({kind, dispatches: sub.length, ms: t.ms});
        }
        log(`breakdown @${c}: ` + breakdown.map((b) => `${b.kind} ${b.ms.toFixed(3)} ms (${b.dispatches})`).join(", "));
        // passes per token: the same chained decode with the step split into more compute passes
        for (const n of quick ? [1, 2] : [1, 4, cfg2B.num_hidden_layers]) {
          session.passesPerToken = n;
          session.setLengthForBenchmark(c - 1);
          await session.decodeChain(1, 2);
          session.setLengthForBenchmark(c - 1);
          const q0 = now();
          await session.decodeChain(1, quick ? 3 : 32);
          passes.push({passesPerToken: n, wallMsPerToken: (now() - q0) / (quick ? 3 : 32)});
        }
        session.passesPerToken = 1;
        log(
          `passes per token (wall ms/token): ` +
            passes.map((p) => `${p.passesPerToken}: ${p.wallMsPerToken.toFixed(3)}`).join(", "),
        );
      }
      if (c === contexts[0]) {
        // CPU cost of encoding one step (JS → Dawn calls), no submit
        const n = quick ? 3 : 20;
        const e0 = now();
        for (let i = 0; i < n; i++) {
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          let last: GPUComputePipeline | undefined;
          for (const dsp of full) {
            if (dsp.pipeline !== last) pass.setPipeline((last = dsp.pipeline));
            pass.setBindGroup(0, dsp.bind);
            pass.dispatchWorkgroups(dsp.grid[0], dsp.grid[1] ?? 1, dsp.grid[2] ?? 1);
          }
          pass.end();
          enc.finish();
        }
        cpuEncode = (now() - e0) / n;
      }
    }
    // prefill: one block of prefillN tokens through the whole model, last-token logits → argmax on the GPU
    const prompt = Array.from({length: prefillN}, (_, i) => (i * 7919 + 13) % cfg2B.vocab_size);
    const timePrefill = async (s: typeof session) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        s.reset();
        const p0 = now();
        await s.appendAndSample(prompt); // the first run is the warm-up (pipelines, first touch)
        if (i > 0) best = Math.min(best, now() - p0);
      }
      return best;
    };
    let pms = await timePrefill(session);
    session.dispose();
    log(
      `prefill ${prefillN}: ${pms.toFixed(1)} ms (${((prefillN * 1000) / pms).toFixed(0)} tok/s), default (GEMM ${DEFAULT_PREFILL_GEMM})`,
    );
    // a few prefill shapes, each on its own session: linearWGSL's rows R × tokens MT per thread (T threads along K, WG
    // threads; gemm "none" opts out of the default GEMM), the old default R4 T8 MT8 WG128 first, and the tiled GEMM of
    // linear-gemm.ts by GEMM_SHAPES name (a shape over the device's workgroup memory fails with its reason in the log)
    const prefillSweep: NonNullable<NonNullable<BenchReport["e2e"]>["prefill"]["sweep"]> = [
      {gemm: DEFAULT_PREFILL_GEMM, ms: pms},
    ];
    const gemmShapes = (Object.keys(GEMM_SHAPES) as GemmShapeName[])
      .filter((g) => g !== DEFAULT_PREFILL_GEMM)
      .map((gemm) => ({gemm}));
    const rows = (sh: {R: number; T: number; MT: number; WG: number}) => ({...sh, gemm: "none" as const});
    for (const sh of quick
      ? [rows({R: 4, T: 8, MT: 8, WG: 128})]
      : [
          rows({R: 4, T: 8, MT: 8, WG: 128}),
          rows({R: 4, T: 4, MT: 8, WG: 128}),
          rows({R: 2, T: 8, MT: 16, WG: 128}),
          rows({R: 8, T: 8, MT: 4, WG: 256}),
          rows({R: 4, T: 8, MT: 8, WG: 256}),
          rows({R: 4, T: 16, MT: 8, WG: 256}),
          ...gemmShapes,
        ]) {
      try {
        const s = await createSyntheticSession(cfg2B, 11, {
          gpu: ctx,
          lmHead: "f16",
          kv16: "f16",
          maxBlock: prefillN,
          maxLength: prefillN + 1,
          tuning: {...tuningOf(chosen), prefill: sh},
          fuse: chosen.fuse,
        });
        const ms = await timePrefill(s);
        s.dispose();
        prefillSweep.push({...sh, ms});
        log(
          `prefill ${prefillN} ${prefillShapeName(sh)}: ${ms.toFixed(1)} ms (${((prefillN * 1000) / ms).toFixed(0)} tok/s)`,
        );
      } catch (e) {
        log(`prefill ${prefillShapeName(sh)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    pms = Math.min(...prefillSweep.map((x) => x.ms));
    // the same decode step without fusing the norm/quant prologues into the linears (two dispatches each)
    let unfused: {context: number; gpuMsPerToken: number; dispatchesPerToken: number} | undefined;
    {
      const plain = await createSyntheticSession(cfg2B, 11, {
        gpu: ctx,
        lmHead: "f16",
        kv16: "f16",
        maxBlock: 1,
        maxLength: cfg2B.max_position_embeddings,
        tuning: tuningOf(chosen),
        fuse: false,
        attnChunk: chosen.attnChunk,
      });
      const c = contexts[Math.min(1, contexts.length - 1)];
      plain.setLengthForBenchmark(c - 1);
      const list = plain.decodeDispatches();
      const t = await timeDispatches(device, list, {...TM, reps: quick ? 2 : 10});
      unfused = {context: c, gpuMsPerToken: t.ms, dispatchesPerToken: list.length};
      plain.dispose();
      log(`decode @${c} without fused prologues: ${t.ms.toFixed(3)} ms/token (${list.length} dispatches)`);
    }
    const e2e: NonNullable<BenchReport["e2e"]> = {
      config: `b1.58, ${cfg2B.num_hidden_layers} layers, hidden ${cfg2B.hidden_size}, FFN ${cfg2B.intermediate_size}, ${cfg2B.num_attention_heads}/${cfg2B.num_key_value_heads} heads of ${d}, vocab ${cfg2B.vocab_size} tied (f16 rows), KV f16, random ternary weights`,
      decode,
      breakdown,
      dispatchesPerToken,
      unfused,
      cpuEncodeMsPerToken: cpuEncode,
      decodeWarmupMs: warm.ms,
      choice: {context: cMid, candidates: all, chosen},
      roofline: rooflineRows(breakdown, decodeBytes(cfg2B, cMid, {lmHead: "f16", kv16: "f16"}), copyGBps),
      passes,
      prefill: {tokens: prefillN, ms: pms, tokensPerSec: (prefillN * 1000) / pms, sweep: prefillSweep},
    };
    // v2 at the same shape: whole-model share of the two Hadamard prologues
    try {
      const cfgV2 = {...model2B4T("v2", quick, quick ? 512 : 2304)};
      const v2 = await createSyntheticSession(cfgV2, 12, {
        gpu: ctx,
        lmHead: "f16",
        kv16: "f16",
        maxBlock: 1,
        maxLength: cfgV2.max_position_embeddings,
        tuning: tuningOf(chosen),
        fuse: chosen.fuse,
        normStats: chosen.normStats,
        attnChunk: chosen.attnChunk,
      });
      const c = contexts[1];
      v2.setLengthForBenchmark(c - 1);
      const tFull = await timeDispatches(device, v2.decodeDispatches(), {...TM, reps: quick ? 2 : 10});
      const tHad = await timeDispatches(device, v2.decodeDispatches({layers: true, hadamardOnly: true}), {
        ...TM,
        reps: quick ? 2 : 10,
      });
      v2.dispose();
      // the H-BitLinear prologue split (the default: FWHT · cross-block mix over m workgroups · quantize) or in one
      // workgroup; and the default with the kernels before subgroups (every FWHT stage through workgroup memory, the
      // norm + FWHT in one workgroup per token)
      const split: {mode: string; gpuMsPerToken: number; dispatchesPerToken: number}[] = [];
      const modes = [
        {mode: "one workgroup", o: {hadamardSplit: false}},
        // v2 picks its own fuse set: a rotated prologue fused into W_o is redone by every W_o workgroup
        {mode: "fused at down", o: {fuse: ["down"] as Site[]}},
        {mode: "fused everywhere", o: {fuse: true}},
        {
          mode: "default before subgroup FWHT (memory stages, one workgroup)",
          o: {tuning: {...tuningOf(chosen), fwhtLanes: 0, fwhtParts: 1}},
        },
      ];
      for (const {mode, o} of modes) {
        const s2 = await createSyntheticSession(cfgV2, 12, {
          gpu: ctx,
          lmHead: "f16",
          kv16: "f16",
          maxBlock: 1,
          maxLength: cfgV2.max_position_embeddings,
          tuning: tuningOf(chosen),
          fuse: chosen.fuse,
          normStats: chosen.normStats,
          attnChunk: chosen.attnChunk,
          ...o,
        });
        s2.setLengthForBenchmark(c - 1);
        const list = s2.decodeDispatches();
        const t = await timeDispatches(device, list, {...TM, reps: quick ? 2 : 10});
        split.push({
          mode,
          gpuMsPerToken: t.ms,
          dispatchesPerToken: list.length,
        });
        s2.dispose();
      }
      log(
        `v2 decode @${c}: default (split at every Kronecker plan: o and down) ${tFull.ms.toFixed(3)} ms; ` +
          split.map((x) => `${x.mode} ${x.gpuMsPerToken.toFixed(3)} ms (${x.dispatchesPerToken})`).join(", "),
      );
      // the same prologues without the rotation cost what b1.58's do; report the rotated prologues' share as an upper bound
      const best = split
        .filter((x) => !x.mode.startsWith("default before"))
        .reduce((a, x) => (x.gpuMsPerToken < a.gpuMsPerToken ? x : a), {mode: "default", gpuMsPerToken: tFull.ms});
      e2e.v2 = {
        context: c,
        gpuMsPerToken: best.gpuMsPerToken,
        chosen: best.mode,
        defaultMsPerToken: tFull.ms,
        hadamardLayerShare: tHad.ms / tFull.ms,
        split,
      };
      log(
        `v2 decode @${c}: ${best.gpuMsPerToken.toFixed(3)} ms/token (${best.mode}); W_o/W_down prologues (with the rotation) ${((100 * tHad.ms) / tFull.ms).toFixed(1)}% of the default step`,
      );
    } catch (e) {
      e2e.v2 = {error: e instanceof Error ? e.message : String(e)};
      log(`v2 decode: ${e2e.v2.error}`);
    }
    report.e2e = e2e;
  } catch (e) {
    log(`e2e: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    report.errors = [...(report.errors ?? []), `e2e: ${e instanceof Error ? e.message : String(e)}`];
  }

  // correctness on this device: small random models, GPU vs the CPU reference
  report.check = [];
  const shape = {
    vocab_size: 300,
    hidden_size: 128,
    intermediate_size: 160,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
  };
  for (const [name, variant, extra] of [
    ["b1.58", "b1.58", {}],
    ["a4.8", "a4.8", {}],
    ["v2 a4", "v2", {bitnet_activation_bits: 4, bitnet_kv_bits: 4}],
    ["fp", "fp", {}],
  ] as [string, Variant, Partial<BitNetConfig>][]) {
    try {
      const w = randomWeights(defaultConfig(variant, {...shape, ...extra}), 21);
      const cpu = createCpuSession(w);
      const gpu = await createWebGPUSession(w, {gpu: ctx});
      const p = [1, 5, 17, 42, 99, 7];
      let a = await cpu.append(p);
      let b = await gpu.append(p);
      let worst = 0;
      let agree = 0;
      const steps = 8;
      for (let s = 0; s <= steps; s++) {
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        const ta = argmax(a);
        if (ta === argmax(b)) agree++;
        if (s === steps) break;
        a = await cpu.append([ta]);
        b = await gpu.append([ta]);
      }
      gpu.dispose();
      report.check.push({variant: name, maxAbsDiff: worst, greedyAgree: agree, steps: steps + 1});
      log(`check ${name}: max|Δlogits| ${worst.toExponential(2)}, greedy ${agree}/${steps + 1}`);
    } catch (e) {
      report.errors = [...(report.errors ?? []), `check ${name}: ${e instanceof Error ? e.message : String(e)}`];
    }
  }
  if (opts.peers) {
    const e = report.e2e;
    report.peers = comparePeers(opts.peers, {
      stackMs: report.linear!.best.msPerToken,
      decodeMs: e?.decode.map((d) => ({context: d.context, ms: d.gpuMsPerToken})),
      lmHeadMs: e?.roofline?.find((r) => r.kind === "LM head")?.ms,
    });
  }
  report.seconds = (now() - t0) / 1000;
  return report as BenchReport;
}
