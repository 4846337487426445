// Moved to kernels/measure/timing.ts (measurement code lives there); this path stays for existing imports.
export * from "./measure/timing.js";
