#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser test (test/serve/console-browser.test.ts
# drives it with puppeteer-core, headless, on a loopback server). Does nothing when it is present.
set -euo pipefail
command -v chromium >/dev/null && exit 0
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install chromium fonts-dejavu-core
command -v chromium >/dev/null || { echo "install-chromium: chromium still missing after installing it" >&2; exit 1; }
