#!/usr/bin/env bash
# restic and borg on the same data as dbk, as their users run them (default compression,
# encryption on), timed by /usr/bin/time: one JSON line per tool and step on stdout,
#   {"tool":"restic","step":"initial","metrics":{"wall_s":…,"user_s":…,"sys_s":…,"max_rss_kb":…},"repo_bytes":…}
#
# usage: bash bench/peers.sh backup SRC WORK    fresh repositories in WORK/restic and WORK/borg, an
#                                              initial backup of SRC, then an unchanged one
#        bash bench/peers.sh restore WORK DEST  the latest snapshot of each into DEST/restic, DEST/borg
#
# PEERS names the tools to run (default "restic borg"; e.g. PEERS=restic).
# Installs Debian's restic, borgbackup and time packages when one is missing (as root, saying so).
set -euo pipefail

peers=${PEERS:-restic borg}
runs() { [[ " $peers " == *" $1 "* ]]; }

install_missing() {
  local missing=()
  if runs restic && ! command -v restic >/dev/null; then missing+=(restic); fi
  if runs borg && ! command -v borg >/dev/null; then missing+=(borgbackup); fi
  [ -x /usr/bin/time ] || missing+=(time)
  [ ${#missing[@]} -eq 0 ] && return
  echo "peers.sh: installing ${missing[*]} from Debian's packages" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

# prints the metrics of one command (its own output discarded); a failed command fails the run
measure() {
  local out
  out=$(mktemp)
  if ! /usr/bin/time -o "$out" -f '{"wall_s":%e,"user_s":%U,"sys_s":%S,"max_rss_kb":%M}' "$@" >/dev/null 2>"$out.err"; then
    echo "peers.sh: $* failed:" >&2
    cat "$out.err" >&2
    exit 1
  fi
  tail -n 1 "$out"
  rm -f "$out" "$out.err"
}

report() { # tool step metrics repository
  printf '{"tool":"%s","step":"%s","metrics":%s,"repo_bytes":%s}\n' "$1" "$2" "$3" "$(du -sb "$4" | cut -f1)"
}

case "${1:-}" in
backup)
  [ $# -eq 3 ] || { sed -n '7,9p' "$0" >&2; exit 2; }
  install_missing
  src=$(realpath "$2")
  work=$3
  mkdir -p "$work"
  rm -rf "$work/restic" "$work/borg"
  if runs restic; then restic init --quiet --repo "$work/restic" >/dev/null; fi
  if runs borg; then borg init --encryption repokey-blake2 "$work/borg" 2>/dev/null; fi
  for step in initial unchanged; do
    if runs restic; then
      sync
      report restic "$step" "$(measure restic --quiet --repo "$work/restic" backup "$src" --host bench)" "$work/restic"
    fi
    if runs borg; then
      sync
      report borg "$step" "$(measure borg create "$work/borg::$step" "$src")" "$work/borg"
    fi
  done
  ;;
restore)
  [ $# -eq 3 ] || { sed -n '7,9p' "$0" >&2; exit 2; }
  install_missing
  work=$(realpath "$2")
  dest=$3
  mkdir -p "$dest/restic" "$dest/borg"
  # emptied, not removed: each may be a file system of its own (bench/lib.sh)
  find "$dest/restic" "$dest/borg" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  dest=$(realpath "$dest")
  if runs restic; then
    sync
    report restic restore "$(measure restic --quiet --repo "$work/restic" restore latest --target "$dest/restic")" "$work/restic"
  fi
  if runs borg; then
    sync
    last=$(borg list --short --last 1 "$work/borg")
    report borg restore "$(cd "$dest/borg" && measure borg extract "$work/borg::$last")" "$work/borg"
  fi
  ;;
*)
  sed -n '7,9p' "$0" >&2
  exit 2
  ;;
esac
