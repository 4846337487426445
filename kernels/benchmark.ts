// Moved to kernels/measure/benchmark.ts (measurement code lives there); this path stays for existing imports.
export * from "./measure/benchmark.js";
