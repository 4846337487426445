#!/usr/bin/env bash
# call A (issue 25, fourth pass): every peer, then this engine's bench with their numbers, one after another on one GPU
source .perf2/setup1.sh; P=$(pwd)/.perf1; B=/tmp/b
cp -r $P/bitnet_kernels $P/pack_weight.py $B/
( cd $B/bitnet_kernels && nvcc -std=c++17 -Xcudafe --diag_suppress=177 --compiler-options -fPIC -lineinfo --shared bitnet_kernels.cu -lcuda -gencode=arch=compute_90,code=sm_90 -o libbitnet.so > $B/nvcc1.log 2>&1 ) &
( nvcc -std=c++17 -O3 -Xcudafe --diag_suppress=177 -lineinfo -gencode=arch=compute_90,code=sm_90 -I$B/bitnet_kernels $P/w2a8_bench.cu -o $B/w2a8_bench -lcuda > $B/nvcc2.log 2>&1 ) &
el wgsl; timeout 40 node $D/b/wgsl_peers.mjs $D/b/ternary_gemv.wgsl > $B/wgsl.json 2> $B/wgsl.log; tail -3 $B/wgsl.log
wait; el compiled; cat $B/nvcc1.log $B/nvcc2.log | tail -3
el w2a8cpp; timeout 45 $B/w2a8_bench > $B/w2a8cpp.json 2> $B/w2a8cpp.log; head -c 600 $B/w2a8cpp.json; echo
el torch; PYTHONUNBUFFERED=1 timeout 80 python3 $P/torch_peers.py --lib $B/bitnet_kernels/libbitnet.so --packdir $B > $B/torch.json 2> $B/torch.log; tail -5 $B/torch.log
el e2e; PYTHONUNBUFFERED=1 timeout 120 python3 $P/w2a8_e2e.py --lib $B/bitnet_kernels/libbitnet.so --ctx 512,2048 > $B/e2e.json 2> $B/e2e.log; tail -5 $B/e2e.log
python3 - <<'PY'
import json
out = {}
for k, f in [("torch", "torch.json"), ("w2a8Cpp", "w2a8cpp.json"), ("e2e", "e2e.json"), ("wgsl", "wgsl.json")]:
    try: out[k] = json.load(open("/tmp/b/" + f))
    except Exception as e: out[k + "Error"] = str(e)
json.dump(out, open("/tmp/keep/peers.json", "w"), indent=1)
PY
cp /tmp/keep/peers.json $OUT/peers.json; cat $B/*.log > $OUT/peers.log 2>&1
el bench; timeout ${BENCH_S:-250} node $D/b/gpu.mjs --json --peers /tmp/keep/peers.json > $OUT/bench.json 2> $OUT/bench.log; echo "bench rc $?"; tail -90 $OUT/bench.log
el done
