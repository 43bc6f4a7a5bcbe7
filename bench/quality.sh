#!/usr/bin/env bash
# Data-quality benchmark against the local servers: the 1,000,000-row table of bench/mysql.sh
# copied MySQL -> PostgreSQL and MySQL -> Parquet with and without `job.verify` (count, sum,
# checksum), then `datasync diff` of MySQL against PostgreSQL after 10 rows were changed,
# next to the reference measured in the same run: a full sorted compare, both tables dumped
# in key order (`mariadb --quick --batch ... ORDER BY id`, `psql COPY (... ORDER BY id)`) into
# GNU `diff`. Median of 3 for each figure.
# Usage: bench/quality.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dsqbench
bench_start qbench

mysql_table $DB "$ROWS"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d $DB -c "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(64), amount numeric(12,2), created timestamp, note text)"

COLS='"column": ["id", "name", "amount", "created", "note"]'
SRC="{\"name\": \"mysql\", \"parameter\": {\"username\": \"root\", $COLS, \"splitPk\": \"id\", \"connection\": [{\"jdbcUrl\": [\"jdbc:mysql://127.0.0.1:3306/$DB\"], \"table\": [\"t\"]}]}}"
PG="{\"name\": \"postgres\", \"parameter\": {\"username\": \"postgres\", $COLS, \"preSql\": [\"TRUNCATE t\"], \"connection\": [{\"jdbcUrl\": \"jdbc:postgresql://127.0.0.1:5432/$DB\", \"table\": [\"t\"]}]}}"
PQ="{\"name\": \"parquet\", \"parameter\": {\"path\": \"$WORK/pq\", \"fileName\": \"t\", \"writeMode\": \"truncate\", \"column\": [{\"name\": \"id\", \"type\": \"bigint\"}, {\"name\": \"name\", \"type\": \"string\"}, {\"name\": \"amount\", \"type\": \"decimal(12,2)\"}, {\"name\": \"created\", \"type\": \"timestamp\"}, {\"name\": \"note\", \"type\": \"string\"}]}}"
RULES='{"rules": [{"rule": "count"}, {"rule": "sum", "column": "amount"}, {"rule": "checksum"}]}'

job() { # file writer verify(or empty)
  local v=""; [ -n "$3" ] && v="\"verify\": $3,"
  printf '{"job": {"setting": {"speed": {"channel": 2}}, %s "content": [{"reader": %s, "writer": %s}]}}' "$v" "$SRC" "$2" > "$1"
}
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

job "$WORK/pg.json" "$PG" ""
job "$WORK/pgv.json" "$PG" "$RULES"
job "$WORK/pq.json" "$PQ" ""
job "$WORK/pqv.json" "$PQ" "$RULES"
measure "MySQL -> PostgreSQL" run_job "$WORK/pg.json"
measure "MySQL -> PostgreSQL + verify (count, sum, checksum; table read back)" run_job "$WORK/pgv.json"
measure "MySQL -> Parquet" run_job "$WORK/pq.json"
measure "MySQL -> Parquet + verify (count, sum, checksum; staged files read back)" run_job "$WORK/pqv.json"

# 10 changed rows: 3 deleted, 3 inserted, 4 updated in the target.
"${PSQL[@]}" -d $DB -c "DELETE FROM t WHERE id IN (11, 222222, 777777);
  INSERT INTO t VALUES (${ROWS}1, 'x', 1, '2024-01-01', 'x'), (${ROWS}2, 'x', 1, '2024-01-01', 'x'), (${ROWS}3, 'x', 1, '2024-01-01', 'x');
  UPDATE t SET amount = amount + 1 WHERE id IN (5, 50000, 500000);
  UPDATE t SET note = 'changed' WHERE id = 999999;"
ds_diff() {
  local rc=0
  "$BIN" diff "$WORK/pg.json" --key id --out "$WORK/diff.jsonl" 2>"$WORK/dlog" || rc=$?
  [ "$rc" = 1 ] || { cat "$WORK/dlog" >&2; exit 1; }
  [ "$(wc -l < "$WORK/diff.jsonl")" = 10 ] || { cat "$WORK/diff.jsonl" >&2; exit 1; }
}
sorted_diff() {
  local rc=0
  diff <("${MY[@]}" --quick --batch --skip-column-names $DB -e "SELECT id, name, amount, created, note FROM t ORDER BY id") \
       <("${PSQL[@]}" -d $DB -c "COPY (SELECT id, name, amount, created, note FROM t ORDER BY id) TO STDOUT") > "$WORK/sorted.diff" || rc=$?
  [ "$rc" = 1 ] || exit 1
  [ "$(grep -c '^[<>]' "$WORK/sorted.diff")" = 14 ] || { head "$WORK/sorted.diff" >&2; exit 1; }
}
measure "datasync diff MySQL vs PostgreSQL, 10 rows changed (10 reported)" secs ds_diff
measure "reference: full sorted compare (both dumped ORDER BY id into GNU diff)" secs sorted_diff

echo "| what | rows | seconds (median of 3) |"
echo "|---|---|---|"
while IFS=$'\t' read -r label s; do printf '| %s | %s | %.2f |\n' "$label" "$ROWS" "$s"; done < "$WORK/results"
"${MY[@]}" -e "DROP DATABASE IF EXISTS $DB"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB"
