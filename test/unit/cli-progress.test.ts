import {describe, expect, it} from "vitest";
import {progress} from "../../src/node/progress.js";

describe("CLI progress (stderr)", () => {
  it("to a file or pipe: the first state at once, then at most one line per interval, and the end", () => {
    let t = 0;
    const out: string[] = [];
    const p = progress("eval", 10, {write: (s) => out.push(s), tty: false, everyMs: 1000, now: () => t});
    p.update(1);
    t = 500;
    p.update(5); // within the interval: not printed
    t = 1200;
    p.update(6, "loss 3.1");
    p.end();
    p.update(7); // after the end: ignored
    expect(out).toEqual([
      "eval 1/10 (10%) 0.0s ETA 0.0s\n",
      "eval 6/10 (60%) 1.2s ETA 0.8s loss 3.1\n",
      "eval 10/10 (100%) 1.2s\n",
    ]);
  });

  it("on a terminal: one bar redrawn in place, counting from the task's start", () => {
    let t = 2000;
    const out: string[] = [];
    const p = progress("merges", 4, {write: (s) => out.push(s), tty: true, now: () => t, start: 0});
    p.update(2);
    t = 3000;
    p.end();
    expect(out[0]).toBe("\rmerges [##########..........] 2/4 (50%) 2.0s ETA 2.0s\x1b[K");
    expect(out[1]).toBe("\rmerges [####################] 4/4 (100%) 3.0s\x1b[K\n");
  });
});
