#!/usr/bin/env bash
# Container-task mode benchmark: the 1,000,000-row MySQL bench table (as bench/parquet.sh) ->
# Parquet, as one process (`datasync run`) and as 1, 2 and 4 shards on a Spark standalone
# master + worker (2 cores) started from pyspark on loopback, through
# launchers/spark/datasync_spark.py. Each figure is the median of 3 runs, all in this one run.
# For each Spark run: the whole Spark application's wall time, the datasync work inside it
# (plan, the longest shard, commit: from the plan's and the reports' times), Spark's overhead
# (the rest: JVMs, scheduling), and the peak RSS of each shard process.
# Needs the test venv (tests/setup.sh makes target/test-venv with pyspark).
# Usage: bench/shards.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dsshardbench
test_python target/test-venv pyspark
bench_start shardbench
SPARK_PIDS=()
at_exit 'for p in "${SPARK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done'

mysql_table $DB "$ROWS"
job() { # channels -> job file
  cat > "$WORK/job.json" <<JSON
{"job": {"setting": {"speed": {"channel": $1}}, "content": [{
  "reader": {"name": "mysql", "parameter": {"username": "root", "column": ["id", "name", "amount", "created", "note"],
    "splitPk": "id", "connection": [{"jdbcUrl": ["jdbc:mysql://127.0.0.1:3306/$DB"], "table": ["t"]}]}},
  "writer": {"name": "parquet", "parameter": {"path": "$WORK/pq", "fileName": "t", "writeMode": "truncate",
    "column": [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "VARCHAR(64)"}, {"name": "amount", "type": "DECIMAL(12,2)"},
               {"name": "created", "type": "TIMESTAMP"}, {"name": "note", "type": "STRING"}]}}}]}}
JSON
}
# Each shard's peak RSS: the launcher runs this wrapper instead of the binary.
cat > "$WORK/ds" <<SH
#!/bin/sh
exec /usr/bin/time -f '%M' -a -o "$WORK/rss_\$1" "$BIN" "\$@"
SH
chmod +x "$WORK/ds"

# Spark standalone on loopback.
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON=$PWD/$PY
CLASS=$(dirname "$PY")/spark-class
PORT=$(free_port)
"$CLASS" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" --webui-port "$(free_port)" >"$WORK/master.log" 2>&1 &
SPARK_PIDS+=($!)
"$CLASS" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 2 --memory 2g --webui-port "$(free_port)" "spark://127.0.0.1:$PORT" >"$WORK/worker.log" 2>&1 &
SPARK_PIDS+=($!)
for _ in $(seq 1 300); do grep -qs "Registering worker" "$WORK/master.log" && break; sleep 0.2; done
grep -q "Registering worker" "$WORK/master.log" || { cat "$WORK/master.log" >&2; exit 1; }

single() { # channels
  job "$1"
  run_job "$WORK/job.json"
}
spark() { # shards -> "wall work maxrss"
  job 1
  rm -rf "$WORK/plan" "$WORK"/rss_run
  local s e
  s=$(date +%s.%N)
  "$PY" launchers/spark/datasync_spark.py --master "spark://127.0.0.1:$PORT" --shards "$1" \
    --plan-dir "$WORK/plan" --binary "$WORK/ds" "$WORK/job.json" >"$WORK/spark.log" 2>&1 || { tail -50 "$WORK/spark.log" >&2; exit 1; }
  e=$(date +%s.%N)
  python3 - "$WORK/plan" "$ROWS" "$(echo "$e - $s" | bc -l)" "$WORK/rss_run" <<'PY'
import json, sys, glob, datetime, os
plan, rows, wall = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t = lambda s: datetime.datetime.fromisoformat(s).timestamp()
reps = [json.load(open(f)) for f in glob.glob(plan + "/shards/*.json")]
assert sum(r["recordsWritten"] for r in reps) == rows
created = t(json.load(open(plan + "/plan.json"))["created"])
committed = os.path.getmtime(plan + "/_COMMITTED")
longest = max(t(r["end"]) - t(r["start"]) for r in reps)
rss = max(int(l) for l in open(sys.argv[4]) if l.strip().isdigit())
print(f"{wall:.2f} {longest:.2f} {committed - created:.2f} {rss}")
PY
}
for c in 1 2; do
  ts=(); for _ in 1 2 3; do ts+=("$(single "$c")"); done
  printf 'single\t%s\t%s\t%s\n' "$c" "$(printf '%s\n' "${ts[@]}" | median)" "$(cat "$WORK/rss")" >> "$WORK/results"
done
for n in 1 2 4; do
  out=(); for _ in 1 2 3; do out+=("$(spark "$n")"); done
  printf 'spark\t%s\t%s\n' "$n" "$(printf '%s\n' "${out[@]}" | sort -n | sed -n 2p)" >> "$WORK/results"
done

python3 - "$WORK/results" "$ROWS" <<'PY'
import sys
rows = int(sys.argv[2]); res = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
base = float(next(r[2] for r in res if r[0] == "single" and r[1] == "1"))
print("| run (median of 3) | wall seconds | rows/s | datasync: longest shard / plan..commit | Spark overhead | peak RSS per process | vs single process, channel 1 |")
print("|---|---|---|---|---|---|---|")
for r in res:
    if r[0] == "single":
        secs = float(r[2])
        print(f"| datasync run, channel {r[1]} | {secs:.2f} | {rows/secs/1e3:,.0f} k | - | - | {int(r[3])/1024:.0f} MiB | {base/secs:.2f}x |")
    else:
        wall, longest, work, rss = r[2].split()
        wall, longest, work = float(wall), float(longest), float(work)
        print(f"| Spark standalone, {r[1]} shard(s) | {wall:.2f} | {rows/wall/1e3:,.0f} k | {longest:.2f} / {work:.2f} | {wall-work:.2f} | {int(rss)/1024:.0f} MiB | {base/wall:.2f}x |")
PY
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $("${MY[@]}" -N -e 'SELECT VERSION()'), pyspark $("$PY" -c 'import pyspark; print(pyspark.__version__)'), $(date -u +%Y-%m-%d)"
"${MY[@]}" -e "DROP DATABASE $DB"
