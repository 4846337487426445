# sourced at the start of each call (one tree: data/fixtures left out of the copy so Node travels whole):
# Node from its two halves, the Vulkan loader, Dawn; idempotent on a warm machine
D=$(pwd)/.perf2; K=/tmp/keep; mkdir -p $K /tmp/b
if [ ! -x /tmp/node-bin/node ]; then mkdir -p /tmp/node-bin; cat .perf1/nodeA $D/nodeB | xz -dc > /tmp/node-bin/node && chmod +x /tmp/node-bin/node; fi
export PATH=/tmp/node-bin:$PATH
for f in $D/gpu/deb/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f $D/gpu/node_modules/webgpu/dist/linux-x64/dawn.node ] || xz -dkf $D/gpu/node_modules/webgpu/dist/linux-x64/dawn.node.xz
mkdir -p $D/b/node_modules && rm -rf $D/b/node_modules/webgpu && ln -sfn $D/gpu/node_modules/webgpu $D/b/node_modules/webgpu
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader ; node --version
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
