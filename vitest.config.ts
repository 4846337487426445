import {defineConfig} from "vitest/config";

// Three layers, each its own project so `npm test` can run them in order and report them apart.
export default defineConfig({
  test: {
    projects: [
      {test: {name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node", testTimeout: 60_000}},
      {
        test: {
          name: "gpu",
          include: ["test/gpu/**/*.test.ts"],
          environment: "node",
          // Dawn on SwiftShader (Chromium's CPU Vulkan driver) where no GPU driver is configured.
          env: {VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? "/usr/lib/chromium/vk_swiftshader_icd.json"},
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          pool: "forks",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          pool: "forks",
        },
      },
    ],
  },
});
