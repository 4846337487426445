#!/usr/bin/env bash
# One device call: peers (0xBitNet WGSL, microsoft/BitNet W2A8 C++ and torch, cuBLAS bf16) and our bench, one after
# another on the GPU. Usage from the repo root: bash .dev-i10/run.sh   (carry .gpu-i10 and .dev-i10)
R=$(pwd); D=$R/.dev-i10; B=/tmp/b; mkdir -p $B
source .gpu-i10/on-device.sh > $OUT/device.txt 2>&1; cat $OUT/device.txt; which node
nproc; python3 -c "import torch; print(torch.__version__)" 2>&1
cp -r $D/bitnet_kernels $D/pack_weight.py $B/
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
( cd $B/bitnet_kernels && nvcc -std=c++17 -Xcudafe --diag_suppress=177 --compiler-options -fPIC -lineinfo --shared bitnet_kernels.cu -lcuda -gencode=arch=compute_90,code=sm_90 -o libbitnet.so > $B/nvcc1.log 2>&1 ) &
( nvcc -std=c++17 -O3 -Xcudafe --diag_suppress=177 -lineinfo -gencode=arch=compute_90,code=sm_90 -I$B/bitnet_kernels $D/w2a8_bench.cu -o $B/w2a8_bench -lcuda > $B/nvcc2.log 2>&1 ) &
cp $D/wgsl_peers.mjs .gpu-i10/
el wgsl; timeout 70 node .gpu-i10/wgsl_peers.mjs $D/ternary_gemv.wgsl > $B/wgsl.json 2> $B/wgsl.log; tail -4 $B/wgsl.log
wait; el compiled; cat $B/nvcc1.log $B/nvcc2.log | tail -5; ls -la $B
el w2a8cpp; timeout 60 $B/w2a8_bench > $B/w2a8cpp.json 2> $B/w2a8cpp.log; cat $B/w2a8cpp.json
el torch; PYTHONUNBUFFERED=1 timeout 100 python3 $D/torch_peers.py --lib $B/bitnet_kernels/libbitnet.so --packdir $B > $B/torch.json 2> $B/torch.log; tail -8 $B/torch.log
el e2e; PYTHONUNBUFFERED=1 timeout 110 python3 $D/w2a8_e2e.py --lib $B/bitnet_kernels/libbitnet.so --ctx 512 > $B/e2e.json 2> $B/e2e.log; tail -6 $B/e2e.log
merge() { python3 - "$@" <<'PY'
import json, os, sys
out = {}
for k, f in [("torch", "torch.json"), ("w2a8Cpp", "w2a8cpp.json"), ("e2e", "e2e.json"), ("wgsl", "wgsl.json")]:
    try: out[k] = json.load(open("/tmp/b/" + f))
    except Exception as e: out[k + "Error"] = str(e)
json.dump(out, open(sys.argv[1], "w"), indent=1)
PY
}
merge $B/peers.json; cp $B/peers.json $OUT/peers-h200.json; cat $B/*.log > $OUT/peers.log 2>&1
el bench; timeout 230 node .gpu-i10/gpu.mjs --json --peers $B/peers.json > $OUT/h200.json 2> $OUT/bench.log; tail -30 $OUT/bench.log
merge $OUT/peers-h200.json
cat $B/*.log > $OUT/peers.log 2>&1
el done
