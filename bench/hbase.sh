#!/usr/bin/env bash
# HBase benchmark against the test gateway (tests/hbase/gateway.py with thriftpy2's compiled
# codecs, framed binary, on loopback): ROWS rows of MySQL -> HBase (rowkey long, 3 cells) and
# HBase -> discard, each by datasync and, as the reference in the same run, by happybase doing
# the same work (the same rows put in batches of 1000; a scan of the same columns decoding
# every cell). The
# gateway is Python, so both sides are bounded by it: the ratio says how much of the gateway's
# capacity each client leaves unused, not what a real HBase would take.
# Needs the test venv (tests/setup.sh). Usage: bench/hbase.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
DB=dshbasebench
test_python target/test-venv happybase
bench_start hbasebench
GW=""
at_exit '[ -n "$GW" ] && kill "$GW"'
PORT=$(free_port)

"${MY[@]}" -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB; USE $DB;
  CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DOUBLE, created BIGINT);
  INSERT INTO t SELECT seq, CONCAT('customer-', seq), (seq % 100000) / 100, 1700000000000 + seq FROM seq_1_to_$ROWS;"

gateway() { # (re)starts an empty gateway with tables a (datasync) and b (happybase)
  [ -n "$GW" ] && { kill "$GW"; wait "$GW" 2>/dev/null || true; }
  "$PY" tests/hbase/gateway.py --port "$PORT" --fast >"$WORK/gw.log" 2>&1 &
  GW=$!
  for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  "$PY" -c "import happybase; c = happybase.Connection('127.0.0.1', $PORT, transport='framed')
for t in ('a', 'b'): c.create_table(t, {'cf': dict(max_versions=1)})"
}
now() { date +%s.%N; }
rss() { sed -n 's/^\([0-9]*\)$/\1/p' "$1" | tail -1; }

gateway
cat > "$WORK/put.json" <<JSON
{"job": {"setting": {"speed": {"channel": 1}}, "content": [{
  "reader": {"name": "mysql", "parameter": {"username": "root", "column": ["id", "name", "amount", "created"],
    "connection": [{"jdbcUrl": ["jdbc:mysql://127.0.0.1:3306/$DB"], "table": ["t"]}]}},
  "writer": {"name": "hbase", "parameter": {"thriftAddress": "127.0.0.1:$PORT", "table": "a",
    "rowkeyColumn": [{"index": 0, "type": "long"}],
    "column": [{"index": 1, "name": "cf:name", "type": "string"}, {"index": 2, "name": "cf:amount", "type": "double"},
               {"index": 3, "name": "cf:created", "type": "long"}],
    "versionColumn": {"index": -1, "value": "1"}}}}]}}
JSON
t0=$(now); /usr/bin/time -f '%M' -o "$WORK/rss_put" "$BIN" run "$WORK/put.json" --no-progress 2>"$WORK/put.log"; t1=$(now)
DS_PUT=$(echo "$t1 - $t0" | bc)
grep -q "written $ROWS" "$WORK/put.log" || { cat "$WORK/put.log" >&2; exit 1; }

cat > "$WORK/ref_put.py" <<PYREF
import happybase, struct, subprocess, time
rows = subprocess.run(["mariadb", "-h", "127.0.0.1", "-u", "root", "--batch", "--skip-column-names", "$DB",
                       "-e", "SELECT id, name, amount, created FROM t"], capture_output=True, check=True).stdout
t0 = time.time()
c = happybase.Connection('127.0.0.1', $PORT, transport='framed')
with c.table('b').batch(batch_size=1000, timestamp=1) as b:
    for line in rows.splitlines():
        i, name, amount, created = line.split(b'\t')
        b.put(struct.pack('>q', int(i)), {b'cf:name': name, b'cf:amount': struct.pack('>d', float(amount)),
                                          b'cf:created': struct.pack('>q', int(created))})
print(time.time() - t0)
PYREF
REF_PUT=$("$PY" "$WORK/ref_put.py")

cat > "$WORK/scan.json" <<JSON
{"job": {"setting": {"speed": {"channel": 1}}, "content": [{
  "reader": {"name": "hbase", "parameter": {"thriftAddress": "127.0.0.1:$PORT", "table": "a", "scanCacheSize": 1000,
    "column": [{"name": "rowkey", "type": "long"}, {"name": "cf:name", "type": "string"},
               {"name": "cf:amount", "type": "double"}, {"name": "cf:created", "type": "long"}]}},
  "writer": {"name": "stream", "parameter": {}}}]}}
JSON
t0=$(now); /usr/bin/time -f '%M' -o "$WORK/rss_scan" "$BIN" run "$WORK/scan.json" --no-progress 2>"$WORK/scan.log"; t1=$(now)
DS_SCAN=$(echo "$t1 - $t0" | bc)
grep -q "read $ROWS" "$WORK/scan.log" || { cat "$WORK/scan.log" >&2; exit 1; }
cat > "$WORK/ref_scan.py" <<PYREF
import happybase, struct, time
t0 = time.time()
c = happybase.Connection('127.0.0.1', $PORT, transport='framed')
n = 0
for k, d in c.table('b').scan(batch_size=1000, columns=[b'cf:name', b'cf:amount', b'cf:created']):
    struct.unpack('>q', k); d[b'cf:name'].decode(); struct.unpack('>d', d[b'cf:amount']); struct.unpack('>q', d[b'cf:created'])
    n += 1
assert n == $ROWS, n
print(time.time() - t0)
PYREF
REF_SCAN=$("$PY" "$WORK/ref_scan.py")
"${MY[@]}" -e "DROP DATABASE $DB"

fmt() { printf '%.2f' "$1"; }
rate() { echo "$ROWS / $1 / 1000" | bc; }
echo "| measurement ($ROWS rows, one run each) | seconds | k rows/s | vs happybase | peak RSS |"
echo "|---|---|---|---|---|"
echo "| ref: happybase batch put (1000 rows/call) | $(fmt "$REF_PUT") | $(rate "$REF_PUT") | 1.00x | - |"
echo "| datasync mysql -> hbase, channel 1 | $(fmt "$DS_PUT") | $(rate "$DS_PUT") | $(fmt "$(echo "$REF_PUT / $DS_PUT" | bc -l)")x | $(( $(rss "$WORK/rss_put") / 1024 )) MiB |"
echo "| ref: happybase scan, cells decoded | $(fmt "$REF_SCAN") | $(rate "$REF_SCAN") | 1.00x | - |"
echo "| datasync hbase -> discard, channel 1 | $(fmt "$DS_SCAN") | $(rate "$DS_SCAN") | $(fmt "$(echo "$REF_SCAN / $DS_SCAN" | bc -l)")x | $(( $(rss "$WORK/rss_scan") / 1024 )) MiB |"
