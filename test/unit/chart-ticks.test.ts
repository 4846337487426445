import {expect, it} from "vitest";
import {spreadTicks} from "../../src/components/charts.js";

it("spreadTicks drops ticks that would sit closer than the gap (sparsity chart K = 0.05 … 1 at 300 px)", () => {
  expect(spreadTicks([0.05, 0.1, 0.15, 0.25, 0.5, 0.75, 1], 0.05, 1, 300)).toEqual([0.05, 0.25, 0.5, 0.75, 1]);
  expect(spreadTicks([0, 1, 2], 0, 2, 600)).toEqual([0, 1, 2]);
});
