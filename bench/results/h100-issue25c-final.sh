#!/usr/bin/env bash
# call 2 (carry .perf2, the machine of call 1): the WGSL peers, then this engine's bench with every peer's numbers,
# the decode step per configuration and per kind, a GEMV's time against its bytes, verify on the shipped models
source .perf2/setup.sh; D=$(pwd)/.perf2; K=/tmp/keep; B=/tmp/b; mkdir -p $B
[ -f $K/peers.json ] || echo '{}' > $K/peers.json
el wgsl; timeout 40 node $D/b/wgsl_peers.mjs $D/b/ternary_gemv.wgsl > $B/wgsl.json 2> $B/wgsl.log; tail -3 $B/wgsl.log
python3 -c "
import json; p = json.load(open('/tmp/keep/peers.json'))
try: p['wgsl'] = json.load(open('/tmp/b/wgsl.json'))
except Exception as e: p['wgslError'] = str(e)
json.dump(p, open('/tmp/keep/peers.json', 'w'), indent=1)"
cp $K/peers.json $OUT/peers.json
el bench; timeout 170 node $D/b/gpu.mjs --json --peers $K/peers.json > $OUT/bench.json 2> $OUT/bench.log; tail -75 $OUT/bench.log
el gemv; timeout 60 node $D/b/gemv-latency.mjs > $OUT/gemv-latency.json 2> $OUT/gemv-latency.log; cat $OUT/gemv-latency.log
el verify; timeout 75 node $D/b/verify-gpu.mjs data/models --options default,bench-h100-kernels,prefill-gemm > $OUT/verify.json 2> $OUT/verify.log; echo "verify rc $?"; grep -i "pass\|fail\|greedy" $OUT/verify.log | tail -8
el parts; timeout 70 node $D/b/decode-parts.mjs '--pick=fuse=o+down|fuse=true|v2 fuse=["down"]|v2 fwhtMemory fwhtParts=1 fuse=["down"]|v2 hadamardSplit fuse=["o","down"]' > $OUT/parts.json 2> $OUT/parts.log; grep -v "^decode-parts:  " $OUT/parts.log | tail -20
el done
