#!/usr/bin/env bash
# MySQL benchmark against the local MariaDB (127.0.0.1:3306, root): a 1,000,000-row table
# (id BIGINT PK, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT ~100 B).
# Each figure is the median of 3 runs, all in this one run, next to the references:
#   read:  `mariadb --quick --batch` to /dev/null, connectorx (PyPI) into Arrow
#   write: `LOAD DATA LOCAL INFILE` of the same rows, a multi-row INSERT dump via the client,
#          Sling (PyPI sling-linux-amd64) MySQL -> MySQL
# Usage: bench/mysql.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
DB=dsbench
MY=(mariadb -h 127.0.0.1 -P 3306 -u root --default-character-set=utf8mb4)
. bench/peers.sh
PEERS=("$PIN_CONNECTORX" "$PIN_PYARROW" "$PIN_SLING")
bench_venv "${PEERS[@]}"
SLING=$(ls "$VENV"/lib/python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64)
cargo build --release -q
BIN=target/release/datasync
WORK=$(mktemp -d "${TMPDIR:-/tmp}/datasync-mybench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"${MY[@]}" -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB; USE $DB;
  CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT);
  INSERT INTO t SELECT seq, CONCAT('customer-', seq), (seq % 100000) / 100, '2024-01-01' + INTERVAL (seq % 31536000) SECOND,
    REPEAT(CONCAT('note ', seq % 97, ' '), 12) FROM seq_1_to_$ROWS;
  CREATE TABLE t2 LIKE t;
  ALTER TABLE t ADD KEY (name);"
COLS='"column": ["id", "name", "amount", "created", "note"]'
src_on() { echo "{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"splitPk\": \"$1\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"; }
SRC=$(src_on id)
TGT="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"connection\": [{\"jdbcUrl\": \"jdbc:mysql://127.0.0.1:3306/$DB\", \"table\": [\"t2\"]}]}}"
CSV="{\"name\": \"file\", \"parameter\": {\"path\": \"$WORK/csv\", \"fileName\": \"t.csv\", \"writeMode\": \"truncate\"}}"
DISCARD='{"name": "stream", "parameter": {}}'

median() { sort -n | sed -n 2p; }
# time_cmd CMD...: prints seconds
time_cmd() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
truncate_t2() { "${MY[@]}" -e "TRUNCATE $DB.t2"; }
run_ds() { # channels writer
  printf '{"job": {"setting": {"speed": {"channel": %s}}, "content": [{"reader": %s, "writer": %s}]}}' "$1" "$SRC" "$2" > "$WORK/job.json"
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" run "$WORK/job.json" --no-progress --report "$WORK/r.json" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['records_written']==$ROWS, r; print(r['duration_seconds'])" "$WORK/r.json"
  cat "$WORK/rss" >> "$WORK/rss_all"
}
measure() { # label pre-hook command...
  local label=$1 pre=$2; shift 2; local ts=()
  for _ in 1 2 3; do $pre; ts+=("$("$@")"); done
  local m; m=$(printf '%s\n' "${ts[@]}" | median)
  printf '%s\t%s\n' "$label" "$m" >> "$WORK/results"
}
noop() { :; }

"${MY[@]}" --quick --batch -N -e "SELECT id, name, amount, created, note FROM $DB.t" > "$WORK/t.tsv"
"${MY[@]}" -e "SELECT 1" >/dev/null
mariadb-dump -h 127.0.0.1 -u root --no-create-info --extended-insert --skip-add-locks --skip-disable-keys "$DB" t | sed 's/INSERT INTO `t`/INSERT INTO `t2`/' > "$WORK/dump.sql"
cat > "$WORK/cx.py" <<PY
import time, connectorx as cx
t = time.time()
tbl = cx.read_sql("mysql://root:@127.0.0.1:3306/$DB", "SELECT id, name, amount, created, note FROM t", return_type="arrow")
assert tbl.num_rows == $ROWS
print(time.time() - t)
PY

measure "ref: mariadb --quick --batch (read)" noop time_cmd "${MY[@]}" --quick --batch -e "SELECT id, name, amount, created, note FROM $DB.t"
measure "ref: connectorx -> Arrow (read)" noop "$VENV/bin/python" "$WORK/cx.py"
measure "datasync mysql -> discard, channel 1" noop run_ds 1 "$DISCARD"
measure "datasync mysql -> discard, channel 2" noop run_ds 2 "$DISCARD"
measure "datasync mysql -> CSV, channel 1" noop run_ds 1 "$CSV"
# splitPk on the integer key vs on the text key `name` (indexed), same table, four channels.
measure "datasync mysql -> discard, channel 4, splitPk id (integer)" noop run_ds 4 "$DISCARD"
SRC=$(src_on name)
measure "datasync mysql -> discard, channel 4, splitPk name (text)" noop run_ds 4 "$DISCARD"
SRC=$(src_on id)
measure "ref: LOAD DATA LOCAL INFILE (write)" truncate_t2 time_cmd "${MY[@]}" --local-infile=1 -e "LOAD DATA LOCAL INFILE '$WORK/t.tsv' INTO TABLE $DB.t2"
measure "ref: multi-row INSERT dump (write)" truncate_t2 time_cmd sh -c "${MY[*]} $DB < $WORK/dump.sql"
measure "datasync mysql -> mysql, channel 1" truncate_t2 run_ds 1 "$TGT"
measure "datasync mysql -> mysql, channel 2" truncate_t2 run_ds 2 "$TGT"
export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling" MY_SLING="mysql://root:@127.0.0.1:3306/$DB"
measure "ref: Sling mysql -> mysql" noop time_cmd "$SLING" run --src-conn MY_SLING --src-stream "$DB.t" --tgt-conn MY_SLING --tgt-object "$DB.t_sling" --mode full-refresh

python3 - "$WORK/results" "$ROWS" "$(sort -n "$WORK/rss_all" | tail -n1)" <<'PY'
import sys
rows = int(sys.argv[2]); res = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rate = {k: rows / float(v) for k, v in res}
read_ref, write_ref = rate["ref: mariadb --quick --batch (read)"], rate["ref: LOAD DATA LOCAL INFILE (write)"]
print("| measurement (median of 3) | seconds | rows/s | vs reference |")
print("|---|---|---|---|")
for k, v in res:
    ref = write_ref if ("-> mysql" in k or "(write)" in k) else read_ref
    refname = "LOAD DATA" if ref == write_ref else "mariadb --quick"
    print(f"| {k} | {float(v):.2f} | {rate[k]/1e3:,.0f} k | {rate[k]/ref:.2f}x {refname} |")
cx = rate["ref: connectorx -> Arrow (read)"]
print(f"\ndatasync mysql -> discard (channel 1) / connectorx: {rate['datasync mysql -> discard, channel 1']/cx:.2f}x")
print(f"peak RSS of datasync across its runs: {int(sys.argv[3]) / 1024:.0f} MiB")
PY
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${MY[@]}" -N -e 'SELECT VERSION()'), $(date -u +%Y-%m-%d)"
echo "peers: $(peer_versions "${PEERS[@]}")"
"${MY[@]}" -e "DROP DATABASE $DB"
