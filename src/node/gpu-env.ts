// Which Vulkan driver Dawn (npm `webgpu`) will find, decided before Dawn starts. On a machine without a GPU
// driver the Vulkan loader prints "vkCreateInstance: Found no drivers!" and a Dawn source path on every GPU
// command before Dawn falls back to SwiftShader; pointing the loader at SwiftShader up front avoids the noise
// (and the failed first attempt). Nothing changes where a driver is installed or the user chose one.
import {existsSync, readdirSync} from "node:fs";
import {homedir} from "node:os";
import {join} from "node:path";

export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

export type VulkanDrivers =
  | "user" // VK_ICD_FILENAMES / VK_DRIVER_FILES set by the user
  | "system" // an installed driver manifest (a real GPU, or a software driver the system provides)
  | "swiftshader" // none installed: SwiftShader from Chromium, a CPU implementation (correct, slow)
  | "none"; // no Vulkan driver at all: WebGPU in Node cannot work

/** The loader's manifest folders (Linux; other systems use their own registries: treated as "system"). */
function icdDirs(env: NodeJS.ProcessEnv): string[] {
  const data = (env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":").filter(Boolean);
  const config = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":").filter(Boolean);
  return [...config, "/etc", ...data, join(env.XDG_DATA_HOME || join(homedir(), ".local/share"))].map((d) =>
    join(d, "vulkan", "icd.d"),
  );
}

function hasManifest(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => f.endsWith(".json"));
  } catch {
    return false;
  }
}

/** Finds the Vulkan driver Dawn will use and, when none is installed but SwiftShader is, selects SwiftShader
 *  through VK_ICD_FILENAMES (read by the loader when Dawn starts). Call before the first Dawn instance. */
export function prepareVulkan(env: NodeJS.ProcessEnv = process.env, platform = process.platform): VulkanDrivers {
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return "user";
  if (platform !== "linux") return "system";
  if (icdDirs(env).some(hasManifest)) return "system";
  if (existsSync(SWIFTSHADER_ICD)) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    return "swiftshader";
  }
  return "none";
}

let decided: VulkanDrivers | undefined;

/** prepareVulkan() for this process, once. */
export function vulkanDrivers(): VulkanDrivers {
  return (decided ??= prepareVulkan());
}
