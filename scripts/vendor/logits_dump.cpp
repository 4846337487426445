// bitnet.cpp's own logits for fixed token sequences, through the fork's public llama.h API only.
//   logits_dump MODEL.gguf SEQUENCES.txt OUT.json [--step]
// SEQUENCES.txt: one sequence per line, token ids separated by spaces (the caller puts BOS first).
// Every position of every sequence gets logits=true; one thread; the KV cache is cleared between sequences,
// so each sequence is evaluated alone from position 0: in one llama_decode call (default: the prompt/batch
// kernels), or with --step one llama_decode per token (the single-token kernels that generation uses).
// Non-finite logits are written as null (JSON has no NaN).
#include "llama.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char ** argv) {
    if (argc != 4 && !(argc == 5 && std::string(argv[4]) == "--step")) {
        fprintf(stderr, "usage: %s MODEL.gguf SEQUENCES.txt OUT.json [--step]\n", argv[0]); return 2;
    }
    const bool step = argc == 5;
    std::vector<std::vector<llama_token>> seqs;
    std::ifstream in(argv[2]);
    for (std::string line; std::getline(in, line);) {
        std::istringstream ss(line); std::vector<llama_token> s; long t;
        while (ss >> t) s.push_back((llama_token) t);
        if (!s.empty()) seqs.push_back(s);
    }
    if (seqs.empty()) { fprintf(stderr, "no sequences in %s\n", argv[2]); return 2; }
    size_t maxlen = 0; for (auto & s : seqs) maxlen = s.size() > maxlen ? s.size() : maxlen;

    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0; mp.use_mmap = false;
    llama_model * model = llama_load_model_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "failed to load %s\n", argv[1]); return 1; }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t) ((maxlen + 31) / 32 * 32); cp.n_batch = cp.n_ctx; cp.n_ubatch = cp.n_ctx;
    cp.n_threads = 1; cp.n_threads_batch = 1; cp.no_perf = true;
    llama_context * ctx = llama_new_context_with_model(model, cp);
    if (!ctx) { fprintf(stderr, "failed to create context\n"); return 1; }
    const int n_vocab = llama_n_vocab(model);

    FILE * f = fopen(argv[3], "w");
    if (!f) { perror(argv[3]); return 1; }
    char desc[256]; llama_model_desc(model, desc, sizeof desc);
    std::string base = argv[1]; base = base.substr(base.find_last_of('/') == std::string::npos ? 0 : base.find_last_of('/') + 1);
    fprintf(f, "{\"model\":\"%s\",\"desc\":\"%s\",\"n_vocab\":%d,\"rope_type\":%d,\"n_threads\":1,\"mode\":\"%s\",\"tokens\":[", base.c_str(), desc, n_vocab, (int) llama_rope_type(model), step ? "step" : "batch");
    for (size_t k = 0; k < seqs.size(); k++) {
        fprintf(f, "%s[", k ? "," : "");
        for (size_t i = 0; i < seqs[k].size(); i++) fprintf(f, "%s%d", i ? "," : "", seqs[k][i]);
        fprintf(f, "]");
    }
    fprintf(f, "],\"logits\":[");
    for (size_t k = 0; k < seqs.size(); k++) {
        const auto & s = seqs[k];
        llama_kv_cache_clear(ctx);
        llama_batch b = llama_batch_init((int32_t) s.size(), 0, 1);
        std::vector<std::vector<float>> out;
        for (size_t i0 = 0; i0 < s.size(); i0 += step ? 1 : s.size()) {
            const size_t n = step ? 1 : s.size();
            for (size_t j = 0; j < n; j++) {
                b.token[j] = s[i0 + j]; b.pos[j] = (llama_pos) (i0 + j); b.n_seq_id[j] = 1; b.seq_id[j][0] = 0; b.logits[j] = 1;
            }
            b.n_tokens = (int32_t) n;
            if (llama_decode(ctx, b) != 0) { fprintf(stderr, "llama_decode failed on sequence %zu\n", k); return 1; }
            for (size_t j = 0; j < n; j++) {
                const float * l = llama_get_logits_ith(ctx, (int32_t) j);
                out.emplace_back(l, l + n_vocab);
            }
        }
        fprintf(f, "%s[", k ? "," : "");
        for (size_t i = 0; i < out.size(); i++) {
            fprintf(f, "%s[", i ? "," : "");
            for (int v = 0; v < n_vocab; v++) {
                if (std::isfinite(out[i][v])) fprintf(f, "%s%.9g", v ? "," : "", out[i][v]);
                else fprintf(f, "%snull", v ? "," : "");
            }
            fprintf(f, "]");
        }
        fprintf(f, "]");
        llama_batch_free(b);
    }
    fprintf(f, "]}\n");
    fclose(f);
    llama_free(ctx);
    llama_free_model(model);
    llama_backend_free();
    return 0;
}
