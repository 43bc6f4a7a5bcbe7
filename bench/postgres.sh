#!/usr/bin/env bash
# PostgreSQL benchmark against the local servers: the same 1,000,000-row table as bench/mysql.sh,
# in PostgreSQL (and in MariaDB for MySQL -> PostgreSQL). Median of 3 for each figure, all in
# this one run, next to the references: `psql -c "COPY t TO STDOUT"` (read), connectorx into
# Arrow (read), psql `\copy t2 FROM` a text file (write), and Sling MySQL -> PostgreSQL.
# Usage: bench/postgres.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dspgbench
PEERS=("$PIN_CONNECTORX" "$PIN_PYARROW" "$PIN_SLING")
bench_venv_sling "${PEERS[@]}"
bench_start pgbench

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d $DB -c "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(64), amount numeric(12,2), created timestamp, note text);
  INSERT INTO t SELECT g, 'customer-' || g, (g % 100000) / 100.0, '2024-01-01'::timestamp + (g % 31536000) * interval '1 second',
    repeat('note ' || (g % 97) || ' ', 12) FROM generate_series(1, $ROWS) g;
  CREATE TABLE t2 (LIKE t INCLUDING ALL);"
"${PSQL[@]}" -d $DB -c "VACUUM ANALYZE t"
mysql_table $DB "$ROWS"
"${PSQL[@]}" -d $DB -c "COPY t TO STDOUT" > "$WORK/t.tsv"

COLS='"column": ["id", "name", "amount", "created", "note"]'
PG_SRC="{\"name\": \"postgres\", \"parameter\": {\"username\": \"postgres\", $COLS, \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:postgresql://127.0.0.1:5432/$DB\"], \"table\": [\"t\"]}]}}"
MY_SRC="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"
PG_TGT="{\"name\": \"postgres\", \"parameter\": {\"username\": \"postgres\", $COLS, \"connection\": [{\"jdbcUrl\": \"jdbc:postgresql://127.0.0.1:5432/$DB\", \"table\": [\"t2\"]}]}}"
DISCARD='{"name": "stream", "parameter": {}}'

truncate_t2() { "${PSQL[@]}" -d $DB -c "TRUNCATE t2"; }
drop_sling() { "${PSQL[@]}" -d $DB -c "DROP TABLE IF EXISTS public.t_sling"; }
cat > "$WORK/cx.py" <<PY
import time, connectorx as cx
t = time.time()
tbl = cx.read_sql("postgresql://postgres@127.0.0.1:5432/$DB", "SELECT id, name, amount, created, note FROM t", return_type="arrow")
assert tbl.num_rows == $ROWS
print(time.time() - t)
PY

measure "ref: psql COPY t TO STDOUT (read)" time_cmd "${PSQL[@]}" -d $DB -c "COPY t TO STDOUT"
measure "ref: connectorx -> Arrow (read)" "$VENV/bin/python" "$WORK/cx.py"
measure "datasync postgres -> discard, channel 1" run_ds 1 "$PG_SRC" "$DISCARD"
measure "datasync postgres -> discard, channel 2" run_ds 2 "$PG_SRC" "$DISCARD"
measure "ref: psql \\copy t2 FROM text (write)" --before truncate_t2 time_cmd "${PSQL[@]}" -d $DB -c "\\copy t2 FROM '$WORK/t.tsv'"
measure "datasync postgres -> postgres, channel 1" --before truncate_t2 run_ds 1 "$PG_SRC" "$PG_TGT"
measure "datasync postgres -> postgres, channel 2" --before truncate_t2 run_ds 2 "$PG_SRC" "$PG_TGT"
measure "datasync mysql -> postgres, channel 1" --before truncate_t2 run_ds 1 "$MY_SRC" "$PG_TGT"
measure "datasync mysql -> postgres, channel 2" --before truncate_t2 run_ds 2 "$MY_SRC" "$PG_TGT"
export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling" MY_SLING="mysql://root:@127.0.0.1:3306/$DB" PG_SLING="postgresql://postgres@127.0.0.1:5432/$DB?sslmode=disable"
measure "ref: Sling mysql -> postgres" --before drop_sling time_cmd "$SLING" run --src-conn MY_SLING --src-stream "$DB.t" --tgt-conn PG_SLING --tgt-object "public.t_sling" --mode full-refresh

python3 bench/rates.py "$WORK/results" "$ROWS" --rss "$WORK/rss_all" \
  --ref 'ref: psql \copy t2 FROM text (write)|COPY FROM|-> postgres|(write)' \
  --ref "ref: psql COPY t TO STDOUT (read)|COPY TO" \
  --ratio "datasync postgres -> discard, channel 1|ref: connectorx -> Arrow (read)" \
  --ratio "datasync mysql -> postgres, channel 1|ref: Sling mysql -> postgres"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${PSQL[@]}" -d postgres -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
echo "peers: $(peer_versions "${PEERS[@]}")"
"${PSQL[@]}" -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
"${MY[@]}" -e "DROP DATABASE $DB"
