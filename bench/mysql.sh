#!/usr/bin/env bash
# MySQL benchmark against the local MariaDB (127.0.0.1:3306, root): a 1,000,000-row table
# (id BIGINT PK, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT ~100 B).
# Each figure is the median of 3 runs, all in this one run, next to the references:
#   read:  `mariadb --quick --batch` to /dev/null, connectorx (PyPI) into Arrow
#   write: `LOAD DATA LOCAL INFILE` of the same rows, a multi-row INSERT dump via the client,
#          Sling (PyPI sling-linux-amd64) MySQL -> MySQL
# Usage: bench/mysql.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dsbench
PEERS=("$PIN_CONNECTORX" "$PIN_PYARROW" "$PIN_SLING")
bench_venv_sling "${PEERS[@]}"
bench_start mybench

mysql_table $DB "$ROWS" "CREATE TABLE t2 LIKE t; ALTER TABLE t ADD KEY (name);"
COLS='"column": ["id", "name", "amount", "created", "note"]'
src_on() { echo "{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"splitPk\": \"$1\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"; }
SRC=$(src_on id)
TGT="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"connection\": [{\"jdbcUrl\": \"jdbc:mysql://127.0.0.1:3306/$DB\", \"table\": [\"t2\"]}]}}"
CSV="{\"name\": \"file\", \"parameter\": {\"path\": \"$WORK/csv\", \"fileName\": \"t.csv\", \"writeMode\": \"truncate\"}}"
DISCARD='{"name": "stream", "parameter": {}}'

truncate_t2() { "${MY[@]}" -e "TRUNCATE $DB.t2"; }

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

measure "ref: mariadb --quick --batch (read)" time_cmd "${MY[@]}" --quick --batch -e "SELECT id, name, amount, created, note FROM $DB.t"
measure "ref: connectorx -> Arrow (read)" "$VENV/bin/python" "$WORK/cx.py"
measure "datasync mysql -> discard, channel 1" run_ds 1 "$SRC" "$DISCARD"
measure "datasync mysql -> discard, channel 2" run_ds 2 "$SRC" "$DISCARD"
measure "datasync mysql -> CSV, channel 1" run_ds 1 "$SRC" "$CSV"
# splitPk on the integer key vs on the text key `name` (indexed), same table, four channels.
measure "datasync mysql -> discard, channel 4, splitPk id (integer)" run_ds 4 "$SRC" "$DISCARD"
measure "datasync mysql -> discard, channel 4, splitPk name (text)" run_ds 4 "$(src_on name)" "$DISCARD"
measure "ref: LOAD DATA LOCAL INFILE (write)" --before truncate_t2 time_cmd "${MY[@]}" --local-infile=1 -e "LOAD DATA LOCAL INFILE '$WORK/t.tsv' INTO TABLE $DB.t2"
measure "ref: multi-row INSERT dump (write)" --before truncate_t2 time_cmd sh -c "${MY[*]} $DB < $WORK/dump.sql"
measure "datasync mysql -> mysql, channel 1" --before truncate_t2 run_ds 1 "$SRC" "$TGT"
measure "datasync mysql -> mysql, channel 2" --before truncate_t2 run_ds 2 "$SRC" "$TGT"
export SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling" MY_SLING="mysql://root:@127.0.0.1:3306/$DB"
measure "ref: Sling mysql -> mysql" time_cmd "$SLING" run --src-conn MY_SLING --src-stream "$DB.t" --tgt-conn MY_SLING --tgt-object "$DB.t_sling" --mode full-refresh

python3 bench/rates.py "$WORK/results" "$ROWS" --rss "$WORK/rss_all" \
  --ref "ref: LOAD DATA LOCAL INFILE (write)|LOAD DATA|-> mysql|(write)" \
  --ref "ref: mariadb --quick --batch (read)|mariadb --quick" \
  --ratio "datasync mysql -> discard, channel 1|ref: connectorx -> Arrow (read)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${MY[@]}" -N -e 'SELECT VERSION()'), $(date -u +%Y-%m-%d)"
echo "peers: $(peer_versions "${PEERS[@]}")"
"${MY[@]}" -e "DROP DATABASE $DB"
