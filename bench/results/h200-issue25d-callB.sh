#!/usr/bin/env bash
# call B (issue 25, fourth pass; the machine of call A): a GEMV's time against its bytes, the prefill GEMM per
# projection, the decode step per kind for b1.58 and v2's modes, the wall clock's split, verify on the shipped models
source .perf2/setup1.sh
el gemv; timeout 60 node $D/b/gemv-latency.mjs > $OUT/gemv-latency.json 2> $OUT/gemv-latency.log; cat $OUT/gemv-latency.log | tail -30
el gemm; timeout 100 node $D/b/prefill-gemm.mjs --M=512 > $OUT/prefill-gemm.json 2> $OUT/prefill-gemm.log; tail -30 $OUT/prefill-gemm.log
el parts; timeout 90 node $D/b/decode-parts.mjs '--pick=fuse=o+down|fuse=true|~noprologue fuse=true|v2 fuse=["down"]|v2 fuse=true|v2 fwhtMemory fwhtParts=1 fuse=["down"]|v2 hadamardSplit fuse=["o","down"]' > $OUT/parts.json 2> $OUT/parts.log; grep -v "^decode-parts:  " $OUT/parts.log | tail -25
el wall; timeout 70 node $D/b/decode-wall.mjs --full --contexts=128,512,2048 --fuse=o+down --json > $OUT/decode-wall.json 2> $OUT/decode-wall.log; tail -15 $OUT/decode-wall.log
el verify; timeout 90 node $D/b/verify-gpu.mjs data/models > $OUT/verify.json 2> $OUT/verify.log; echo "verify rc $?"; tail -12 $OUT/verify.log
el done
