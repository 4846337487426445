#!/usr/bin/env bash
# call 2 (carry .perf2, the machine of call 1): Node from both halves, Dawn; the WGSL peers (copy ceiling, 0xBitNet),
# bench/decode-parts.ts built from main (6950c9a) and from this branch, then the bench with the peers, one after another
D=$(pwd)/.perf2; K=/tmp/keep; B=/tmp/b; mkdir -p $B
[ -f $K/nodeA ] || { echo "no /tmp/keep/nodeA: a fresh machine (call 1 ran elsewhere)"; exit 3; }
mkdir -p /tmp/node-bin; cat $K/nodeA $D/nodeB | xz -dc > /tmp/node-bin/node && chmod +x /tmp/node-bin/node; export PATH=/tmp/node-bin:$PATH
for f in $D/gpu/deb/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -dkf $D/gpu/node_modules/webgpu/dist/linux-x64/dawn.node.xz
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader ; node --version
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
el wgsl; timeout 60 node $D/gpu/wgsl_peers.mjs $D/ternary_gemv.wgsl > $B/wgsl.json 2> $B/wgsl.log; tail -4 $B/wgsl.log
python3 -c "
import json; p = json.load(open('/tmp/keep/peers.json'))
try: p['wgsl'] = json.load(open('/tmp/b/wgsl.json'))
except Exception as e: p['wgslError'] = str(e)
json.dump(p, open('/tmp/keep/peers.json', 'w'), indent=1)"
cp $K/peers.json $OUT/peers.json
el main; timeout 110 node $D/gpu/decode-parts-main.mjs '--pick=fuse=["down"]|fuse=true|v2 fuse=["down"]' > $OUT/parts-main.json 2> $OUT/parts-main.log; cat $OUT/parts-main.log
el branch; timeout 200 node $D/gpu/decode-parts.mjs '--pick=fuse=["down"]|fuse=true fuseCombine=false|fuse=true|fuse=o+down|fuse=qkv+o+down|fuse=true attnChunk=32|normStats fuse=true|v2 fuse=["down"]' > $OUT/parts.json 2> $OUT/parts.log; cat $OUT/parts.log
el bench; timeout 200 node $D/gpu/gpu.mjs --json --peers $K/peers.json > $OUT/bench.json 2> $OUT/bench.log; tail -70 $OUT/bench.log
el done
