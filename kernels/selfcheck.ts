// Moved to kernels/measure/selfcheck.ts (measurement code lives there); this path stays for existing imports.
export * from "./measure/selfcheck.js";
