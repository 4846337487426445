// The flags every command that reads a model takes: how to read what a file cannot say about itself.
import type {ParsedArgs} from "./command.js";
import {UsageError, flagString} from "./command.js";
import {I2S_LAYOUT_NAMES} from "../lib/formats/i2s.js";
import type {I2SLayout} from "../lib/formats/i2s.js";
import type {OpenOptions, ScaleConvention} from "../lib/formats/open.js";

export const MODEL_FLAGS = {"i2s-layout": "string", scale: "string"} as const;
export const MODEL_USAGE = "[--i2s-layout x86|arm|rows] [--scale multiply|divide]";

/** --i2s-layout (a GGUF file's I2_S byte layout, decided from the file when absent) and --scale (an HF packed
 *  checkpoint's weight_scale convention, decided from config.json when absent). */
export function modelOpenOptions(args: ParsedArgs, layoutFlag = "i2s-layout"): OpenOptions {
  const layout = flagString(args, layoutFlag);
  if (layout !== undefined && !(I2S_LAYOUT_NAMES as readonly string[]).includes(layout))
    throw new UsageError(`--${layoutFlag} must be ${I2S_LAYOUT_NAMES.join(", ")}, got "${layout}"`);
  const scale = flagString(args, "scale");
  if (scale !== undefined && scale !== "multiply" && scale !== "divide")
    throw new UsageError(`--scale must be multiply or divide, got "${scale}"`);
  return {i2sLayout: layout as I2SLayout | undefined, scale: scale as ScaleConvention | undefined};
}
