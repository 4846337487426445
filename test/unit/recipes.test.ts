// The model recipes are written once (src/lib/recipes.ts): every place that names the shipped models reads them,
// and the copies that cannot import TypeScript are checked equal here.
import {existsSync, readFileSync, readdirSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {RECIPES, SHIPPED_NAMES, recipesJSON} from "../../src/lib/recipes.js";
import {parseConfig} from "../../src/lib/checkpoint.js";

describe("model recipes", () => {
  it("configs/models.json (the PyTorch mirror's copy) equals src/lib/recipes.ts — regenerate with scripts/dev/recipes-json.ts", () => {
    expect(readFileSync("configs/models.json", "utf8")).toBe(recipesJSON());
  });

  it("every shipped recipe has its folder in data/models and its config in configs/, with the recipe's variant and shape", () => {
    const dirs = readdirSync("data/models", {withFileTypes: true})
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(dirs).toEqual([...SHIPPED_NAMES].sort());
    for (const r of RECIPES) {
      const path = r.diagnostic ? `configs/diagnostics/${r.name}.json` : `configs/${r.name}.json`;
      expect(existsSync(path), path).toBe(true);
      if (r.diagnostic) continue;
      const c = parseConfig(JSON.parse(readFileSync(`data/models/${r.name}/config.json`, "utf8")));
      expect(c.bitnet_variant, r.name).toBe(r.variant);
      for (const [k, v] of Object.entries(r.shape)) expect(c[k as keyof typeof c], `${r.name}.${k}`).toBe(v);
    }
  });

  it("a continuation continues a recipe that exists, and the page's attachments cover exactly the shipped models", () => {
    for (const r of RECIPES)
      if (r.continues)
        expect(
          RECIPES.some((p) => p.name === r.continues && !p.continues),
          r.name,
        ).toBe(true);
    // FileAttachment needs literal paths, so models.ts spells each one out: one per shipped model, no more
    const src = readFileSync("src/app/models.ts", "utf8");
    const attached = [...src.matchAll(/FileAttachment\("\.\.\/data\/models\/([^/]+)\/config\.json"\)/g)].map(
      (m) => m[1],
    );
    expect(attached.sort()).toEqual([...SHIPPED_NAMES].sort());
  });
});
