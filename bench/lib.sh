# Sourced by the bench scripts: the one place that pins every peer they install (the venv is
# shared and reused; pins make reruns comparable) and the steps every script takes the same
# way: the release build and a work dir, timing, medians, running a datasync job and checking
# its report, the MySQL source table.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PIN_CONNECTORX=connectorx==0.4.6
PIN_PYARROW=pyarrow==26.0.1
PIN_SLING=sling-linux-amd64==1.4.11
PIN_DUCKDB_CLI=1.5.5
VENV=target/bench-venv
# The clients of the local servers the scripts measure against.
MY=(mariadb -h 127.0.0.1 -P 3306 -u root --default-character-set=utf8mb4)
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt)

# bench_venv PKG...: the bench venv with exactly these pinned packages.
bench_venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$@" >/dev/null
}

# bench_venv_sling PKG...: bench_venv, then $SLING, the Sling binary that PyPI package holds.
bench_venv_sling() {
  bench_venv "$@"
  SLING=$(ls "$VENV"/lib/python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64)
}

# test_python VENV WHAT: $PY, the python of a venv that tests/setup.sh makes (with WHAT).
test_python() {
  PY=$1/bin/python
  [ -x "$PY" ] || { echo "run tests/setup.sh first (it makes $PY with $2)" >&2; exit 1; }
}

# peer_versions PKG...: "name version" of each installed package, comma-separated.
peer_versions() {
  local out=() p
  for p in "$@"; do
    out+=("${p%%==*} $("$VENV/bin/pip" show "${p%%==*}" 2>/dev/null | awk '/^Version:/{print $2}')")
  done
  (IFS=,; echo "${out[*]}" | sed 's/,/, /g')
}

# bench_start NAME: the release binary ($BIN) and a work dir ($WORK), removed at exit after
# the commands given to at_exit (servers the script started).
EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }
bench_exit() {
  local h
  for h in "${EXIT_HOOKS[@]}"; do eval "$h" 2>/dev/null || true; done
  rm -rf "$WORK"
}
bench_start() {
  cargo build --release -q
  BIN=$PWD/target/release/datasync
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/datasync-$1.XXXXXX")
  trap bench_exit EXIT
}

median() { sort -n | sed -n 2p; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
noop() { :; }
# time_cmd CMD...: the seconds CMD takes (its output discarded).
time_cmd() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

# measure LABEL [--before HOOK] CMD...: the median of 3 runs of CMD (which prints seconds),
# HOOK run before each, appended to $WORK/results as "LABEL<tab>seconds".
measure() {
  local label=$1 pre=noop ts=()
  shift
  if [ "$1" = --before ]; then pre=$2; shift 2; fi
  for _ in 1 2 3; do $pre; ts+=("$("$@")"); done
  printf '%s\t%s\n' "$label" "$(printf '%s\n' "${ts[@]}" | median)" >> "$WORK/results"
}

# run_job FILE: runs the job (peak RSS appended to $WORK/rss_all), checks that it exited 0
# with all $ROWS rows written, prints its seconds.
run_job() {
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" run "$1" --no-progress --report "$WORK/r.json" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['records_written']==$ROWS and r['exit_code']==0, r; print(r['duration_seconds'])" "$WORK/r.json"
  cat "$WORK/rss" >> "$WORK/rss_all"
}

# run_ds CHANNELS READER WRITER: run_job of a one-content job of these plugin objects.
run_ds() {
  printf '{"job": {"setting": {"speed": {"channel": %s}}, "content": [{"reader": %s, "writer": %s}]}}' "$1" "$2" "$3" > "$WORK/job.json"
  run_job "$WORK/job.json"
}

# mysql_table DB ROWS [SQL]: database DB (made afresh) with the bench table t (id BIGINT PK,
# name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT ~100 B), then SQL.
mysql_table() {
  "${MY[@]}" -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1; USE $1;
  CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT);
  INSERT INTO t SELECT seq, CONCAT('customer-', seq), (seq % 100000) / 100, '2024-01-01' + INTERVAL (seq % 31536000) SECOND,
    REPEAT(CONCAT('note ', seq % 97, ' '), 12) FROM seq_1_to_$2; ${3:-}"
}
