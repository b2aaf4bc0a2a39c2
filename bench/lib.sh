# Shared by bench/core.sh and bench/files.sh (sourced, not run): dbk's steps timed by /usr/bin/time
# as JSON lines of the shape bench/peers.sh prints for restic and borg, the fresh file system the
# storages and restores go to, and the run of every tool on one corpus.
#
# The sourcing script sets root (the checkout), work (the work dir, absolute), results (where the
# JSON lines and tables go), threads (dbk's -threads) and defines `table RESULTS.jsonl TITLE`, which
# prints the markdown table of one corpus. It may set PEERS (bench/peers.sh's tools) and mkfs_opts
# (extra mkfs.ext4 options, e.g. more inodes for millions of files).

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
  fresh_restore_fs dbk
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
# ext4 passes over inodes freed in the last minutes when it makes files, so a restore right after a
# tree of 60,000 files was deleted spent twice the kernel time of one into a fresh file system.
# Its inode tables and journal are written by mkfs, not lazily by a kernel thread during the first
# tool's run (which, on a 40 GB image, it would otherwise be zeroing for minutes).
fresh_fs() {
  release_fs
  mkdir -p "$work/fs"
  if loop_mount "$work/fs.img" 40G "$work/fs"; then return; fi
  echo "no loop mount here: storages and restores go to $work/fs on the file system that holds it" >&2
  release_fs
  mkdir -p "$work/fs"
}

# Each tool restores into a fresh file system of its own at $work/fs/restored/TOOL, made just
# before: a restore into the one holding the storages and the trees restored before it made
# files among a million others' inodes, and the tool that came last paid for it.
fresh_restore_fs() {
  local at=$work/fs/restored/$1 image=$work/restore-$1.img
  mkdir -p "$at"
  if loop_mount "$image" 24G "$at"; then
    rmdir "$at/lost+found"
    return
  fi
  rm -f "$image"
}

# A new ext4 file system in IMAGE (SIZE, sparse; with mkfs_opts) mounted on AT: as root only.
loop_mount() {
  local image=$1 size=$2 at=$3 dev
  [ "$(id -u)" -eq 0 ] && truncate -s "$size" "$image" &&
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 ${mkfs_opts[@]+"${mkfs_opts[@]}"} "$image" &&
    dev=$(losetup --direct-io=on -f --show "$image") && mount "$dev" "$at"
}

unmount() {
  local dev
  dev=$(findmnt -n -o SOURCE "$1" 2>/dev/null || true)
  [ -n "$dev" ] || return 0
  umount "$1"
  losetup -d "$dev" 2>/dev/null || true
}

release_fs() {
  local tool
  for tool in restic borg dbk; do
    unmount "$work/fs/restored/$tool"
    rm -f "$work/restore-$tool.img"
  done
  unmount "$work/fs"
  rm -rf "${work:?}/fs" "$work/fs.img"
}

warm() { find "$1" -type f -print0 | xargs -0 -r cat >/dev/null 2>&1 || true; }

# the peers (bench/peers.sh), then dbk, on one corpus: JSON lines in $results/NAME.jsonl, the
# table in $results/NAME.md
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
  local peer
  for peer in ${PEERS:-restic borg}; do fresh_restore_fs "$peer"; done
  bash "$root/bench/peers.sh" restore "$work/fs/repos" "$work/fs/restored" | tee -a "$out" >&2
  warm "$src" # the peers' restores wrote twice the corpus since it was read
  run_dbk "$name" "$src" | tee -a "$out" >&2
  table "$out" "$name — $src, $files files, $((bytes / 1000000)) MB ($(nproc) cores, load $load → $(cut -d' ' -f1 /proc/loadavg), dbk -threads $threads)" | tee "$results/$name.md"
  release_fs
}
