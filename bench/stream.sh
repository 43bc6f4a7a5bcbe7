#!/usr/bin/env bash
# Engine benchmark (no server): stream -> stream(discard) and stream -> file(CSV), 10,000,000
# rows of 6 columns (long, double, string(20), decimal(12,2), timestamp, bool), channel 1 and 2.
# Prints a Markdown table: rows/s, MB/s (Arrow payload), peak RSS, and for CSV the ratio to
# `dd` writing the same number of bytes to the same disk in the same run (the I/O ceiling).
# Usage: bench/stream.sh [ROWS]   (default 10000000)
. "$(dirname "$0")/lib.sh"
ROWS=${1:-10000000}
bench_start bench

job() { # channels writer-json
  local ch=$1 writer=$2 slice=$(( ROWS / $1 ))
  cat <<JSON
{"job": {"setting": {"speed": {"channel": $ch}},
  "content": [{"reader": {"name": "stream", "parameter": {"seed": 1, "sliceRecordCount": $slice, "column": [
      {"name": "id", "type": "long", "incr": "1,1"},
      {"name": "score", "type": "double", "random": "0,1000000"},
      {"name": "name", "type": "string", "random": "20,20"},
      {"name": "amount", "type": "decimal(12,2)", "random": "0,9999999"},
      {"name": "created", "type": "date", "random": "2020-01-01 00:00:00,2025-12-31 23:59:59"},
      {"name": "active", "type": "bool", "random": "1,1"}]}},
   "writer": $writer}]}}
JSON
}

measure() { # name channels writer-json
  local name=$1 ch=$2
  job "$ch" "$3" > "$WORK/job.json"
  rm -rf "$WORK/out"
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" run "$WORK/job.json" --no-progress --report "$WORK/report.json" 2>"$WORK/log" || { cat "$WORK/log"; exit 1; }
  python3 - "$name" "$ch" "$WORK/report.json" "$(cat "$WORK/rss")" "$WORK/out" <<'PY'
import json, sys, os, glob
name, ch, report, rss_kb, out = sys.argv[1:6]
r = json.load(open(report))
size = sum(os.path.getsize(f) for f in glob.glob(out + "/*")) if os.path.isdir(out) else 0
secs = r["duration_seconds"]
print(f"| {name} | {ch} | {r['records_written']:,} | {secs:.2f} | {r['records_per_second']/1e6:.2f} M | {r['mb_per_second']:.0f} | {int(rss_kb)/1024:.0f} MiB | {size/1e6:.0f} MB |")
open(os.environ.get("BENCH_LAST", "/dev/null"), "w").write(f"{size} {secs}\n")
PY
}

export BENCH_LAST="$WORK/last"
echo "| job | channels | rows | seconds | rows/s | MB/s (payload) | peak RSS | output size |"
echo "|---|---|---|---|---|---|---|---|"
for ch in 1 2; do
  measure "stream -> discard" "$ch" '{"name": "stream", "parameter": {"print": false}}'
done
for ch in 1 2; do
  measure "stream -> CSV" "$ch" "{\"name\": \"file\", \"parameter\": {\"path\": \"$WORK/out\", \"fileName\": \"b.csv\", \"writeMode\": \"truncate\"}}"
  read -r size secs < "$WORK/last"
  # Reference in the same run: dd writing the same bytes, fsynced like our writer.
  start=$(date +%s.%N)
  dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=$(( size / 1048576 + 1 )) conv=fsync status=none
  end=$(date +%s.%N)
  python3 -c "import sys; s,d,e,se=map(float,sys.argv[1:]); print(f'| dd reference, same bytes | - | - | {e-d:.2f} | - | {s/1e6/(e-d):.0f} (file bytes) | - | ratio datasync/dd time: {se/(e-d):.2f} |')" "$size" "$start" "$end" "$secs"
  rm -f "$WORK/dd.bin"
done
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m), $(date -u +%Y-%m-%d)"
