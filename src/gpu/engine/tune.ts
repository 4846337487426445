// Per-device choices: whether subgroup shuffles can carry reductions, and the shape of each linear kernel.
import {bindGroup, pipelineChecked, readBuffer, storageBuffer} from "../gpu.js";
import {perVec4, type Epilogue, type LinearConfig, type LinearKind} from "../kernels/linear.js";
import type {Site} from "../../lib/variant.js";
import {checkGemm, GEMM_SHAPES, type GemmConfig, type GemmShape, type GemmShapeName} from "../kernels/linear-gemm.js";

const probed = new WeakMap<GPUDevice, Promise<number>>();

/** The subgroup size S if every workgroup of 256 (or the device maximum) invocations is made of subgroups of one
 *  fixed size S whose lanes are consecutive local_invocation_index values (lane = index % S) — what shuffle-based
 *  reductions assume. 0 when subgroups are missing or the layout differs (then kernels use workgroup memory). */
export function subgroupSize(device: GPUDevice): Promise<number> {
  let p = probed.get(device);
  if (!p) {
    p = (async () => {
      if (!device.features.has("subgroups")) return 0;
      const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
      const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sg: u32, @builtin(subgroup_invocation_id) sid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  o[(wid.x * ${WG}u + lid) * 2u] = sg;
  o[(wid.x * ${WG}u + lid) * 2u + 1u] = sid;
}`;
      try {
        const pl = await pipelineChecked(device, code, "subgroup-probe");
        const n = 4 * WG;
        const buf = storageBuffer(device, n * 8);
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(pl);
        pass.setBindGroup(0, bindGroup(device, pl, [buf]));
        pass.dispatchWorkgroups(4);
        pass.end();
        device.queue.submit([enc.finish()]);
        const u = new Uint32Array(await readBuffer(device, buf, n * 8));
        buf.destroy();
        const S = u[0];
        if (!S || S & (S - 1) || WG % S) return 0;
        for (let i = 0; i < n; i++) if (u[2 * i] !== S || u[2 * i + 1] !== (i % WG) % S) return 0;
        return S;
      } catch {
        return 0;
      }
    })();
    probed.set(device, p);
  }
  return p;
}

export interface LinearTuning {
  /** Overrides for the decode (M = 1) and prefill kernels; missing fields take the defaults below. */
  decode?: Partial<Pick<LinearConfig, "R" | "T" | "WG" | "U">>;
  prefill?: Partial<Pick<LinearConfig, "R" | "T" | "WG" | "MT">> & {
    /** Ternary prefill kernel: the tiled GEMM of linear-gemm.ts by tile shape (a name or an explicit shape;
     *  default DEFAULT_PREFILL_GEMM, then R, T, WG, MT are not used for the ternary linears), or "none" for
     *  linearWGSL's R × MT threads, the kernel before the GEMM (same bits; the tests and the bench pin it this way). */
    gemm?: GemmShapeName | GemmShape | "none";
    /** Per BitLinear site, a shape (or "none") that overrides `gemm` there (e.g. smaller tiles for the 2560-row W_o
     *  and W_down, whose grids would otherwise leave SMs idle). */
    gemmAt?: Partial<Record<Site, GemmShapeName | GemmShape | "none">>;
  };
  /** Force workgroup-memory reductions even where shuffles work (tests cover both paths this way). */
  noSubgroups?: boolean;
  /** The H-BitLinear in-block FWHT's shuffle lanes (normquant.ts fwhtLanes; 0 = every stage through workgroup
   *  memory, the kernel before subgroups): a timing switch, every value gives the same bits. */
  fwhtLanes?: number;
  /** Workgroups per token of the split H-BitLinear prologue's norm + FWHT (normquant.ts fwhtParts; default
   *  fwhtPartsFor, 1 = one workgroup): a timing switch, every value gives the same bits. */
  fwhtParts?: number;
}

/** A linear kernel configuration for this device. Decode: 4 rows per thread, T threads along K (a subgroup where
 *  shuffles work, else 8), 256-thread workgroups, and (given K) enough unrolling to issue a thread's loads at once.
 *  Prefill: 4 rows × 8 tokens per thread. */
export function linearConfig(
  S: number,
  kind: LinearKind,
  epilogue: Epilogue,
  M: number,
  tuning: LinearTuning = {},
  maxWG = 256,
  K?: number,
): LinearConfig {
  const prefill = M > 1;
  const t = prefill ? tuning.prefill : tuning.decode;
  const sub = tuning.noSubgroups ? 0 : S;
  const R = t?.R ?? 4;
  let T = t?.T ?? (prefill ? Math.min(8, sub || 8) : sub && sub <= 32 ? sub : 8);
  const WG = Math.min(t?.WG ?? (prefill ? 128 : 256), maxWG);
  if (WG % T) T = Math.min(T, WG);
  const useSub = sub && T <= sub && sub % T === 0 && WG % sub === 0 ? sub : 0;
  const MT = prefill ? (tuning.prefill?.MT ?? 8) : 1;
  // decode default: enough unrolled steps that a thread's whole share of a row is requested at once (≤ 4)
  const U = prefill
    ? 1
    : (tuning.decode?.U ?? (K !== undefined ? Math.min(4, Math.ceil(Math.ceil(K / perVec4(kind)) / T)) : 1));
  return {kind, R: epilogue.startsWith("glu") && R % 2 ? R + 1 : R, T, MT, WG, sub: useSub, epilogue, U};
}

/** The ternary prefill kernel by default: the tiled GEMM's n64m64 tiles (128 threads, 10.2 KB of workgroup memory:
 *  within WebGPU's default limits). Measured on one H200, 2B4T prefill of 512 tokens: 47.0 ms against 66.7 ms for
 *  linearWGSL's R4 T8 MT8 (10,895 vs 7,676 tok/s), the same bits (bench/results/h200-issue25d-prefill-gemm.log.txt). */
export const DEFAULT_PREFILL_GEMM: GemmShapeName = "n64m64";

/** The tiled GEMM configuration of a ternary prefill linear (M > 1), else undefined: decode, dense kinds, the opt-out
 *  (tuning.prefill.gemm or gemmAt "none") and a device whose limits cannot hold the default tiles keep linearWGSL.
 *  Throws when a shape the tuning names is unknown or the device's limits cannot run it. (dot4I8Packed is no extra
 *  requirement: linearWGSL's ternary kernels use it too.) */
export function prefillGemm(
  tuning: LinearTuning,
  kind: LinearKind,
  epilogue: Epilogue,
  M: number,
  limits: Pick<GPUSupportedLimits, "maxComputeWorkgroupStorageSize" | "maxComputeInvocationsPerWorkgroup">,
  site?: Site,
): GemmConfig | undefined {
  if (M <= 1 || kind !== "ternary") return undefined;
  const named = (site && tuning.prefill?.gemmAt?.[site]) ?? tuning.prefill?.gemm;
  if (named === "none") return undefined;
  const g = named ?? DEFAULT_PREFILL_GEMM;
  const shape = typeof g === "string" ? (GEMM_SHAPES as Record<string, GemmShape>)[g] : g;
  if (!shape)
    throw new Error(
      `tuning.prefill.gemm: unknown GEMM shape "${g}" (${Object.keys(GEMM_SHAPES).join(", ")}, or "none")`,
    );
  const c: GemmConfig = {...shape, epilogue};
  const lim = {maxWG: limits.maxComputeInvocationsPerWorkgroup, maxBytes: limits.maxComputeWorkgroupStorageSize};
  if (named !== undefined) checkGemm(c, lim);
  else
    try {
      checkGemm(c, lim);
    } catch {
      return undefined; // the default on a device below WebGPU's default limits: the kernel before the GEMM
    }
  return c;
}
