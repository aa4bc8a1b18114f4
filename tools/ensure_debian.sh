#!/usr/bin/env bash
# Installs Debian packages the tests need, only those whose command is missing (apt-get update
# first). Arguments: COMMAND=PACKAGE pairs, e.g. chromium=chromium chromedriver=chromium-driver.
set -euo pipefail
missing=()
for pair in "$@"; do
  command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "missing and not root: install Debian's ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
