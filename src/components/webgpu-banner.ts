// A small banner that tells the reader what the page runs on: their GPU through WebGPU, or the CPU reference.
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {describeAdapter, isSoftwareAdapter} from "../lib/webgpu-status.js";

function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

/** The banner's one line, in words a reader without a GPU vocabulary follows: where this page computes (your GPU, a
 *  software renderer on your CPU, or the CPU reference), the adapter's name after it. */
export function bannerText(status: WebGPUStatus): {kind: "gpu" | "software" | "cpu"; text: string} {
  if (!status.available)
    return {
      kind: "cpu",
      text: `No WebGPU in this browser — the page computes on the CPU reference (plain JavaScript on your processor) instead (${status.reason}).`,
    };
  if (isSoftwareAdapter(status))
    return {
      kind: "software",
      text: `WebGPU here is a software renderer on your CPU (${describeAdapter(status)}), not a graphics card — correct but slow, so pages use the CPU reference unless a link says backend=webgpu.`,
    };
  return {kind: "gpu", text: `Running on your GPU (${describeAdapter(status)}) through WebGPU.`};
}

export function webgpuBanner(status: WebGPUStatus): HTMLElement {
  const el = document.createElement("details");
  el.className = `gpu-banner ${status.available ? "gpu-banner--ok" : "gpu-banner--fallback"}`;
  el.setAttribute("data-webgpu", status.available ? "available" : "unavailable");
  const {kind, text} = bannerText(status);
  el.setAttribute("data-compute", kind);
  const summary = document.createElement("summary");
  summary.textContent = text;
  el.append(summary);
  if (status.available) {
    if (status.features.length) {
      const p = document.createElement("p");
      p.textContent = `Features: ${status.features.join(", ")}. Limits:`;
      el.append(p);
    }
    const dl = document.createElement("dl");
    for (const [k, v] of Object.entries(status.limits)) {
      const dt = document.createElement("dt");
      dt.innerHTML = `<code>${k}</code>`;
      const dd = document.createElement("dd");
      dd.textContent = /Size$/.test(k) ? fmtBytes(v) : v.toLocaleString("en-US");
      dl.append(dt, dd);
    }
    el.append(dl);
  }
  return el;
}
