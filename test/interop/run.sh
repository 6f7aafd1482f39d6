#!/usr/bin/env bash
# `npm run test:interop`: installs the real peers (setup.sh), builds, then runs every
# test/interop/*.test.ts suite through jest.interop.config.js, one at a time.
# Extra arguments go to jest (a path to run one suite, -t to pick tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/interop/setup.sh
npm run build --silent
npx jest -c jest.interop.config.js --runInBand "$@"
