#!/usr/bin/env bash
# Installs (only what is missing) and checks the real peers the interop suites use: Debian's
# pymodbus and pyserial-asyncio for /usr/bin/python3, mbpoll, socat, Mosquitto, protoc, openssl,
# udev. Suites start their own peers on free ports; this script leaves nothing running.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(python3-pymodbus python3-serial-asyncio mbpoll socat mosquitto protobuf-compiler openssl udev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root for apt-get install ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's python, not a pyenv or venv python that may be first on PATH.
/usr/bin/python3 -c "import pymodbus, serial_asyncio; print('setup: pymodbus', pymodbus.__version__, '(/usr/bin/python3)')"
printf 'setup: %s\n' "$(mbpoll -V 2>&1 | head -n1)" "socat $(socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p')" \
  "$(mosquitto -h 2>&1 | head -n1)" "$(protoc --version)" "$(openssl version)"
