// Moved to kernels/measure/tune.ts (measurement code lives there); this path stays for existing imports.
export * from "./measure/tune.js";
