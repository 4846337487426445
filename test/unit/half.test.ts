// IEEE half conversion (src/lib/half.ts): the one copy the engine's f16 packing, the readers and the GGUF writer use.
import {describe, expect, it} from "vitest";
import {f16BitsToF32, f32ToF16Bits} from "../../src/lib/half.js";
import {fromFloat32, toFloat32} from "../../src/lib/safetensors.js";

describe("half precision", () => {
  it("hand-worked values: normal, largest, overflow, subnormal, ties to even, signed zero, NaN", () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up past the largest finite half
    expect(f32ToF16Bits(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // halfway to 0: ties to even
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and the next half: even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, odd below: rounds up
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it("every one of the 65536 halves round-trips, and the safetensors F16 codec agrees", () => {
    const bits = Uint16Array.from({length: 65536}, (_, i) => i);
    const vals = Float32Array.from(bits, (b) => f16BitsToF32(b));
    for (let b = 0; b < 65536; b++) {
      if (Number.isNaN(vals[b])) continue;
      expect(f32ToF16Bits(vals[b])).toBe(b);
    }
    const bytes = fromFloat32(
      vals.filter((v) => !Number.isNaN(v)),
      "F16",
    );
    const back = toFloat32(bytes, "F16");
    expect(Array.from(back)).toEqual(Array.from(vals.filter((v) => !Number.isNaN(v))));
  });
});
