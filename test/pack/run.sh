#!/usr/bin/env bash
# `npm run test:pack`: the palette as a user gets it. Builds, packs the npm tarball, and for the
# oldest Node-RED that package.json declares (newest 4.0 patch) and for the Node-RED we develop on,
# installs the tarball into a clean user folder and checks it through the admin API
# (test/pack/check.js). Node-RED itself is cached under ~/.cache/plantwire so reruns are fast.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/plantwire/pack"
mkdir -p "$cache"
work=$(mktemp -d /tmp/plantwire-pack.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== build"
npm run build --silent

echo "== pack"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n1)
tarball="$work/$tarball"
echo "tarball: $tarball ($(du -k "$tarball" | cut -f1) kB)"

# The oldest Node-RED we declare: the newest patch of the minor named in node-red.version.
declared=$(node -p "require('./package.json')['node-red'].version")
oldest_minor=$(node -e "const m=/(\d+)\.(\d+)/.exec(process.argv[1]); if(!m) process.exit(1); console.log(m[1]+'.'+m[2])" "$declared")
oldest=$(npm view "node-red@${oldest_minor}" version --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const v=JSON.parse(s);console.log(Array.isArray(v)?v[v.length-1]:v)})")
current=4.1.15
echo "Node-RED versions: $oldest (oldest declared: $declared), $current"

redDirs=()
for v in "$oldest" "$current"; do
  dir="$cache/node-red-$v"
  if [ "$(node -p "try{require('$dir/node_modules/node-red/package.json').version}catch{''}")" != "$v" ]; then
    echo "== install node-red@$v into $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    echo '{"name":"plantwire-pack-runtime","private":true}' > "$dir/package.json"
    # Node-RED's optional bcrypt addon downloads a prebuilt binary (no such host here); bcryptjs stands in.
    npm install --prefix "$dir" --no-audit --no-fund --omit=optional --loglevel=error "node-red@$v" >/dev/null
  fi
  redDirs+=("$v=$dir/node_modules/node-red")
done

node test/pack/check.js --tarball "$tarball" --work "$work" "${redDirs[@]}"
