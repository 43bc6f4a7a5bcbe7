#!/usr/bin/env bash
# Parquet benchmark: the 1,000,000-row MySQL bench table (as bench/mysql.sh) -> Parquet, and
# Parquet -> discard. Each figure is the median of 3 runs, all in this one run, next to:
#   write: connectorx + pyarrow (read to Arrow, write one Snappy Parquet file),
#          Sling (PyPI sling-linux-amd64 + duckdb-cli) MySQL -> Parquet folder
#   read:  pyarrow.parquet.read_table of the same files (all columns decoded)
# Usage: bench/parquet.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
DB=dspqbench
MY=(mariadb -h 127.0.0.1 -P 3306 -u root --default-character-set=utf8mb4)
. bench/peers.sh
# Sling writes Parquet through the DuckDB CLI, which wants its json and httpfs extensions from
# extensions.duckdb.org (unreachable here): the PyPI builds of both go into a HOME of its own.
DUCK=$PIN_DUCKDB_CLI
PEERS=("$PIN_CONNECTORX" "$PIN_PYARROW" "$PIN_SLING" "duckdb-cli==$DUCK" \
  "duckdb-extension-json==$DUCK" "duckdb-extension-httpfs==$DUCK")
bench_venv "${PEERS[@]}"
chmod +x "$VENV/bin/duckdb"
SLING=$(ls "$VENV"/lib/python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64)
cargo build --release -q
BIN=target/release/datasync
WORK=$(mktemp -d "${TMPDIR:-/tmp}/datasync-pqbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"${MY[@]}" -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB; USE $DB;
  CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT);
  INSERT INTO t SELECT seq, CONCAT('customer-', seq), (seq % 100000) / 100, '2024-01-01' + INTERVAL (seq % 31536000) SECOND,
    REPEAT(CONCAT('note ', seq % 97, ' '), 12) FROM seq_1_to_$ROWS;"
SRC="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", \"column\": [\"id\", \"name\", \"amount\", \"created\", \"note\"], \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"
PQ="{\"name\": \"parquet\", \"parameter\": {\"path\": \"$WORK/pq\", \"fileName\": \"t\", \"writeMode\": \"truncate\", \"column\": [{\"name\": \"id\", \"type\": \"BIGINT\"}, {\"name\": \"name\", \"type\": \"VARCHAR(64)\"}, {\"name\": \"amount\", \"type\": \"DECIMAL(12,2)\"}, {\"name\": \"created\", \"type\": \"TIMESTAMP\"}, {\"name\": \"note\", \"type\": \"STRING\"}]}}"
PQREAD="{\"name\": \"parquet\", \"parameter\": {\"path\": \"$WORK/pq\"}}"
DISCARD='{"name": "stream", "parameter": {}}'

median() { sort -n | sed -n 2p; }
time_cmd() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
run_ds() { # channels reader writer
  printf '{"job": {"setting": {"speed": {"channel": %s}}, "content": [{"reader": %s, "writer": %s}]}}' "$1" "$2" "$3" > "$WORK/job.json"
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" run "$WORK/job.json" --no-progress --report "$WORK/r.json" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['records_written']==$ROWS, r; print(r['duration_seconds'])" "$WORK/r.json"
  cat "$WORK/rss" >> "$WORK/rss_all"
}
measure() { # label command...
  local label=$1; shift; local ts=()
  for _ in 1 2 3; do ts+=("$("$@")"); done
  printf '%s\t%s\n' "$label" "$(printf '%s\n' "${ts[@]}" | median)" >> "$WORK/results"
}

cat > "$WORK/cx.py" <<PY
import time, connectorx as cx, pyarrow.parquet as pq
t = time.time()
tbl = cx.read_sql("mysql://root:@127.0.0.1:3306/$DB", "SELECT id, name, amount, created, note FROM t", return_type="arrow")
pq.write_table(tbl, "$WORK/cx.parquet", compression="snappy")
assert tbl.num_rows == $ROWS
print(time.time() - t)
PY
cat > "$WORK/pa_read.py" <<PY
import sys, time, pyarrow.parquet as pq
t = time.time()
tbl = pq.read_table(sys.argv[1])
assert tbl.num_rows == $ROWS, tbl.num_rows
print(time.time() - t)
PY

measure "ref: connectorx + pyarrow (mysql -> parquet)" "$VENV/bin/python" "$WORK/cx.py"
measure "datasync mysql -> parquet, channel 1" run_ds 1 "$SRC" "$PQ"
measure "datasync mysql -> parquet, channel 2" run_ds 2 "$SRC" "$PQ"
export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling" MY_SLING="mysql://root:@127.0.0.1:3306/$DB"
export DUCKDB_PATH="$PWD/$VENV/bin/duckdb" DUCKDB_VERSION=$DUCK
mkdir -p "$WORK/home/.duckdb/extensions/v$DUCK/linux_amd64"
cp $(find "$VENV" -name json.duckdb_extension -o -name httpfs.duckdb_extension) "$WORK/home/.duckdb/extensions/v$DUCK/linux_amd64/"
# A folder target needs file_max_rows (its single-file Parquet target loses rows).
sling_pq() { rm -rf "$WORK/sling_pq"; HOME="$WORK/home" time_cmd "$SLING" run --src-conn MY_SLING --src-stream "$DB.t" --tgt-object "file://$WORK/sling_pq/" --tgt-options '{"format": "parquet", "file_max_rows": 500000}'; }
measure "ref: Sling mysql -> parquet folder" sling_pq
measure "ref: pyarrow read_table (parquet read)" "$VENV/bin/python" "$WORK/pa_read.py" "$WORK/pq"
measure "datasync parquet -> discard, channel 1" run_ds 1 "$PQREAD" "$DISCARD"
measure "datasync parquet -> discard, channel 2" run_ds 2 "$PQREAD" "$DISCARD"
SLING_ROWS=$("$VENV/bin/python" -c "import pyarrow.dataset as d; print(d.dataset('$WORK/sling_pq').count_rows())")

python3 - "$WORK/results" "$ROWS" "$(sort -n "$WORK/rss_all" | tail -n1)" "$SLING_ROWS" <<'PY'
import sys
rows = int(sys.argv[2]); res = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rate = {k: rows / float(v) for k, v in res}
wref, rref = rate["ref: connectorx + pyarrow (mysql -> parquet)"], rate["ref: pyarrow read_table (parquet read)"]
print("| measurement (median of 3) | seconds | rows/s | vs reference |")
print("|---|---|---|---|")
for k, v in res:
    ref, name = (rref, "pyarrow read") if ("discard" in k or "(parquet read)" in k) else (wref, "connectorx+pyarrow")
    print(f"| {k} | {float(v):.2f} | {rate[k]/1e3:,.0f} k | {rate[k]/ref:.2f}x {name} |")
print(f"\nSling wrote {sys.argv[4]} rows (of {rows}).")
print(f"peak RSS of datasync across its runs: {int(sys.argv[3]) / 1024:.0f} MiB")
PY
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${MY[@]}" -N -e 'SELECT VERSION()'), $(date -u +%Y-%m-%d)"
echo "peers: $(peer_versions "${PEERS[@]}")"
"${MY[@]}" -e "DROP DATABASE $DB"
