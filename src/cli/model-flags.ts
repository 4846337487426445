// The flags every command that reads a model takes: how to read what a file cannot say about itself.
import type {ParsedArgs} from "./command.js";
import {UsageError, flagBool, flagString} from "./command.js";
import {I2S_LAYOUT_NAMES} from "../lib/formats/i2s.js";
import type {I2SLayout} from "../lib/formats/i2s.js";
import type {OpenOptions, ScaleConvention} from "../lib/formats/open.js";

export const MODEL_FLAGS = {"i2s-layout": "string", scale: "string", "as-bitnet": "boolean"} as const;
export const MODEL_USAGE = "[--i2s-layout x86|arm|rows] [--scale multiply|divide] [--as-bitnet]";

/** An I2_S layout flag's value, checked (undefined when the flag is absent). */
export function layoutFlag(args: ParsedArgs, flag: string): I2SLayout | undefined {
  const layout = flagString(args, flag);
  if (layout !== undefined && !(I2S_LAYOUT_NAMES as readonly string[]).includes(layout)) {
    throw new UsageError(`--${flag} must be ${I2S_LAYOUT_NAMES.join(", ")}, got "${layout}"`);
  }
  return layout as I2SLayout | undefined;
}

/** --i2s-layout (a GGUF file's I2_S byte layout, decided from the file when absent), --scale (an HF packed
 *  checkpoint's weight_scale convention, decided from config.json when absent) and --as-bitnet (run a float Llama's
 *  projections as BitNet b1.58, as onebitllms runs Falcon-E's prequantized revision). */
export function modelOpenOptions(args: ParsedArgs): OpenOptions {
  const scale = flagString(args, "scale");
  if (scale !== undefined && scale !== "multiply" && scale !== "divide") {
    throw new UsageError(`--scale must be multiply or divide, got "${scale}"`);
  }
  return {
    i2sLayout: layoutFlag(args, "i2s-layout"),
    scale: scale as ScaleConvention | undefined,
    ...(flagBool(args, "as-bitnet") && {asBitNet: true}),
  };
}
