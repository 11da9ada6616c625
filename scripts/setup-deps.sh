#!/usr/bin/env bash
# Installs what proxsave's build, demo and tests need on a Debian machine:
# the system tools the tests check archives and repositories with, then the
# npm dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in git:git tar:tar xz:xz-utils zstd:zstd gzip:gzip bzip2:bzip2 sqlite3:sqlite3 rclone:rclone make:make g++:g++ python3:python3 sha256sum:coreutils bsdtar:libarchive-tools promtool:prometheus systemd-analyze:systemd man:man-db dpkg-deb:dpkg age:age; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing tools: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm dependencies: reinstall when the lock file's content differs from the one
# installed (a content stamp, not mtimes: a fresh checkout is always "newer").
stamp=node_modules/.proxsave-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
