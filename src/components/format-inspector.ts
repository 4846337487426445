// Views and browser plumbing for the "Open a checkpoint" page (src/open.md): files from a picker or a drop as
// a FileSet of Blob slices (nothing is read whole), the inspection of an opened checkpoint, the golden check's
// report, and errors. Views are (data, options) → Node; the page composes them.
import {blobSource, mapFileSet} from "../lib/formats/source.js";
import type {ByteSource, FileSet} from "../lib/formats/source.js";
import type {Inspection} from "../lib/formats/open.js";
import type {GoldenCheck} from "../lib/formats/golden.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {h} from "./dom.js";

const base = (p: string) => p.split("/").pop() ?? p;

/** Files from an <input type=file> (multiple or webkitdirectory): one folder level, by file name. */
export type BlobFileSet = FileSet & {blobs: {name: string; blob: Blob}[]};

/** A file's name inside the chosen folder: its webkitRelativePath without the folder itself, else its name. */
function relName(f: File & {webkitRelativePath?: string; relName?: string}): string {
  if (f.relName) return f.relName;
  const r = f.webkitRelativePath;
  return r ? r.split("/").slice(1).join("/") || base(f.name) : base(f.name);
}

/** Top-level files, plus sentence-transformers' pooling settings one folder down (N_Pooling/config.json); other
 *  nested files (a folder picker returns them all) are left out, so a nested config.json never shadows the model's. */
const keepName = (n: string) => !n.includes("/") || /^\d+_Pooling\/config\.json$/.test(n);

export function fileSetFromFiles(files: ArrayLike<File>, label = "dropped files"): BlobFileSet {
  const map = new Map<string, ByteSource>();
  const blobs = Array.from(files, (f) => ({name: relName(f), blob: f as Blob})).filter((b) => keepName(b.name));
  for (const b of blobs) map.set(b.name, blobSource(b.blob, b.name));
  const names = [...map.keys()];
  return {...mapFileSet(names.length === 1 ? names[0] : label, map), blobs};
}

/** Files from a drop: a dropped folder is read one level deep (webkitGetAsEntry); plain files as they are. */
export async function fileSetFromDrop(dt: DataTransfer): Promise<BlobFileSet> {
  const entries = Array.from(dt.items ?? []).map((i) =>
    i.kind === "file" && typeof i.webkitGetAsEntry === "function" ? i.webkitGetAsEntry() : null,
  );
  const dir = entries.find((e) => e && e.isDirectory) as FileSystemDirectoryEntry | undefined;
  if (!dir) return fileSetFromFiles(dt.files);
  const children = await new Promise<FileSystemEntry[]>((resolve, reject) => {
    const reader = dir.createReader();
    const all: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => (batch.length ? (all.push(...batch), next()) : resolve(all)), reject);
    next();
  });
  const files = await Promise.all(
    children
      .filter((c) => c.isFile)
      .map((c) => new Promise<File>((res, rej) => (c as FileSystemFileEntry).file(res, rej))),
  );
  // sentence-transformers' N_Pooling/config.json, one level down
  for (const sub of children.filter((c) => c.isDirectory && /^\d+_Pooling$/.test(c.name))) {
    const f = await new Promise<File | null>((res) =>
      (sub as FileSystemDirectoryEntry).getFile(
        "config.json",
        {},
        (e) => (e as FileSystemFileEntry).file(res, () => res(null)),
        () => res(null),
      ),
    );
    if (f) files.push(Object.assign(f, {relName: `${sub.name}/config.json`}));
  }
  return fileSetFromFiles(files, dir.name);
}

export function fmtBinaryBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const row = (k: string, v: Node | string, key?: string) =>
  h("tr", key ? {"data-key": key} : {}, h("th", {scope: "row"}, k), h("td", {}, v));

/** One stored word of a projection, bit field by bit field. */
export function wordView(w: NonNullable<Inspection["word"]>): HTMLElement {
  return h(
    "div",
    {class: "stored-word"},
    h(
      "p",
      {},
      `${w.tensor}, byte ${w.offset}: `,
      h("code", {}, `0x${w.hex.replace(/ /g, "")}`),
      " = ",
      h("code", {"data-bits": w.bits}, w.bits),
      ` — ${w.value}`,
    ),
    h(
      "table",
      {},
      h(
        "tbody",
        {},
        w.fields.map((f) => h("tr", {}, h("td", {}, h("code", {}, f.bits)), h("td", {}, f.meaning))),
      ),
    ),
  );
}

/** What the WebGPU engine needs for this model, and how this GPU's binding limit splits the embedding. */
function memoryText(ins: Inspection, opts: {gpu?: WebGPUStatus; ctx?: number}): string {
  const c = ins.config;
  const ctx = opts.ctx ?? Math.min(2048, c.max_position_embeddings);
  const need = ins.gpuBytes(ctx);
  const lim = opts.gpu?.limits ?? {};
  let memory = `≈ ${fmtBinaryBytes(need)} for the WebGPU engine at context ${ctx} (2-bit projections, f32 embedding rows, f32 KV cache)`;
  if (opts.gpu?.available) {
    const embBytes = c.vocab_size * c.hidden_size * 4;
    const bind = lim.maxStorageBufferBindingSize ?? 0;
    memory += `; this GPU binds ≤ ${fmtBinaryBytes(bind)} per buffer, so the ${fmtBinaryBytes(embBytes)} embedding goes in ${Math.max(1, Math.ceil(embBytes / Math.max(1, bind)))} buffer(s)`;
  } else memory += "; no WebGPU here, so the CPU reference would run it (slowly for a 2B model)";
  return memory;
}

/** How the stored scales are applied: the decided convention with its evidence, or the format's own rule. */
function scaleText(ins: Inspection): Node | string {
  return ins.scale
    ? h(
        "span",
        {},
        h(
          "strong",
          {"data-scale": ins.scale.value},
          ins.scale.value === "multiply" ? "weight_scale multiplies" : "weight_scale divides",
        ),
        ` — ${ins.scale.how}. Evidence: ${ins.scale.evidence}.`,
      )
    : ins.format === "gguf-i2s"
      ? "I2_S: one f32 scale per tensor that multiplies (W = code · scale)"
      : ins.format === "gguf-tq1_0" || ins.format === "gguf-tq2_0"
        ? "TQ: an f16 scale per 256-weight block that multiplies (W = code · d); every nonzero block of a tensor carries the same d (checked at load)"
        : ins.pseudo
          ? "the float values themselves: code · α, α recovered from the values (see Pseudo-quantized)"
          : "none stored (scales computed at load)";
}

/** Every stored tensor: name, stored dtype (and role), shape and bytes, collapsed. */
function tensorList(ins: Inspection): HTMLElement {
  return h(
    "details",
    {},
    h("summary", {}, `${ins.tensors.length} tensors`),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h("tr", {}, h("th", {}, "tensor"), h("th", {}, "stored"), h("th", {}, "shape"), h("th", {}, "bytes")),
      ),
      h(
        "tbody",
        {},
        ins.tensors.map((t) =>
          h(
            "tr",
            {},
            h("td", {}, t.name),
            h(
              "td",
              {},
              `${t.dtype}${t.role === "ternary" ? " (ternary)" : t.role === "latent" ? " (latent → ternary)" : ""}`,
            ),
            h("td", {}, `[${t.shape.join(", ")}]`),
            h("td", {}, fmtBinaryBytes(t.bytes)),
          ),
        ),
      ),
    ),
  );
}

/** What the checkpoint is and how every convention was decided — before anything runs. */
export function inspectionView(ins: Inspection, opts: {gpu?: WebGPUStatus; ctx?: number} = {}): HTMLElement {
  const c = ins.config;
  const memory = memoryText(ins, opts);
  const tok = ins.tokenizer;
  const tbl = h(
    "table",
    {class: "inspection"},
    h(
      "tbody",
      {},
      row("Format", ins.formatName, "format"),
      row(
        "Family",
        h(
          "span",
          {},
          h("strong", {"data-family": ins.family.value}, ins.family.family.name),
          ` — ${ins.family.how}${ins.family.family.releases ? `. Covers: ${ins.family.family.releases}` : ""}`,
        ),
        "family",
      ),
      row(
        "Runs as",
        h(
          "span",
          {"data-arch": ins.arch.activation},
          `${ins.arch.summary} (the architecture table, src/lib/architecture.ts: the CPU reference and the WebGPU engine read the same description)`,
        ),
        "runs-as",
      ),
      ...(ins.pseudo
        ? [row("Pseudo-quantized", h("span", {"data-pseudo": ins.pseudo.axis}, ins.pseudo.description), "pseudo")]
        : []),
      ...(ins.word ? [row("One stored word", wordView(ins.word), "word")] : []),
      row(
        "Architecture",
        `${ins.architecture}: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, FFN ${c.intermediate_size} (${c.hidden_act === "relu2" ? "ReLU²" : c.hidden_act === "gelu_tanh" ? "GELU-tanh GLU" : "SwiGLU"}), ${c.num_attention_heads} heads / ${c.num_key_value_heads} KV, vocab ${c.vocab_size.toLocaleString("en-US")}, context ${c.max_position_embeddings}, RoPE θ ${c.rope_theta}, ${c.bitnet_sub_norms ? "sub-norms" : "no sub-norms"}, ${c.tie_word_embeddings ? "tied" : "untied"} head`,
        "arch",
      ),
      row(
        "Parameters",
        `${ins.parameters.total.toLocaleString("en-US")} (projections ${ins.parameters.linear.toLocaleString("en-US")}, embedding ${ins.parameters.embedding.toLocaleString("en-US")})`,
        "params",
      ),
      row(
        "Bits per weight",
        `${ins.bitsPerWeight.projections.toFixed(3)} in the projections; ${ins.bitsPerWeight.overall.toFixed(2)} over the whole file`,
        "bits",
      ),
      row("Scale convention", scaleText(ins), "scale"),
      row(
        "RoPE",
        h("span", {}, h("strong", {"data-rope": ins.rope.value}, ins.rope.value), ` — ${ins.rope.how}`),
        "rope",
      ),
      ...(ins.i2s
        ? [
            row(
              "I2_S block layout",
              h("span", {}, h("strong", {"data-i2s": ins.i2s.value}, ins.i2s.description), ` — ${ins.i2s.how}`),
              "i2s",
            ),
          ]
        : []),
      row("Code table", ins.codeTable, "codes"),
      row(
        "Tokenizer",
        tok
          ? `${tok.source}: ${tok.tokens.toLocaleString("en-US")} tokens, BOS ${tok.bos}${tok.addsBos ? " (added by its post-processor template, as transformers does)" : " (not added automatically)"}, EOS ${tok.eos}${tok.chat ? ", instruct chat template (<|eot_id|>)" : ""}`
          : "none (no tokenizer.json or tokenizer.ggml.*): token ids only",
        "tokenizer",
      ),
      row("Memory", memory, "memory"),
      ...(ins.scale
        ? [row("The other convention", `${ins.scale.otherWay}.`, "other")]
        : ins.i2s
          ? [
              row(
                "The other layout",
                `Reading these bytes with another layout (${["x86", "arm", "rows"].filter((l) => l !== ins.i2s!.value).join(" or ")}) scrambles the weights inside every block: all codes stay valid, so nothing fails — only the golden check below shows it.`,
                "other",
              ),
            ]
          : []),
      row("Files", ins.files.map((f) => `${f.name} (${fmtBinaryBytes(f.bytes)})`).join(", "), "files"),
    ),
  );
  const warnings = ins.warnings.length
    ? h("div", {class: "notice", role: "note"}, h("strong", {}, "Warnings: "), ins.warnings.join("; "))
    : null;
  const shapes = tensorList(ins);
  return h("section", {class: "format-inspection", "data-format": ins.format}, tbl, warnings, shapes);
}

export interface GoldenReport {
  tensor: string;
  chosenLabel: string;
  otherLabel: string;
  /** A few weights of the first row, both readings, from index `offset` (where the readings first part). */
  chosen: number[];
  other: number[];
  offset: number;
  /** Checks whose truth is not the reader's own (formats/golden.ts). */
  checks: GoldenCheck[];
  /** CPU vs the other backend on layer 0 (+ head) for the first tokens. */
  layer?: {
    backend: string;
    maxAbsDiff: number;
    tolerance: number;
    pass: boolean;
    argmaxAgree: number;
    positions: number;
  };
  ready: boolean;
  message: string;
}

export function goldenView(r: GoldenReport): HTMLElement {
  const fmt = (x: number) => (x === 0 ? "0" : x.toPrecision(3));
  return h(
    "section",
    {class: "golden", "data-ready": String(r.ready)},
    h(
      "p",
      {},
      r.offset > 0
        ? `Weights ${r.offset}…${r.offset + r.chosen.length - 1} of ${r.tensor}, where the two readings first part (before that they agree):`
        : `First weights of ${r.tensor}, row 0:`,
    ),
    h(
      "table",
      {},
      h(
        "tbody",
        {},
        h("tr", {}, h("th", {scope: "row"}, r.chosenLabel), ...r.chosen.map((x) => h("td", {}, fmt(x)))),
        h("tr", {}, h("th", {scope: "row"}, r.otherLabel), ...r.other.map((x) => h("td", {}, fmt(x)))),
      ),
    ),
    h(
      "ul",
      {class: "golden-checks"},
      ...r.checks.map((c) =>
        h(
          "li",
          {"data-golden": c.id, "data-pass": String(c.pass)},
          h("strong", {}, c.pass ? "PASS " : "FAIL "),
          c.detail,
        ),
      ),
    ),
    r.layer
      ? h(
          "p",
          {},
          `One layer (layer 0 + final norm + head, first tokens) on the CPU reference vs ${r.layer.backend}: max |Δlogit| ${r.layer.maxAbsDiff.toExponential(2)} (tolerance ${r.layer.tolerance}), greedy tokens agree at ${r.layer.argmaxAgree}/${r.layer.positions} positions — ${r.layer.pass ? "PASS" : "FAIL"}.`,
        )
      : null,
    h(
      "p",
      {class: r.ready ? "ready" : "notice", role: "status", "data-status": r.ready ? "ready" : "not-ready"},
      h("strong", {}, r.ready ? "Ready. " : "Not ready. "),
      r.message,
    ),
  );
}

export function errorView(e: unknown): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  return h(
    "div",
    {class: "notice error", role: "alert", "data-error": (e as {name?: string})?.name ?? "Error"},
    h("strong", {}, "Cannot open this checkpoint: "),
    msg,
  );
}
