#!/usr/bin/env bash
# make demo: the main job on the bundled example host. Copies the example PVE
# cluster node to snapshots/demo-host, runs `proxsave run` (snapshot, export,
# push to a local and a secondary directory, retention), shows the history,
# changes a file on the example host, shows the drift and runs again, then
# shows a run refusing to commit while pmxcfs is down.
set -euo pipefail
cd "$(dirname "$0")/.."
ps() { echo "+ proxsave $*"; ./bin/proxsave -c configs/demo.env "$@"; }

# Start from scratch: a fresh example host, no repository, no archives.
rm -rf snapshots/demo snapshots/demo-backups snapshots/demo-logs snapshots/demo-lock
# The example host with its empty directories, modes, owners and config.db.
node --import tsx scripts/materialize-host.ts pve-cluster snapshots/demo-host >/dev/null
mkdir -p snapshots/demo-backups/local snapshots/demo-backups/secondary

echo "== 1. the scheduled job on the example host"
ps run || true
echo
echo "== 2. history"
ps log
echo
echo "== 3. an administrator adds a storage and changes a VM on the example host"
printf '\nnfs: backup-nfs\n\texport /srv/backup\n\tpath /mnt/pve/backup-nfs\n\tserver 192.0.2.50\n\tcontent backup\n' >> snapshots/demo-host/etc/pve/storage.cfg
sed -i 's/^memory: .*/memory: 8192/' snapshots/demo-host/etc/pve/nodes/due/qemu-server/*.conf
echo
echo "== 4. drift: live host against the newest snapshot"
ps diff --stat || true
ps diff || true
echo
echo "== 5. the next scheduled run commits the drift and exports a new archive"
ps run || true
ps log
echo
echo "== 6. archives on the targets"
ps list || true
echo
echo "== 7. the host did not change: the next run commits, exports and uploads nothing"
ps run || true
echo
echo "== 8. pve-cluster stops: /etc/pve is an empty mount point; the run refuses (exit 9) and commits nothing"
mv snapshots/demo-host/etc/pve snapshots/demo-host/etc/pve.mounted && mkdir snapshots/demo-host/etc/pve
ps run || echo "(exit $?)"
rmdir snapshots/demo-host/etc/pve && mv snapshots/demo-host/etc/pve.mounted snapshots/demo-host/etc/pve
ps log -n 1
echo
echo "Snapshot repository: snapshots/demo (try: git -C snapshots/demo log -p)"
