#!/usr/bin/env bash
# call 2 (carry .perf2, the machine of call 1), cut to the device time left: the WGSL peers (copy ceiling, 0xBitNet),
# this engine's bench with their numbers (decode per configuration + roofline + wall split, the prefill sweep with the
# tiled GEMM shapes, v2 in its own best mode, the stack with/without prefetch), then a GEMV's time against its bytes
source .perf2/setup.sh; D=$(pwd)/.perf2; K=/tmp/keep; B=/tmp/b; mkdir -p $B
[ -f $K/peers.json ] || echo '{}' > $K/peers.json
el wgsl; timeout 35 node $D/b/wgsl_peers.mjs $D/b/ternary_gemv.wgsl > $B/wgsl.json 2> $B/wgsl.log; tail -3 $B/wgsl.log
python3 -c "
import json; p = json.load(open('/tmp/keep/peers.json'))
try: p['wgsl'] = json.load(open('/tmp/b/wgsl.json'))
except Exception as e: p['wgslError'] = str(e)
json.dump(p, open('/tmp/keep/peers.json', 'w'), indent=1)"
cp $K/peers.json $OUT/peers.json
el bench; timeout ${BENCH_S:-150} node $D/b/gpu.mjs --json --peers $K/peers.json > $OUT/bench.json 2> $OUT/bench.log; tail -80 $OUT/bench.log
el gemv; timeout ${GEMV_S:-50} node $D/b/gemv-latency.mjs > $OUT/gemv-latency.json 2> $OUT/gemv-latency.log; cat $OUT/gemv-latency.log
el done
