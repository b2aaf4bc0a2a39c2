#!/usr/bin/env bash
# Installs OpenSSH's server for the SFTP tests (test/support/sshd.ts starts its own instance on a
# free loopback port; nothing is enabled or started here). Does nothing when sshd is present.
set -euo pipefail
[ -x /usr/sbin/sshd ] && exit 0
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install openssh-server
[ -x /usr/sbin/sshd ] || { echo "install-sshd: /usr/sbin/sshd still missing after installing openssh-server" >&2; exit 1; }
