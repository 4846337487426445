// Training byte-level BPE merges (Tokenizer.train): incremental pair counts over the distinct pre-tokens.
import {BYTE_CHAR, SPECIAL_TOKENS, SPLIT_RE, utf8} from "./byte-level.js";

export interface TrainOptions {
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Called every `every` merges with (merges done, merges wanted). */
  onProgress?: (done: number, total: number) => void;
}

/** A max-heap of (count, pair key) with lazy deletion; ties go to the smaller key (lower left id first). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private better(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lc = this.counts.pop()!;
    const lk = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lc;
      this.keys[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.counts.length && this.better(l, m)) m = l;
        if (r < this.counts.length && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

// Pair keys pack two ids below 2^21 into one exact double.
export const KEY_SHIFT = 2 ** 21;
export const pairKey = (a: number, b: number) => a * KEY_SHIFT + b;

/** Trains byte-level BPE on `text` up to `vocabSize` tokens (3 specials + 256 bytes + merges).
 *  Incremental pair counts over the distinct pre-tokens, so each merge touches only the words that
 *  contain its pair. Ties between equally frequent pairs go to the lower (left id, right id). */
export function trainMerges(
  text: string,
  vocabSize: number,
  opts: TrainOptions = {},
): {pieces: string[]; merges: [string, string][]} {
  const base = 3 + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize >= KEY_SHIFT) {
    throw new Error(`tokenizer: vocabSize must be an integer in [${base}, ${KEY_SHIFT - 1}], got ${vocabSize}`);
  }
  const minFrequency = opts.minFrequency ?? 2;
  const pieces: string[] = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.eos, ...BYTE_CHAR];
  const byteId = (b: number) => 3 + b;

  // Distinct pre-tokens with their frequencies.
  const freq = new Map<string, number>();
  for (const m of text.matchAll(SPLIT_RE)) freq.set(m[0], (freq.get(m[0]) ?? 0) + 1);
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [w, c] of freq) {
    words.push(Array.from(utf8.encode(w), byteId));
    counts.push(c);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1, touched: Set<number>) => {
    const w = words[wi];
    const c = counts[wi] * sign;
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i], w[i + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + c);
      touched.add(k);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  const heap = new PairHeap();
  const init = new Set<number>();
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, init);
  for (const k of init) heap.push(pairCount.get(k)!, k);

  const merges: [string, string][] = [];
  const wanted = vocabSize - base;
  while (merges.length < wanted && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale heap entry
    if (count < minFrequency) break;
    const a = Math.floor(key / KEY_SHIFT);
    const b = key % KEY_SHIFT;
    const id = pieces.length;
    pieces.push(pieces[a] + pieces[b]);
    merges.push([pieces[a], pieces[b]]);
    const touched = new Set<number>();
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi];
      let has = false;
      for (let i = 0; i + 1 < w.length; i++)
        if (w[i] === a && w[i + 1] === b) {
          has = true;
          break;
        }
      if (!has) continue; // the set is not pruned when a word loses a pair
      addPairs(wi, -1, touched);
      const nw: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          nw.push(id);
          i++;
        } else nw.push(w[i]);
      }
      words[wi] = nw;
      addPairs(wi, 1, touched);
    }
    pairWords.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k)!;
      if (c > 0) heap.push(c, k);
      else pairCount.delete(k);
    }
    if (opts.onProgress && merges.length % 256 === 0) opts.onProgress(merges.length, wanted);
  }
  return {pieces, merges};
}
