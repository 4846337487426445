// Progress for long CLI tasks, on stderr so stdout stays clean for --json: a bar redrawn in place on a
// terminal, and a plain line every few seconds (plus the last one) when stderr is a file or a pipe.

export interface ProgressOptions {
  write?: (s: string) => void;
  /** Redraw in place (a terminal); default: whether stderr is a TTY. */
  tty?: boolean;
  /** Non-TTY: at most one line per this many ms (default 2000). */
  everyMs?: number;
  now?: () => number;
  /** When the task began (same clock as `now`), if before the bar was made. */
  start?: number;
}

export interface Progress {
  /** `done` units of `total` are finished; `note` is shown after the counts. */
  update(done: number, note?: string): void;
  /** Finishes the bar (prints the final state once). */
  end(note?: string): void;
}

const fmtSeconds = (s: number) =>
  s >= 90 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(s < 10 ? 1 : 0)}s`;

export function progress(label: string, total: number, o: ProgressOptions = {}): Progress {
  const write = o.write ?? ((s: string) => void process.stderr.write(s));
  const tty = o.tty ?? Boolean(process.stderr.isTTY);
  const now = o.now ?? (() => performance.now());
  const everyMs = o.everyMs ?? 2000;
  const t0 = o.start ?? now();
  let last = -Infinity;
  let ended = false;
  const render = (done: number, note?: string) => {
    const f = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (now() - t0) / 1000;
    const eta = done > 0 && done < total ? ` ETA ${fmtSeconds((elapsed * (total - done)) / done)}` : "";
    const bar = tty ? ` [${"#".repeat(Math.round(20 * f)).padEnd(20, ".")}]` : "";
    return `${label}${bar} ${done}/${total} (${Math.round(100 * f)}%) ${fmtSeconds(elapsed)}${eta}${note ? ` ${note}` : ""}`;
  };
  return {
    update(done, note) {
      if (ended) return;
      const t = now();
      if (tty) write(`\r${render(done, note)}\x1b[K`);
      else if (t - last >= everyMs) {
        last = t;
        write(`${render(done, note)}\n`);
      }
    },
    end(note) {
      if (ended) return;
      ended = true;
      write(`${tty ? "\r" : ""}${render(total, note)}${tty ? "\x1b[K" : ""}\n`);
    },
  };
}
