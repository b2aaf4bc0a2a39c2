#!/usr/bin/env bash
# Installs OpenSSH's server for the SFTP tests (test/support/sshd.ts starts its own instance on a
# free loopback port; nothing is enabled or started here). Does nothing when sshd is present.
set -euo pipefail
[ -x /usr/sbin/sshd ] && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
[ -x /usr/sbin/sshd ] || { echo "install-sshd: /usr/sbin/sshd still missing after installing openssh-server" >&2; exit 1; }
