#!/usr/bin/env bash
# early probe (issue 25, third pass): branch heads w4-prefetch (in-kernel L2 prefetch) and w4-v2 (subgroup FWHT)
source .perf2/setup.sh; D=$(pwd)/.perf2
# sustained load first so the first variant is not timed at idle clocks
el parts-pf; timeout 230 node $D/b/parts-pf.mjs '--pick=fuse=o+down|prefetch fuse=o+down|fuse=true|prefetch fuse=true|prefetch-sector fuse=true|prefetch fuse=["down"]|fuse=o+down|v2 fuse=["down"]|v2 prefetch fuse=["down"]' > $OUT/probe-parts-pf.json 2> $OUT/probe-parts-pf.log; grep -v "^decode-parts:  " $OUT/probe-parts-pf.log | tail -30
el parts-v2; timeout 120 node $D/b/parts-v2.mjs '--pick=fuse=o+down|v2 fwhtMemory fuse=["down"]|v2 fuse=["down"]|v2 fuse=true|v2 hadamardSplit fuse=["down"]' > $OUT/probe-parts-v2.json 2> $OUT/probe-parts-v2.log; tail -12 $OUT/probe-parts-v2.log
el bench-pf; timeout 200 node $D/b/gpu-pf.mjs --json > $OUT/probe-bench-pf.json 2> $OUT/probe-bench-pf.log; grep -i "stack\|prefetch\|decode @\|copy\|v2\|prefill" $OUT/probe-bench-pf.log | head -40
el done
