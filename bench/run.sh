#!/usr/bin/env bash
# `npm run bench -- <name>` or `bench/run.sh <name>`: runs bench/<name>/run.js, which prints one
# JSON line of figures against its anchors in the same run. Installs what the benchmark needs:
# the real peers (test/interop/setup.sh), the anchors into bench/anchors (npm ci, never into the
# main package), and a fresh build of the palette. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-}"
if [ -z "$name" ] || [ ! -f "bench/$name/run.js" ]; then
  echo "usage: bench/run.sh <name>   (one of: $(cd bench && ls -d */ | tr -d / | grep -v -e anchors -e lib | tr '\n' ' '))" >&2
  exit 2
fi
shift
bash test/interop/setup.sh >&2
if [ ! -f bench/anchors/node_modules/.package-lock.json ] || [ bench/anchors/package-lock.json -nt bench/anchors/node_modules/.package-lock.json ]; then
  echo "bench: npm ci --prefix bench/anchors" >&2
  npm ci --prefix bench/anchors --no-audit --no-fund --loglevel=error >&2
fi
npm run build --silent >&2
exec node "bench/$name/run.js" "$@"
