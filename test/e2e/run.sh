#!/usr/bin/env bash
# `npm run test:e2e`: the editor in Debian's Chromium (installed here when missing), driven by
# playwright-core, against Node-RED started with the palette from this working tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version
npm run build --silent
mkdir -p test-results
npx jest -c jest.e2e.config.js --runInBand "$@"
