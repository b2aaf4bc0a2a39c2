#!/usr/bin/env bash
# Installs Debian's rclone: the WebDAV test (test/serve/dav-clients.test.ts) has it copy a whole
# revision from `dbk serve`'s /dav/. Does nothing when it is present.
set -euo pipefail
command -v rclone >/dev/null && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends rclone >/dev/null
command -v rclone >/dev/null || { echo "install-rclone: rclone still missing after installing it" >&2; exit 1; }
