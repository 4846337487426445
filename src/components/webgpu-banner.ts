// A small banner that tells the reader what the page runs on: their GPU through WebGPU, or the CPU reference.
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {describeAdapter} from "../lib/webgpu-status.js";

function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function webgpuBanner(status: WebGPUStatus): HTMLElement {
  const el = document.createElement("details");
  el.className = `gpu-banner ${status.available ? "gpu-banner--ok" : "gpu-banner--fallback"}`;
  el.setAttribute("data-webgpu", status.available ? "available" : "unavailable");
  const summary = document.createElement("summary");
  if (status.available) {
    summary.textContent = `WebGPU: ${describeAdapter(status)}${status.features.length ? ` — ${status.features.join(", ")}` : ""}`;
  } else {
    summary.textContent = `WebGPU unavailable — this page runs on the CPU reference instead (${status.reason}).`;
  }
  el.append(summary);
  if (status.available) {
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
