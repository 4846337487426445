// Regenerates the tiny random checkpoints under data/fixtures/ that the transformers twin
// (scripts/hf_twin.py) and test/unit/hf-twin.test.ts compare against. Deterministic: same seeds, same bytes.
//   npx tsx scripts/make-fixtures.ts
import {defaultConfig} from "../src/lib/config.js";
import {randomWeights} from "../src/lib/init.js";
import {writeModelDir} from "../src/node/modeldir.js";

// Shaped like BitNet b1.58 2B4T in miniature: ReLU²-GLU, sub-norms, GQA 4/2, tied embeddings.
const shape = {
  vocab_size: 300,
  hidden_size: 64,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
};

const b158 = defaultConfig("b1.58", {
  ...shape,
  hidden_act: "relu2",
  bitnet_sub_norms: true,
  tie_word_embeddings: true,
  rope_theta: 10000,
});
await writeModelDir("data/fixtures/tiny-b158", randomWeights(b158, 1234));

// The fp twin covers SwiGLU, an untied head and a non-default rope_theta (transformers' BitNet always has
// the sub-norms, so the fp fixture keeps them).
const fp = defaultConfig("fp", {
  ...shape,
  hidden_act: "silu",
  bitnet_sub_norms: true,
  tie_word_embeddings: false,
  rope_theta: 500000,
});
await writeModelDir("data/fixtures/tiny-fp", randomWeights(fp, 5678));
console.log("wrote data/fixtures/tiny-b158 and data/fixtures/tiny-fp");
