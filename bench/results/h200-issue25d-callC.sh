#!/usr/bin/env bash
# final call (issue 25, fourth pass, merged main): every peer again, the bench with their numbers (new defaults:
# prefill GEMM n64m64, v2 split at o and down), decode-parts for the attention-chunk cap at 512 and 2048 (each kind at
# both), decode-wall (the encode changes), verify on the shipped models; last (a timeout there keeps the rest): the
# prefill of 512 tokens by kind of dispatch (prefill-parts: needs $D/b/prefill-parts.mjs, bundled like the others from
# bench/prefill-parts.ts) and the GEMV fixed-time rewrites of decode-parts (~f32epilogue, ~noshuffle: rows merged into
# parts.json). 8 files in $OUT: the parts and prefill-parts logs stay in /tmp/b, their summary lines are printed.
source .perf2/setup1.sh; P=$(pwd)/.perf1; B=/tmp/b
cp -r $P/bitnet_kernels $P/pack_weight.py $B/
( cd $B/bitnet_kernels && nvcc -std=c++17 -Xcudafe --diag_suppress=177 --compiler-options -fPIC -lineinfo --shared bitnet_kernels.cu -lcuda -gencode=arch=compute_90,code=sm_90 -o libbitnet.so > $B/nvcc1.log 2>&1 ) &
( nvcc -std=c++17 -O3 -Xcudafe --diag_suppress=177 -lineinfo -gencode=arch=compute_90,code=sm_90 -I$B/bitnet_kernels $P/w2a8_bench.cu -o $B/w2a8_bench -lcuda > $B/nvcc2.log 2>&1 ) &
el wgsl; timeout 40 node $D/b/wgsl_peers.mjs $D/b/ternary_gemv.wgsl > $B/wgsl.json 2> $B/wgsl.log; tail -2 $B/wgsl.log
wait; el compiled
el w2a8cpp; timeout 45 $B/w2a8_bench > $B/w2a8cpp.json 2> $B/w2a8cpp.log; head -c 300 $B/w2a8cpp.json; echo
el torch; PYTHONUNBUFFERED=1 timeout 80 python3 $P/torch_peers.py --lib $B/bitnet_kernels/libbitnet.so --packdir $B > $B/torch.json 2> $B/torch.log; grep -v check $B/torch.log | tail -4
el e2e; PYTHONUNBUFFERED=1 timeout 120 python3 $P/w2a8_e2e.py --lib $B/bitnet_kernels/libbitnet.so --ctx 512,2048 > $B/e2e.json 2> $B/e2e.log; tail -2 $B/e2e.log
python3 - <<'PY'
import json
out = {}
for k, f in [("torch", "torch.json"), ("w2a8Cpp", "w2a8cpp.json"), ("e2e", "e2e.json"), ("wgsl", "wgsl.json")]:
    try: out[k] = json.load(open("/tmp/b/" + f))
    except Exception as e: out[k + "Error"] = str(e)
json.dump(out, open("/tmp/keep/peers.json", "w"), indent=1)
PY
cp /tmp/keep/peers.json $OUT/peers.json; cat $B/*.log > $OUT/peers.log 2>&1
el bench; timeout 250 node $D/b/gpu.mjs --json --peers /tmp/keep/peers.json > $OUT/bench.json 2> $OUT/bench.log; echo "bench rc $?"; grep -v selfcheck $OUT/bench.log | tail -62
el parts; timeout 150 node $D/b/decode-parts.mjs --kinds-everywhere '--pick=fuse=o+down|fuse=o+down attnMaxChunks=4|fuse=o+down attnMaxChunks=8|fuse=o+down attnMaxChunks=16|fuse=o+down attnChunk=128|fuse=o+down fuseCombine=false|fuse=true|v2 fuse=["down"]|v2 hadamardSplit fuse=["o","down"]' > $OUT/parts.json 2> /tmp/b/parts.log; grep -v "^decode-parts:  " /tmp/b/parts.log | tail -22
el wall; timeout 70 node $D/b/decode-wall.mjs --full --contexts=128,512,2048 --fuse=o+down --json > $OUT/decode-wall.json 2> /tmp/b/wall.log; tail -6 /tmp/b/wall.log
el wall-noval; timeout 60 node $D/b/decode-wall.mjs --full --contexts=128,512,2048 --fuse=o+down --skip-validation > /tmp/b/wall2.json 2> /tmp/b/wall2.log; tail -5 /tmp/b/wall2.log
el verify; timeout 60 node $D/b/verify-gpu.mjs data/models > $OUT/verify.json 2> /tmp/b/verify.log; echo "verify rc $?"; python3 -c "
import json; d=json.load(open('$OUT/verify.json')); r=d['results']; print('verify pass', sum(1 for x in r if x.get('pass')), 'of', len(r), 'max prefill', max(x.get('prefillMaxAbsDiff',0) for x in r), 'max decode', max(x.get('decodeMaxAbsDiff',0) for x in r))"
el prefill-parts; timeout 120 node $D/b/prefill-parts.mjs --M=512 '--pick=default|gemm=none|v2' > $OUT/prefill-parts.json 2> /tmp/b/prefill-parts.log; echo "prefill-parts rc $?"; tail -4 /tmp/b/prefill-parts.log
el gemv-parts; timeout 90 node $D/b/decode-parts.mjs --contexts=512 '--pick=fuse=o+down|~f32epilogue fuse=o+down|~noshuffle fuse=o+down|~f32epilogue+noshuffle fuse=o+down' > /tmp/b/gemv-parts.json 2> /tmp/b/gemv-parts.log; grep -v "^decode-parts:  " /tmp/b/gemv-parts.log | tail -5
python3 -c "
import json; a=json.load(open('$OUT/parts.json')); b=json.load(open('/tmp/b/gemv-parts.json')); a['rows']+=[dict(r, run='gemv-parts') for r in b['rows']]; json.dump(a, open('$OUT/parts.json','w'), indent=1)"
el done
