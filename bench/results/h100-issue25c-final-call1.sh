#!/usr/bin/env bash
# call 1 (carry .perf1): keep Node's first half on this machine for call 2 (the CUDA peers left out: device time)
mkdir -p /tmp/keep && cp .perf1/nodeA /tmp/keep/nodeA && echo '{}' > /tmp/keep/peers.json
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader; ls -la /tmp/keep
