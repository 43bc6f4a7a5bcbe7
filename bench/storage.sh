#!/usr/bin/env bash
# Storage benchmark: the 1,000,000-row table of bench/quality.sh copied MySQL -> Parquet to a
# local path and to s3:// on a loopback S3 server (moto's, tests/s3/server.py, from
# target/s3-venv: run tests/setup.sh first), next to the reference measured in the same run:
# pyarrow writing the same rows (already in memory, read from our local output) to the same
# server with its own S3 client. Then the parquet reader reading the s3:// table back (all
# columns, and one) into a local CSV. Then MySQL -> ORC (hdfswriter fileType orc, zlib) next
# to pyarrow's ORC writer writing the same rows (in memory) with zlib. Median of 3 each. The
# MySQL read alone (the mariadb client dumping the table) is measured too: every MySQL -> X
# figure includes it, while the pyarrow references start from rows in memory.
# Usage: bench/storage.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dsstoragebench
test_python target/s3-venv "moto, pyarrow and boto3"
bench_start s3bench
PORT=$(free_port)
"$PY" tests/s3/server.py "$PORT" "$WORK/requests.log" 2>/dev/null &
SERVER=$!
at_exit 'kill $SERVER'
EP="http://127.0.0.1:$PORT"
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null; do sleep 0.2; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
"$PY" -c "import boto3; boto3.client('s3', endpoint_url='$EP').create_bucket(Bucket='bench')"

mysql_table $DB "$ROWS"

COLS='"column": [{"name": "id", "type": "bigint"}, {"name": "name", "type": "string"}, {"name": "amount", "type": "decimal(12,2)"}, {"name": "created", "type": "timestamp"}, {"name": "note", "type": "string"}]'
# ORC cannot hold DECIMAL here (orc-rust has no decimal encoder): amount goes as DOUBLE.
COLS_ORC='"column": [{"name": "id", "type": "bigint"}, {"name": "name", "type": "string"}, {"name": "amount", "type": "double"}, {"name": "created", "type": "timestamp"}, {"name": "note", "type": "string"}]'
SRC="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", \"column\": [\"id\", \"name\", \"amount\", \"created\", \"note\"], \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"
LOCAL="{\"name\": \"parquet\", \"parameter\": {\"path\": \"$WORK/pq\", \"fileName\": \"t\", \"writeMode\": \"truncate\", $COLS}}"
S3="{\"name\": \"parquet\", \"parameter\": {\"path\": \"s3://bench/t\", \"fileName\": \"t\", \"writeMode\": \"truncate\", \"s3\": {\"endpoint\": \"$EP\"}, \"stagingDir\": \"$WORK/staging\", $COLS}}"
READ_ALL="{\"name\": \"parquet\", \"parameter\": {\"path\": \"s3://bench/t\", \"column\": [\"*\"], \"s3\": {\"endpoint\": \"$EP\"}}}"
READ_ONE="{\"name\": \"parquet\", \"parameter\": {\"path\": \"s3://bench/t\", \"column\": [\"id\"], \"s3\": {\"endpoint\": \"$EP\"}}}"
ORC="{\"name\": \"hdfswriter\", \"parameter\": {\"fileType\": \"orc\", \"compress\": \"ZLIB\", \"path\": \"$WORK/orc\", \"fileName\": \"t\", \"writeMode\": \"truncate\", $COLS_ORC}}"
CSV="{\"name\": \"file\", \"parameter\": {\"path\": \"$WORK/csv\", \"fileName\": \"t\", \"writeMode\": \"truncate\", \"fileFormat\": \"csv\"}}"

job() { # file reader writer
  printf '{"job": {"setting": {"speed": {"channel": 2}}, "content": [{"reader": %s, "writer": %s}]}}' "$2" "$3" > "$1"
}
pyarrow_put() {
  "$PY" - "$WORK/pq" "$EP" <<'PYEOF'
import sys, time, pyarrow.dataset as ds, pyarrow.parquet as pq, pyarrow.fs as pafs
table = ds.dataset(sys.argv[1], format="parquet").to_table()
fs = pafs.S3FileSystem(endpoint_override=sys.argv[2], scheme="http", region="us-east-1",
                       access_key="bench", secret_key="bench")
start = time.time()
pq.write_table(table, "bench/pyarrow/t.parquet", filesystem=fs, compression="snappy")
print(time.time() - start)
PYEOF
}

pyarrow_orc() {
  "$PY" - "$WORK/pq" "$WORK/pyorc.orc" <<'PYEOF'
import sys, time, pyarrow as pa, pyarrow.dataset as ds, pyarrow.orc as po
table = ds.dataset(sys.argv[1], format="parquet").to_table()
table = table.set_column(2, "amount", table.column("amount").cast(pa.float64()))
start = time.time()
po.write_table(table, sys.argv[2], compression="zlib")
print(time.time() - start)
PYEOF
}

job "$WORK/orc.json" "$SRC" "$ORC"
job "$WORK/local.json" "$SRC" "$LOCAL"
job "$WORK/s3.json" "$SRC" "$S3"
job "$WORK/read_all.json" "$READ_ALL" "$CSV"
job "$WORK/read_one.json" "$READ_ONE" "$CSV"
mysql_cli() {
  local start=$EPOCHREALTIME
  "${MY[@]}" --quick --batch -e "SELECT * FROM $DB.t" > /dev/null
  python3 -c "print($EPOCHREALTIME - $start)"
}
measure "reference: mariadb --quick --batch reading the table (the MySQL floor)" mysql_cli
measure "MySQL -> Parquet, local path" run_job "$WORK/local.json"
measure "MySQL -> Parquet, s3:// (loopback moto server)" run_job "$WORK/s3.json"
measure "reference: pyarrow write_table of the same rows (in memory) to the same server" pyarrow_put
measure "s3:// Parquet -> CSV, all 5 columns" run_job "$WORK/read_all.json"
: > "$WORK/requests.log"
measure "s3:// Parquet -> CSV, column id only" run_job "$WORK/read_one.json"
measure "MySQL -> ORC (zlib), local path" run_job "$WORK/orc.json"
measure "reference: pyarrow ORC write_table (zlib) of the same rows (in memory)" pyarrow_orc
size=$("$PY" -c "import boto3; c=boto3.client('s3', endpoint_url='$EP'); print(sum(o['Size'] for o in c.list_objects_v2(Bucket='bench', Prefix='t/')['Contents']))")
fetched=$(awk -F'\t' '$1 ~ /^\/bench\/t\// {s += $3} END {print s + 0}' "$WORK/requests.log")

echo "| what | rows | seconds (median of 3) |"
echo "|---|---|---|"
while IFS=$'\t' read -r label t; do printf '| %s | %s | %.2f |\n' "$label" "$ROWS" "$t"; done < "$WORK/results"
echo
echo "bytes of the s3:// table: $size; fetched by the three id-only reads (server log): $fetched"
