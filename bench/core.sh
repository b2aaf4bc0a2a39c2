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
# Storages and restored trees go to a fresh ext4 file system for each corpus (a loop device, when
# this runs as root): ext4 passes over inodes freed in the last minutes when it makes files, so
# a restore right after a tree of 60,000 files was deleted spent twice the kernel time of one into
# a fresh file system; whichever tool came after the deletions paid for them. Nothing is deleted
# between the tools' runs, and the corpus is read into the page cache again before dbk's run.
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

export DBK_PASSWORD=bench # the same throwaway password peers.sh gives restic and borg
# the command as users run it: through its #! line, which sets node's flags
dbk() { "$root/dist/src/cli/main.js" "$@"; }
TIMEFMT='{"wall_s":%e,"user_s":%U,"sys_s":%S,"max_rss_kb":%M}'

build() {
  local main=$root/dist/src/cli/main.js
  if [ ! -f "$main" ] || [ -n "$(find "$root/src" "$root/backends" "$root/bench" -name '*.ts' -newer "$main" | head -1)" ]; then
    echo "building dbk" >&2
    (cd "$root" && npm run --silent build)
  fi
}

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

# runs a dbk step in a folder under /usr/bin/time; prints the metrics JSON, fails the run if dbk fails
timed_dbk() {
  local dir=$1 log=$2 t rc=0
  shift 2
  t=$(mktemp)
  sync
  (cd "$dir" && /usr/bin/time -o "$t" -f "$TIMEFMT" "$root/dist/src/cli/main.js" "$@") >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "dbk $* failed (exit $rc) in $dir:" >&2
    cat "$log" >&2
    exit 1
  fi
  tail -1 "$t"
  rm -f "$t"
}

line() { printf '{"tool":"%s","step":"%s","metrics":%s,"repo_bytes":%s}\n' "$1" "$2" "$3" "$(du -sb "$4" | cut -f1)"; }

run_dbk() {
  local name=$1 src=$2 base storage dest logs
  base=$work/fs/dbk storage=$work/fs/repos/dbk dest=$work/fs/restored/dbk logs=$work/logs/$name
  mkdir -p "$base/backup" "$base/restore" "$dest"
  (cd "$base/backup" && dbk init -e -repository "$src" bench "$storage" >/dev/null)
  # as restic's backup and restore start after a sync (peers.sh, bench_corpus): the
  # gigabytes the step before wrote are not still being written back while dbk runs
  sync
  line dbk initial "$(timed_dbk "$base/backup" "$logs-initial.log" backup -stats -threads "$threads")" "$storage"
  line dbk unchanged "$(timed_dbk "$base/backup" "$logs-unchanged.log" backup -stats -threads "$threads")" "$storage"
  (cd "$base/restore" && dbk init -repository "$dest" bench "$storage" >/dev/null)
  sync
  line dbk restore "$(timed_dbk "$base/restore" "$logs-restore.log" restore -r 1 -threads "$threads")" "$storage"
  local differences
  differences=$(diff -r --no-dereference "$src" "$dest" 2>&1 | head -5 || true)
  if [ -z "$differences" ]; then
    echo '{"tool":"dbk","step":"verify","identical":true}'
  else
    printf '{"tool":"dbk","step":"verify","identical":false,"detail":%s}\n' "$(printf '%s' "$differences" | jq -Rs .)"
  fi
}

# A fresh ext4 file system mounted on $work/fs for one corpus's storages and restores (direct I/O on
# the image, so its pages are not cached twice); plain folders when loop mounts are not possible.
fresh_fs() {
  release_fs
  mkdir -p "$work/fs"
  local dev
  if [ "$(id -u)" -eq 0 ] && truncate -s 40G "$work/fs.img" && mkfs.ext4 -q -F "$work/fs.img" &&
    dev=$(losetup --direct-io=on -f --show "$work/fs.img") && mount "$dev" "$work/fs"; then
    return
  fi
  echo "no loop mount here: storages and restores go to $work/fs on the file system that holds it" >&2
  release_fs
  mkdir -p "$work/fs"
}

release_fs() {
  local dev
  dev=$(findmnt -n -o SOURCE "$work/fs" 2>/dev/null || true)
  if [ -n "$dev" ]; then
    umount "$work/fs"
    losetup -d "$dev" 2>/dev/null || true
  fi
  rm -rf "${work:?}/fs" "$work/fs.img"
}

warm() { find "$1" -type f -print0 | xargs -0 -r cat >/dev/null 2>&1 || true; }

bench_corpus() {
  local name=$1 src=$2 out
  out=$results/$name.jsonl
  fresh_fs
  # every tool reads from the page cache, not only the ones that come after the first
  warm "$src"
  local files bytes
  files=$(find "$src" -type f | wc -l)
  bytes=$(du -sb "$src" | cut -f1)
  echo "== $name: $src ($files files, $((bytes / 1000000)) MB)" >&2
  : >"$out"
  local load # the machines are shared: say how busy this one was
  load=$(cut -d' ' -f1 /proc/loadavg)
  bash "$root/bench/peers.sh" backup "$src" "$work/fs/repos" | tee -a "$out" >&2
  sync
  bash "$root/bench/peers.sh" restore "$work/fs/repos" "$work/fs/restored" | tee -a "$out" >&2
  warm "$src" # the peers' restores wrote twice the corpus since it was read
  run_dbk "$name" "$src" | tee -a "$out" >&2
  node "$root/dist/bench/core-table.js" "$out" "$name — $src, $files files, $((bytes / 1000000)) MB ($(nproc) cores, load $load → $(cut -d' ' -f1 /proc/loadavg), dbk -threads $threads)" | tee "$results/$name.md"
  release_fs
}

build
if [ -z "$only" ] || [ "$only" = usr-lib ]; then bench_corpus usr-lib /usr/lib; fi
if [ -z "$only" ] || [ "$only" = small ]; then bench_corpus small "$(small_corpus)"; fi
echo "results: $results" >&2
