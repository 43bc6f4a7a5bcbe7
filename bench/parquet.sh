#!/usr/bin/env bash
# Parquet benchmark: the 1,000,000-row MySQL bench table (as bench/mysql.sh) -> Parquet, and
# Parquet -> discard. Each figure is the median of 3 runs, all in this one run, next to:
#   write: connectorx + pyarrow (read to Arrow, write one Snappy Parquet file),
#          Sling (PyPI sling-linux-amd64 + duckdb-cli) MySQL -> Parquet folder
#   read:  pyarrow.parquet.read_table of the same files (all columns decoded)
# Usage: bench/parquet.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dspqbench
# Sling writes Parquet through the DuckDB CLI, which wants its json and httpfs extensions from
# extensions.duckdb.org (unreachable here): the PyPI builds of both go into a HOME of its own.
DUCK=$PIN_DUCKDB_CLI
PEERS=("$PIN_CONNECTORX" "$PIN_PYARROW" "$PIN_SLING" "duckdb-cli==$DUCK" \
  "duckdb-extension-json==$DUCK" "duckdb-extension-httpfs==$DUCK")
bench_venv_sling "${PEERS[@]}"
chmod +x "$VENV/bin/duckdb"
bench_start pqbench

mysql_table $DB "$ROWS"
SRC="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", \"column\": [\"id\", \"name\", \"amount\", \"created\", \"note\"], \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"
PQ="{\"name\": \"parquet\", \"parameter\": {\"path\": \"$WORK/pq\", \"fileName\": \"t\", \"writeMode\": \"truncate\", \"column\": [{\"name\": \"id\", \"type\": \"BIGINT\"}, {\"name\": \"name\", \"type\": \"VARCHAR(64)\"}, {\"name\": \"amount\", \"type\": \"DECIMAL(12,2)\"}, {\"name\": \"created\", \"type\": \"TIMESTAMP\"}, {\"name\": \"note\", \"type\": \"STRING\"}]}}"
PQREAD="{\"name\": \"parquet\", \"parameter\": {\"path\": \"$WORK/pq\"}}"
DISCARD='{"name": "stream", "parameter": {}}'

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

python3 bench/rates.py "$WORK/results" "$ROWS" --rss "$WORK/rss_all" \
  --ref "ref: pyarrow read_table (parquet read)|pyarrow read|discard|(parquet read)" \
  --ref "ref: connectorx + pyarrow (mysql -> parquet)|connectorx+pyarrow"
echo "Sling wrote $SLING_ROWS rows (of $ROWS)."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${MY[@]}" -N -e 'SELECT VERSION()'), $(date -u +%Y-%m-%d)"
echo "peers: $(peer_versions "${PEERS[@]}")"
"${MY[@]}" -e "DROP DATABASE $DB"
