#!/usr/bin/env bash
# dbk beside restic and borg (bench/peers.sh) on the same data in one run: wall, CPU and
# peak RSS of an initial backup, an unchanged backup and a restore, and the stored bytes, on the
# machine's /usr/lib and on the `small` corpus; one markdown table per corpus, with dbk's ratios
# to the peers and the targets of issue 2. Compression and encryption on for every tool.
#
# usage: bash bench/core.sh [--work DIR] [--scale F] [--only usr-lib|small] [--threads N]
#   --work     where corpora, storages and restores go (default $DBK_BENCH_WORK, else /tmp/dbk-bench-core);
#              the small corpus is made there once and reused
#   --scale    scale of the small corpus (default 1: 100,000 files, ~850 MB)
#   --only     run one corpus
#   --threads  dbk's -threads (default 4)
#
# Every tool reads the corpus in place, /usr/lib included (read-only to us): dbk's .dbk/ lives in a
# folder of its own under the work dir (`dbk init -repository CORPUS`), and so does the .dbk/ of the
# folder dbk restores into, which therefore holds exactly the restored tree.
#
# Storages go to a fresh ext4 file system for each corpus, and each tool's restore to one of its
# own made just before it (loop devices, when this runs as root): ext4 passes over inodes freed in
# the last minutes when it makes files, so a restore right after a tree of 60,000 files was
# deleted spent twice the kernel time of one into a fresh file system, and a restore among the
# million files another tool restored was slower too; whichever tool came later paid for them.
# Nothing is deleted between the tools' runs, and the corpus is read into the page cache again
# before dbk's run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${DBK_BENCH_WORK:-/tmp/dbk-bench-core}
scale=1
only=''
threads=4
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) sed -n '7,12p' "$0" >&2; exit 2 ;;
  esac
done
mkdir -p "$work"
work=$(realpath "$work")
results=$work/results
mkdir -p "$results" "$work/logs"

# shared with bench/files.sh: build, run_dbk, fresh_fs, bench_corpus
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
table() { node "$root/dist/bench/core-table.js" "$1" "$2"; }

# make-corpus writes file by file: a marker beside the corpus says it finished
small_corpus() {
  local dir=$work/corpus/small-$scale
  if [ ! -f "$dir.done" ]; then
    echo "making the small corpus (scale $scale) in $dir" >&2
    rm -rf "$dir"
    node "$root/dist/bench/make-corpus.js" small "$dir" --scale "$scale" >&2
    touch "$dir.done"
  fi
  echo "$dir"
}

build
if [ -z "$only" ] || [ "$only" = usr-lib ]; then bench_corpus usr-lib /usr/lib; fi
if [ -z "$only" ] || [ "$only" = small ]; then bench_corpus small "$(small_corpus)"; fi
echo "results: $results" >&2
