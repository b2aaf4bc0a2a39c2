#!/usr/bin/env bash
# Installs the openssl command line tool for the OneDrive tests: the Graph emulator
# (test/support/graph-emulator) makes its throw-away HTTPS certificate with it at start.
# Does nothing when openssl is present.
set -euo pipefail
command -v openssl >/dev/null && exit 0
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install openssl
command -v openssl >/dev/null || { echo "install-openssl: openssl still missing after installing it" >&2; exit 1; }
