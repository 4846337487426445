// The FFN block of a layer (split from blocks.ts, issue 21).
import type {Step} from "./types.js";
import {bitLinearSteps} from "./bitlinear-steps.js";
import {type BuildContext, statsEligible, decodeParts, type NQ, C8, type Mode} from "./build-context.js";
import {ffnNQ, perProjection, normAddStep, gluStep} from "./layer-steps.js";

/** FFN block of layer l: h += W_down(ffn_sub_norm(act(gate(x)) ⊙ up(x))), x = RMSNorm(h). */
export async function ffnBlock(b: BuildContext, l: number, mode: Mode): Promise<Step[]> {
  const {P, A, W} = b;
  const Lw = W.layers[l];
  const decode = mode === "decode";
  const M = decode ? 1 : b.maxBlock;
  const insp = b.inspect && !decode;
  const s = P.sites;
  const stats = !Lw.proj && !Lw.linNorm; // see attentionBlock
  const downNQ: NQ = {
    n: P.F,
    src: "plain",
    norm: s.down.subNorm || !!Lw.linNorm,
    hadamard: s.down.hadamard,
    topK: undefined,
    quant: P.downIn,
  };
  const guIn =
    decode && stats && statsEligible(b, ffnNQ(b))
      ? {buf: b.statsBufs!.h, parts: decodeParts(b, P.C, P.H * P.d, "residual")}
      : undefined;
  const downIn =
    decode && stats && statsEligible(b, downNQ)
      ? {buf: b.statsBufs!.glu, parts: decodeParts(b, 2 * P.F, P.C, P.glu)}
      : undefined;
  const next = W.layers[l + 1];
  const qkvNext: NQ = {n: P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant: P.attnIn};
  const downOut =
    decode && stats && next && !next.proj && !next.linNorm && statsEligible(b, qkvNext)
      ? {buf: b.statsBufs!.h, gamma: next.inNorm}
      : undefined;
  const first: Step[] = [];
  if (Lw.proj) {
    first.push(
      ...(await perProjection(
        b,
        l,
        M,
        decode,
        "gate_up",
        Lw.postNorm,
        [
          ["gate", 0],
          ["up", 0],
        ],
        undefined,
        P.F,
        insp,
      )),
    );
    const glu = await gluStep(b, l);
    first.push(insp ? {...glu, after: {layer: l, what: "glu"}} : glu);
  } else {
    const gu = await bitLinearSteps(b, {
      l,
      site: "gate_up",
      M,
      decode,
      statsIn: guIn,
      statsOut: downIn ? {buf: b.statsBufs!.glu, gamma: Lw.ffnSub!} : undefined,
      nq: ffnNQ(b),
      src: A.h,
      srcStride: P.C,
      normW: Lw.postNorm,
      lb: Lw.gu,
      ep: P.glu,
      out: A.inner,
      yStride: P.F,
      inspectIn: "gate_up_in",
      inspectOut: "glu",
      insp,
    });
    first.push(...gu.steps);
  }
  const dn = await bitLinearSteps(b, {
    l,
    site: "down",
    M,
    decode,
    statsIn: Lw.proj ? undefined : downIn,
    statsOut: downOut,
    nq: downNQ,
    src: A.inner,
    srcStride: P.F,
    normW: Lw.linNorm ? Lw.linNorm.down : Lw.ffnSub,
    had: s.down.hadamard ? A.hadDown : undefined,
    lb: Lw.down,
    ep: Lw.sandwich ? "store" : "residual",
    out: Lw.sandwich ? A.xnorm! : A.h,
    yStride: Lw.sandwich ? C8(P) : P.C,
    inspectIn: "down_in",
    inspectOut: Lw.sandwich ? undefined : "residual",
    insp,
    eps: Lw.linNorm ? P.c.bitnet_linear_norm_eps : undefined,
  });
  if (!Lw.sandwich) return [...first, ...dn.steps];
  // the block's output is h after the post-FFN norm-add, so the inspection copies it there
  const post = await normAddStep(b, l, "ffn");
  return [...first, ...dn.steps, insp ? {...post, after: {layer: l, what: "residual"}} : post];
}
