#!/usr/bin/env bash
# Installs Debian's rclone: the WebDAV test (test/serve/dav-clients.test.ts) has it copy a whole
# revision from `dbk serve`'s /dav/. Does nothing when it is present.
set -euo pipefail
command -v rclone >/dev/null && exit 0
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install rclone
command -v rclone >/dev/null || { echo "install-rclone: rclone still missing after installing it" >&2; exit 1; }
