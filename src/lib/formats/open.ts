// Opening a checkpoint someone brings: detect the format from the files, decide every convention from
// what the files say (and say how it was decided), validate all headers and shapes, and only then read
// tensors — one at a time, so a 2B4T checkpoint is never one buffer.
//
// Formats read:
//   hf-packed  config.json + model.safetensors (or shards): U8 [out/4, in] row-block packed ternary with a
//              per-tensor weight_scale; linear_class "autobitlinear" multiplies (y = W̃x · weight_scale,
//              microsoft/bitnet-b1.58-2B-4T), "bitlinear" divides (weight_scale = 1/mean|W|, Falcon-E).
//   hf-latent  bf16/f32 master weights with quantization_mode "online" (…-2B-4T-bf16): ternarized at load
//              with the library's absmean quantizer, exactly as transformers does on every forward.
//   hf-fp      no quantization_config: a float model.
//   (the hf-* formats are read by open-hf.ts)
//   gguf-i2s   bitnet.cpp's GGUF (arch bitnet-25 / bitnet-b1.58) with I2_S projections (open-gguf.ts).
import type {OpenOptions, OpenedCheckpoint} from "./open-common.js";
import {openGGUFFile} from "./open-gguf.js";
import {openHF} from "./open-hf.js";
import {INDEX_FILE} from "./safetensors-files.js";
import {FormatError} from "./source.js";
import type {FileSet} from "./source.js";

export * from "./open-common.js";

// ------------------------------------------------------------------ detection

/** Opens whatever `files` holds: a .gguf file, or an HF folder (config.json + model.safetensors or shards). */
export async function openCheckpoint(files: FileSet, opts: OpenOptions = {}): Promise<OpenedCheckpoint> {
  const names = files.names();
  const ggufs = names.filter((n) => n.toLowerCase().endsWith(".gguf"));
  if (ggufs.length > 1)
    throw new FormatError(`${files.label}: ${ggufs.length} GGUF files (${ggufs.join(", ")}): open one at a time`);
  if (ggufs.length === 1) return openGGUFFile(files.get(ggufs[0])!, opts, files);
  const onnx = names.filter((n) => n.toLowerCase().endsWith(".onnx"));
  if (onnx.length) throw await onnxRefusal(files, onnx[0]);
  // A lone file that is GGUF by content (renamed): sniff the magic.
  for (const n of names) {
    const s = files.get(n)!;
    if (s.size >= 4 && !n.endsWith(".json")) {
      const m = await s.read(0, 4);
      if (m[0] === 0x47 && m[1] === 0x47 && m[2] === 0x55 && m[3] === 0x46) return openGGUFFile(s, opts, files);
    }
  }
  if (names.includes("model.safetensors") || names.includes(INDEX_FILE)) return openHF(files, opts);
  const st = names.filter((n) => n.endsWith(".safetensors"));
  if (st.length)
    throw new FormatError(
      `${files.label}: safetensors files (${st.slice(0, 3).join(", ")}) but no model.safetensors or ${INDEX_FILE}; drop the whole model folder`,
    );
  // PyTorch pickles (BitCPM-CANN ships pytorch_model.bin): unpickling can run code, and a reader needs torch's format
  const pickles = names.filter((n) => /\.(bin|pt|pth)$/i.test(n));
  if (pickles.length)
    throw new FormatError(
      `${files.label}: ${pickles[0]} is a PyTorch pickle checkpoint: not read (unpickling can run code). Convert it to safetensors first, e.g. in Python: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)`,
    );
  if (names.includes("config.json"))
    throw new FormatError(`${files.label}: config.json but no weights (model.safetensors, ${INDEX_FILE} or a .gguf)`);
  throw new FormatError(
    `${files.label}: no checkpoint found (expected a .gguf file, or a folder with config.json and model.safetensors / ${INDEX_FILE}); got ${names.slice(0, 5).join(", ") || "nothing"}`,
  );
}

/** ONNX Runtime exports (e.g. ternary models quantized with ORT's MatMulNBits) are named and refused: the file is an
 *  ONNX graph (protobuf), not a checkpoint, and MatMulNBits stores 2/4/8-bit unsigned codes in blocks along the
 *  input with an f32/f16 scale and a zero point per block — asymmetric, per block, where this project runs ternary
 *  codes with one scale per tensor. The graph's node list comes first in the file, so the op is looked for there. */
async function onnxRefusal(files: FileSet, name: string): Promise<FormatError> {
  const src = files.get(name)!;
  const head = await src.read(0, Math.min(src.size, 1 << 20));
  const text = new TextDecoder("latin1").decode(head);
  const nbits = text.includes("MatMulNBits");
  return new FormatError(
    `${files.label}: ${name} is an ONNX Runtime model${nbits ? " whose projections are MatMulNBits nodes" : ""}: not read. ` +
      "ONNX graphs are not checkpoints this project opens (no config.json, weights inside a protobuf graph), and ORT's MatMulNBits keeps " +
      "2/4/8-bit unsigned codes with a scale and a zero point per block of the input — asymmetric and per block, not ternary codes with one scale per tensor. " +
      "Open the Hugging Face checkpoint the ONNX file was exported from instead.",
  );
}
