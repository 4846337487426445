// The shipped models and how they are made, written once: the chapters' model list, the trainer scripts, the
// PyTorch mirror (through configs/models.json, which test/unit/recipes.test.ts keeps equal to this), the
// reproduction table and the importer all read it. A continuation (`continues`) starts from its parent's
// saved state at its own first activation stage, where their recipes agree (train/plan.ts recipePrefixDiff).
import type {BitNetConfig, Variant} from "./config.js";

export interface ModelRecipe {
  /** Folder under data/models and config under configs/ (diagnostics: configs/diagnostics/). */
  name: string;
  label: string;
  variant: Variant;
  /** Config fields that set this model apart within its variant (the chapters' random stand-in uses them). */
  shape: Partial<BitNetConfig>;
  /** Activations, in the reproduction table's words. */
  activations: string;
  /** The model whose saved state this one continues, if any. */
  continues?: string;
  /** A diagnostic run: trained and tabled, not shipped. */
  diagnostic?: boolean;
}

export const RECIPES: readonly ModelRecipe[] = [
  {name: "fp", label: "fp (full precision)", variant: "fp", shape: {}, activations: "fp32"},
  {name: "b1.58", label: "b1.58 (W1.58 A8)", variant: "b1.58", shape: {}, activations: "A8"},
  {
    name: "a4.8",
    label: "a4.8 (W1.58 A4, top-K, ReLU²)",
    variant: "a4.8",
    shape: {},
    activations: "A4 hybrid (INT4 / top-K 50% INT8 / INT8), A8 before 95%",
  },
  {
    name: "v2-a8",
    label: "v2 a8 (H-BitLinear, INT8)",
    variant: "v2",
    shape: {bitnet_activation_bits: 8},
    activations: "A8 + Hadamard",
  },
  {
    name: "v2-a4",
    label: "v2 a4 (H-BitLinear, INT4)",
    variant: "v2",
    shape: {bitnet_activation_bits: 4},
    activations: "A4 + Hadamard, A8 before 95%",
    continues: "v2-a8",
  },
  {
    name: "v2-a4-nohadamard",
    label: "v2 a4 without Hadamard (ablation)",
    variant: "v2",
    shape: {bitnet_activation_bits: 4, bitnet_hadamard: false},
    activations: "A4, no rotation at any step, A8 before 95%",
    continues: "b1.58",
  },
  {
    name: "v2-a4-rotation-dropped",
    label: "v2 a4, rotation dropped at 95% (diagnostic)",
    variant: "v2",
    shape: {bitnet_activation_bits: 4},
    activations: "A4, rotation removed at 95% (W_o/W_down trained on rotated inputs)",
    continues: "v2-a8",
    diagnostic: true,
  },
];

/** The shipped models (data/models/<name>), in the pickers' order. */
export const SHIPPED_RECIPES: readonly ModelRecipe[] = RECIPES.filter((r) => !r.diagnostic);
export const SHIPPED_NAMES: readonly string[] = SHIPPED_RECIPES.map((r) => r.name);
/** Shipped models with ternary weights (every variant but fp). */
export const TERNARY_NAMES: readonly string[] = SHIPPED_RECIPES.filter((r) => r.variant !== "fp").map((r) => r.name);

export function recipe(name: string): ModelRecipe {
  const r = RECIPES.find((x) => x.name === name);
  if (!r) throw new Error(`no model recipe "${name}" (known: ${RECIPES.map((x) => x.name).join(", ")})`);
  return r;
}

/** configs/models.json: what the PyTorch mirror (scripts/train_torch.py) reads. */
export function recipesJSON(): string {
  return (
    JSON.stringify(
      {
        note: "generated from src/lib/recipes.ts (npx tsx scripts/dev/recipes-json.ts); test/unit/recipes.test.ts keeps it equal",
        models: RECIPES,
      },
      null,
      1,
    ) + "\n"
  );
}
