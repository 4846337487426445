// Writes configs/models.json from src/lib/recipes.ts (the PyTorch mirror's copy of the model recipes).
import {writeFileSync} from "node:fs";
import {recipesJSON} from "../../src/lib/recipes.js";

writeFileSync("configs/models.json", recipesJSON());
console.log("wrote configs/models.json");
