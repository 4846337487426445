#!/usr/bin/env bash
# call 1 (carry .perf1): keep Node's first half for the next call; the CUDA peers (microsoft/BitNet W2A8 from C++ and
# torch, its decode model, cuBLAS bf16, CUDA copy) one after another on the GPU
D=$(pwd)/.perf1; B=/tmp/b; K=/tmp/keep; mkdir -p $B $K; cp $D/nodeA $K/nodeA
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device1.txt
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
cp -r $D/bitnet_kernels $D/pack_weight.py $B/
( cd $B/bitnet_kernels && nvcc -std=c++17 -Xcudafe --diag_suppress=177 --compiler-options -fPIC -lineinfo --shared bitnet_kernels.cu -lcuda -gencode=arch=compute_90,code=sm_90 -o libbitnet.so > $B/nvcc1.log 2>&1 ) &
( nvcc -std=c++17 -O3 -Xcudafe --diag_suppress=177 -lineinfo -gencode=arch=compute_90,code=sm_90 -I$B/bitnet_kernels $D/w2a8_bench.cu -o $B/w2a8_bench -lcuda > $B/nvcc2.log 2>&1 ) &
wait; el compiled; tail -3 $B/nvcc1.log $B/nvcc2.log
el w2a8cpp; timeout 45 $B/w2a8_bench > $B/w2a8cpp.json 2> $B/w2a8cpp.log; tail -3 $B/w2a8cpp.log
el torch; PYTHONUNBUFFERED=1 timeout 80 python3 $D/torch_peers.py --lib $B/bitnet_kernels/libbitnet.so --packdir $B > $B/torch.json 2> $B/torch.log; tail -8 $B/torch.log
el e2e; PYTHONUNBUFFERED=1 timeout 90 python3 $D/w2a8_e2e.py --lib $B/bitnet_kernels/libbitnet.so --ctx 512 > $B/e2e.json 2> $B/e2e.log; tail -6 $B/e2e.log
python3 - <<'PY'
import json
out = {}
for k, f in [("torch", "torch.json"), ("w2a8Cpp", "w2a8cpp.json"), ("e2e", "e2e.json")]:
    try: out[k] = json.load(open("/tmp/b/" + f))
    except Exception as e: out[k + "Error"] = str(e)
json.dump(out, open("/tmp/keep/peers.json", "w"), indent=1)
PY
cp $K/peers.json $OUT/peers-cuda.json; cat $B/*.log > $OUT/peers-cuda.log 2>&1; el done
