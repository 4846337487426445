# sourced at the start of call 2: Node from both halves (call 1 left the first in /tmp/keep), Vulkan loader, Dawn
D=$(pwd)/.perf2; K=/tmp/keep
[ -f $K/nodeA ] || { echo "no /tmp/keep/nodeA: a fresh machine (call 1 ran elsewhere)"; exit 3; }
mkdir -p /tmp/node-bin; cat $K/nodeA $D/nodeB | xz -dc > /tmp/node-bin/node && chmod +x /tmp/node-bin/node; export PATH=/tmp/node-bin:$PATH
for f in $D/gpu/deb/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -dkf $D/gpu/node_modules/webgpu/dist/linux-x64/dawn.node.xz
mkdir -p $D/b/node_modules && ln -sfn $D/gpu/node_modules/webgpu $D/b/node_modules/webgpu
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader ; node --version
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
