#!/usr/bin/env bash
# Installs what `npm install` needs to build dbk's native module (native/dbk_fs.c, through
# node-gyp, which npm brings): a C compiler, make and python3. Does nothing when all are present.
set -euo pipefail
missing() { ! command -v cc >/dev/null || ! command -v make >/dev/null || ! command -v python3 >/dev/null; }
missing || exit 0
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install build-essential python3
if missing; then echo "install-build-tools: a compiler, make or python3 is still missing after installing them" >&2; exit 1; fi
