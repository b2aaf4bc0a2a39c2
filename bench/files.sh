#!/usr/bin/env bash
# dbk beside restic (bench/peers.sh) on a tree of many tiny files (issue 15): wall, CPU and peak RSS
# of an initial backup, an unchanged backup and a restore of N files of 64–264 bytes, 1,000 a folder
# (bench/make-corpus.ts, kind `files`), in one markdown table with the targets of issue 15: peak RSS
# ≤ 300 MB and wall ≤ 0.5 × restic in each step; and dbk's peak RSS per file. Encryption on for both.
#
# usage: bash bench/files.sh --files N [--work DIR] [--threads N] [--borg]
#   --files    how many files (the issue's target is at 1,000,000)
#   --work     where the corpus, storages and restores go (default $DBK_BENCH_WORK, else /tmp/dbk-bench-files);
#              the corpus of N files is made there once (WORK/corpus/files-N) and reused
#   --threads  dbk's -threads (default 4)
#   --borg     run borg too
#
# As bench/core.sh (bench/lib.sh): every tool reads the corpus in place, from the page cache (read
# before restic's run and again before dbk's); restic runs first, then dbk; storages go to a fresh
# ext4 file system and each tool's restore to one of its own (loop devices, when this runs as root),
# here with an inode every 8 KiB.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${DBK_BENCH_WORK:-/tmp/dbk-bench-files}
files=''
threads=4
export PEERS=restic
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --borg) PEERS='restic borg'; shift ;;
    *) sed -n '7,12p' "$0" >&2; exit 2 ;;
  esac
done
if ! [[ "$files" =~ ^[1-9][0-9]*$ ]]; then sed -n '7,12p' "$0" >&2; exit 2; fi
mkdir -p "$work"
work=$(realpath "$work")
results=$work/results
mkdir -p "$results" "$work/logs"
mkfs_opts=(-i 8192) # the default inode every 16 KiB is 2.6M inodes: too few for two restores of 1M files

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
table() { node "$root/dist/bench/core-table.js" --files "$files" "$1" "$2"; }

# make-corpus writes file by file: a marker beside the corpus, holding N, says it finished
corpus=$work/corpus/files-$files
made="reused (made before)"
build
if [ "$(cat "$corpus.done" 2>/dev/null)" != "$files" ]; then
  echo "making $files files in $corpus" >&2
  rm -rf "$corpus" "$corpus.done"
  started=$(date +%s.%N)
  node "$root/dist/bench/make-corpus.js" files "$corpus" --files "$files" >&2
  sync
  made="made in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }") s (with a sync)"
  echo "$files" >"$corpus.done"
fi
echo "corpus $corpus: $made" >&2
bench_corpus "files-$files" "$corpus"
printf '\nCorpus %s.\n' "$made" | tee -a "$results/files-$files.md"
echo "results: $results" >&2
