#!/usr/bin/env bash
# PostgreSQL benchmark against the local servers: the same 1,000,000-row table as bench/mysql.sh,
# in PostgreSQL (and in MariaDB for MySQL -> PostgreSQL). Median of 3 for each figure, all in
# this one run, next to the references: `psql -c "COPY t TO STDOUT"` (read), connectorx into
# Arrow (read), psql `\copy t2 FROM` a text file (write), and Sling MySQL -> PostgreSQL.
# Usage: bench/postgres.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
DB=dspgbench
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt)
MY=(mariadb -h 127.0.0.1 -P 3306 -u root)
. bench/peers.sh
PEERS=("$PIN_CONNECTORX" "$PIN_PYARROW" "$PIN_SLING")
bench_venv "${PEERS[@]}"
SLING=$(ls "$VENV"/lib/python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64)
cargo build --release -q
BIN=target/release/datasync
WORK=$(mktemp -d "${TMPDIR:-/tmp}/datasync-pgbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d $DB -c "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(64), amount numeric(12,2), created timestamp, note text);
  INSERT INTO t SELECT g, 'customer-' || g, (g % 100000) / 100.0, '2024-01-01'::timestamp + (g % 31536000) * interval '1 second',
    repeat('note ' || (g % 97) || ' ', 12) FROM generate_series(1, $ROWS) g;
  CREATE TABLE t2 (LIKE t INCLUDING ALL);"
"${PSQL[@]}" -d $DB -c "VACUUM ANALYZE t"
"${MY[@]}" -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB; USE $DB;
  CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT);
  INSERT INTO t SELECT seq, CONCAT('customer-', seq), (seq % 100000) / 100, '2024-01-01' + INTERVAL (seq % 31536000) SECOND,
    REPEAT(CONCAT('note ', seq % 97, ' '), 12) FROM seq_1_to_$ROWS;"
"${PSQL[@]}" -d $DB -c "COPY t TO STDOUT" > "$WORK/t.tsv"

COLS='"column": ["id", "name", "amount", "created", "note"]'
PG_SRC="{\"name\": \"postgres\", \"parameter\": {\"username\": \"postgres\", $COLS, \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:postgresql://127.0.0.1:5432/$DB\"], \"table\": [\"t\"]}]}}"
MY_SRC="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"
PG_TGT="{\"name\": \"postgres\", \"parameter\": {\"username\": \"postgres\", $COLS, \"connection\": [{\"jdbcUrl\": \"jdbc:postgresql://127.0.0.1:5432/$DB\", \"table\": [\"t2\"]}]}}"
DISCARD='{"name": "stream", "parameter": {}}'

median() { sort -n | sed -n 2p; }
time_cmd() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
truncate_t2() { "${PSQL[@]}" -d $DB -c "TRUNCATE t2"; }
drop_sling() { "${PSQL[@]}" -d $DB -c "DROP TABLE IF EXISTS public.t_sling"; }
run_ds() { # channels reader writer
  printf '{"job": {"setting": {"speed": {"channel": %s}}, "content": [{"reader": %s, "writer": %s}]}}' "$1" "$2" "$3" > "$WORK/job.json"
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" run "$WORK/job.json" --no-progress --report "$WORK/r.json" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['records_written']==$ROWS, r; print(r['duration_seconds'])" "$WORK/r.json"
  cat "$WORK/rss" >> "$WORK/rss_all"
}
measure() { # label pre-hook command...
  local label=$1 pre=$2; shift 2; local ts=()
  for _ in 1 2 3; do $pre; ts+=("$("$@")"); done
  printf '%s\t%s\n' "$label" "$(printf '%s\n' "${ts[@]}" | median)" >> "$WORK/results"
}
noop() { :; }
cat > "$WORK/cx.py" <<PY
import time, connectorx as cx
t = time.time()
tbl = cx.read_sql("postgresql://postgres@127.0.0.1:5432/$DB", "SELECT id, name, amount, created, note FROM t", return_type="arrow")
assert tbl.num_rows == $ROWS
print(time.time() - t)
PY

measure "ref: psql COPY t TO STDOUT (read)" noop time_cmd "${PSQL[@]}" -d $DB -c "COPY t TO STDOUT"
measure "ref: connectorx -> Arrow (read)" noop "$VENV/bin/python" "$WORK/cx.py"
measure "datasync postgres -> discard, channel 1" noop run_ds 1 "$PG_SRC" "$DISCARD"
measure "datasync postgres -> discard, channel 2" noop run_ds 2 "$PG_SRC" "$DISCARD"
measure "ref: psql \\copy t2 FROM text (write)" truncate_t2 time_cmd "${PSQL[@]}" -d $DB -c "\\copy t2 FROM '$WORK/t.tsv'"
measure "datasync postgres -> postgres, channel 1" truncate_t2 run_ds 1 "$PG_SRC" "$PG_TGT"
measure "datasync postgres -> postgres, channel 2" truncate_t2 run_ds 2 "$PG_SRC" "$PG_TGT"
measure "datasync mysql -> postgres, channel 1" truncate_t2 run_ds 1 "$MY_SRC" "$PG_TGT"
measure "datasync mysql -> postgres, channel 2" truncate_t2 run_ds 2 "$MY_SRC" "$PG_TGT"
export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling" MY_SLING="mysql://root:@127.0.0.1:3306/$DB" PG_SLING="postgresql://postgres@127.0.0.1:5432/$DB?sslmode=disable"
measure "ref: Sling mysql -> postgres" drop_sling time_cmd "$SLING" run --src-conn MY_SLING --src-stream "$DB.t" --tgt-conn PG_SLING --tgt-object "public.t_sling" --mode full-refresh

python3 - "$WORK/results" "$ROWS" "$(sort -n "$WORK/rss_all" | tail -n1)" <<'PY'
import sys
rows = int(sys.argv[2]); res = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rate = {k: rows / float(v) for k, v in res}
read_ref = rate["ref: psql COPY t TO STDOUT (read)"]
write_ref = rate["ref: psql \\copy t2 FROM text (write)"]
print("| measurement (median of 3) | seconds | rows/s | vs reference |")
print("|---|---|---|---|")
for k, v in res:
    w = "-> postgres" in k or "(write)" in k
    ref, name = (write_ref, "COPY FROM") if w else (read_ref, "COPY TO")
    print(f"| {k} | {float(v):.2f} | {rate[k]/1e3:,.0f} k | {rate[k]/ref:.2f}x {name} |")
cx = rate["ref: connectorx -> Arrow (read)"]
print(f"\ndatasync postgres -> discard (channel 1) / connectorx: {rate['datasync postgres -> discard, channel 1']/cx:.2f}x")
print(f"datasync mysql -> postgres (channel 1) / Sling: {rate['datasync mysql -> postgres, channel 1']/rate['ref: Sling mysql -> postgres']:.1f}x")
print(f"peak RSS of datasync across its runs: {int(sys.argv[3]) / 1024:.0f} MiB")
PY
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${PSQL[@]}" -d postgres -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
echo "peers: $(peer_versions "${PEERS[@]}")"
"${PSQL[@]}" -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
"${MY[@]}" -e "DROP DATABASE $DB"
