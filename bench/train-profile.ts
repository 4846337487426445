// What the Train page's main thread does while a run trains (a benchmark that prints numbers, not a test): a
// Chromium performance trace and a JS sampling profile of the page's main thread over a window of training,
// summed by trace event (self time: script, style, layout, paint, GC, …) and by JS function (inclusive time of
// the page's own functions: chart redraws, dashboard numbers, message handling). Worker threads are not counted.
//
//   npm run build && nice npx tsx bench/train-profile.ts [dist] [--query "backend=cpu"] [--seconds 20] [--webgpu] [--charts]
import {existsSync} from "node:fs";
import {launch} from "../test/e2e/browser.js";
import {serve} from "../test/e2e/server.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const bool = (name: string) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const query = flag("--query") ?? "backend=cpu";
const seconds = Number(flag("--seconds") ?? 20);
const webgpu = bool("--webgpu");
/** --charts: scroll the charts into view first (they are below the fold on load, and off-screen charts are not redrawn). */
const charts = bool("--charts");
const dist = args[0] ?? "dist";
if (!existsSync(`${dist}/train.html`)) throw new Error(`${dist}/train.html is missing: run npm run build first`);

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: {name?: string};
}
interface ProfileNode {
  id: number;
  callFrame: {functionName: string; url: string; lineNumber: number};
  children?: number[];
}

const site = await serve(dist);
const browser = await launch({webgpu});
try {
  const page = await browser.newPage({viewport: {width: 1280, height: 900}});
  await page.goto(`${site.url}/train?${query}`, {waitUntil: "load"});
  await page.locator(".train-dashboard[data-state=ready]").waitFor({timeout: 180_000});
  const backend = await page.locator("[data-backend]").first().getAttribute("data-backend");
  const size = await page.locator(".train-dashboard").getAttribute("data-size");
  await page.evaluate(() =>
    [...document.querySelectorAll("button")].find((b) => b.textContent === "Start training")?.click(),
  );
  await page.waitForFunction(
    () => Number(document.querySelector(".train-dashboard")?.getAttribute("data-step")) >= 2,
    undefined,
    {timeout: 180_000},
  );
  if (charts) await page.evaluate(() => document.querySelector(".train-charts")?.scrollIntoView({block: "start"}));
  const step0 = Number(await page.locator(".train-dashboard").getAttribute("data-step"));

  const cdp = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on("Tracing.dataCollected", (e) => void events.push(...(e.value as unknown as TraceEvent[])));
  const traced = new Promise<void>((r) => cdp.once("Tracing.tracingComplete", () => r()));
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", {interval: 500});
  await cdp.send("Tracing.start", {
    categories: "devtools.timeline,disabled-by-default-devtools.timeline,v8,blink.user_timing",
    transferMode: "ReportEvents",
  });
  await cdp.send("Profiler.start");
  // Long tasks as the page sees them (PerformanceObserver), for a count independent of the trace's parsing.
  await page.evaluate(() => {
    const w = window as unknown as {__long: number[]};
    w.__long = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.__long.push(e.duration);
    }).observe({type: "longtask"});
  });
  const t0 = Date.now();
  await page.waitForTimeout(seconds * 1000);
  const wallMs = Date.now() - t0;
  const {profile} = (await cdp.send("Profiler.stop")) as unknown as {
    profile: {nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]};
  };
  await cdp.send("Tracing.end");
  await traced;
  const longTasks = await page.evaluate(() => (window as unknown as {__long: number[]}).__long);
  const step1 = Number(await page.locator(".train-dashboard").getAttribute("data-step"));

  // The renderer's main thread: the CrRendererMain thread of the process that ran the page's scripts.
  const mains = events.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain");
  const scriptPid = events.find((e) => e.name === "FunctionCall" || e.name === "EvaluateScript")?.pid;
  const main = mains.find((m) => m.pid === scriptPid) ?? mains[0];
  const onMain = events
    .filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === "X" && e.dur !== undefined)
    .sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
  // Self time per event name: nested complete events (ts-sorted) form a stack.
  const self = new Map<string, number>();
  const stack: {e: TraceEvent; end: number; child: number}[] = [];
  const pop = () => {
    const top = stack.pop()!;
    self.set(top.e.name, (self.get(top.e.name) ?? 0) + top.e.dur! - top.child);
  };
  let busy = 0;
  const tasks: number[] = [];
  for (const e of onMain) {
    while (stack.length && stack.at(-1)!.end <= e.ts) pop();
    if (stack.length) stack.at(-1)!.child += e.dur!;
    else {
      busy += e.dur!;
      tasks.push(e.dur! / 1000);
    }
    stack.push({e, end: e.ts + e.dur!, child: 0});
  }
  while (stack.length) pop();

  // JS: self time per function and inclusive time of the page's own functions.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber + 1}`;
  const selfJs = new Map<string, number>();
  const incl = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    let n = byId.get(profile.samples[i])!;
    const name = n.callFrame.functionName;
    if (name === "(idle)" || name === "(program)") continue;
    selfJs.set(label(n), (selfJs.get(label(n)) ?? 0) + dt);
    const seen = new Set<string>();
    for (;;) {
      const l = label(n);
      if (!seen.has(l) && n.callFrame.functionName) {
        seen.add(l);
        incl.set(l, (incl.get(l) ?? 0) + dt);
      }
      const p = parent.get(n.id);
      if (p === undefined) break;
      n = byId.get(p)!;
    }
  }
  const top = (m: Map<string, number>, k: number, filter: (s: string) => boolean = () => true) =>
    [...m]
      .filter(([s]) => filter(s))
      .sort((a, b) => b[1] - a[1])
      .slice(0, k);
  const steps = step1 - step0;
  console.log(
    `/train?${query} (${backend}, ${size}), ${webgpu ? "WebGPU" : "no WebGPU"}: ${(wallMs / 1000).toFixed(1)} s window, ${steps} steps (${(steps / (wallMs / 1000)).toFixed(2)} steps/s)`,
  );
  console.log(
    `main thread busy ${(busy / 1000).toFixed(0)} ms = ${((100 * busy) / 1000 / wallMs).toFixed(1)} % of the window; ${tasks.length} tasks, ${tasks.filter((t) => t > 50).length} over 50 ms (longest ${Math.max(...tasks).toFixed(0)} ms); PerformanceObserver long tasks: ${longTasks.length} (${longTasks.map(Math.round).join(", ")} ms)`,
  );
  console.log("self time by trace event (ms):");
  for (const [n, us] of top(self, 14)) console.log(`  ${(us / 1000).toFixed(0).padStart(7)}  ${n}`);
  console.log("JS self time by function (ms):");
  for (const [n, t] of top(selfJs, 14)) console.log(`  ${t.toFixed(0).padStart(7)}  ${n}`);
  console.log("JS inclusive time, page functions (ms):");
  for (const [n, t] of top(incl, 22, (s) =>
    /renderCharts|updateNumbers|lossChart|weightsView|flipChart|gammaChart|scheduleCharts|lineChart|histogramChart|statCards|receive|notify|onStep|scheduleRender|update|autosave|plot|render/i.test(
      s,
    ),
  ))
    console.log(`  ${t.toFixed(0).padStart(7)}  ${n}`);
  await page.close();
} finally {
  await browser.close();
  await site.close();
}
