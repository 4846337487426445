// Session lifecycle helpers: where the device comes from (shared context, bare device, or the session's own), and
// building under error scopes so a model that does not fit fails with a clear message and frees what it made.
import {acquireGpu, DeviceLostError, wrapDevice, type GpuContext} from "../device.js";
import type {WebGPUSessionOptions} from "./types.js";
import type {BufferPool} from "./upload.js";

/** The session's device context; `owns` when the session acquired it (and so destroys it). Device loss on a shared
 *  device is reported through opts.onDeviceLost unless the session is already disposed. */
export async function sessionContext(
  opts: WebGPUSessionOptions,
  disposed: () => boolean,
): Promise<{ctx: GpuContext; owns: boolean}> {
  if (!opts.gpu && !opts.device) return {ctx: await acquireGpu({onLost: opts.onDeviceLost}), owns: true};
  const ctx = opts.gpu ?? wrapDevice(opts.device!);
  void ctx.device.lost.then((info) => {
    if (!disposed() && info.reason !== "destroyed") opts.onDeviceLost?.(info);
  });
  return {ctx, owns: false};
}

/** Runs `build` inside out-of-memory and validation error scopes; on any failure frees the pool and throws the
 *  most specific error. */
export async function buildInScopes(device: GPUDevice, pool: BufferPool, build: () => Promise<void>): Promise<void> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let failure: unknown;
  try {
    await build();
  } catch (e) {
    failure = e;
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (!failure && !oom && !validation) return;
  pool.free();
  if (oom)
    throw new Error(
      `webgpu: the model does not fit in GPU memory (${oom.message}); try lmHead "f16", a shorter maxLength or a smaller model`,
    );
  if (failure) throw failure;
  throw new Error(`webgpu: building the session failed: ${validation!.message}`);
}

/** A session's error as callers see it: after a device loss, a DeviceLostError that says to rebuild. */
export function sessionError(ctx: GpuContext, e: unknown): Error {
  if (ctx.lostInfo)
    return new DeviceLostError(
      ctx.lostInfo.reason,
      `WebGPU device lost (${ctx.lostInfo.reason}): ${ctx.lostInfo.message}; call rebuild()`,
    );
  return e instanceof Error ? e : new Error(String(e));
}

/** Before a rebuild: a device the session owns is destroyed (a new one is acquired); a shared one that was lost
 *  cannot be replaced from here. */
export function releaseForRebuild(ctx: GpuContext, owns: boolean): void {
  if (owns) {
    try {
      ctx.device.destroy();
    } catch {
      /* already gone */
    }
  } else if (ctx.lostInfo) {
    throw new Error("rebuild: the shared device was lost; create a new session on a new device");
  }
}
