// Moved to kernels/measure/microbench.ts (measurement code lives there); this path stays for existing imports.
export * from "./measure/microbench.js";
