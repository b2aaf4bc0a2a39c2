#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser test (test/serve/console-browser.test.ts
# drives it with puppeteer-core, headless, on a loopback server). Does nothing when it is present.
set -euo pipefail
command -v chromium >/dev/null && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null || { echo "install-chromium: chromium still missing after installing it" >&2; exit 1; }
