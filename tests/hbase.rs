//! HBase reader and writer against a protocol-level Thrift1 gateway (`tests/hbase/gateway.py`:
//! HBase's own IDL served by thriftpy2 over an in-memory store with HBase's semantics), itself
//! checked with happybase, an independent client. Data put by datasync is read back with
//! happybase, Parquet with pyarrow, MySQL with the mariadb client. With
//! `DATASYNC_TEST_HBASE_THRIFT=host:port` (a real gateway, framed binary) the live test runs.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A test gateway on a free loopback port; killed on drop.
struct Gateway {
    child: Child,
    port: u16,
    transport: &'static str,
    protocol: &'static str,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start(transport: &'static str, protocol: &'static str, splits: &str, slow: f64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let port = free_port();
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hbase/gateway.py");
        let mut child = Command::new(python())
            .arg(script)
            .args([
                "--port",
                &port.to_string(),
                "--transport",
                transport,
                "--protocol",
                protocol,
            ])
            .args(["--splits", splits, "--state", state.to_str().unwrap()])
            .args(["--slow-scans", &slow.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(&mut child, port, 30, "the gateway");
        Gateway {
            child,
            port,
            transport,
            protocol,
            state,
            _dir: dir,
        }
    }

    /// The `thriftAddress`/`transport`/`protocol` members of a plugin's parameters.
    fn params(&self) -> String {
        format!(
            r#""thriftAddress": "127.0.0.1:{}", "transport": "{}", "protocol": "{}""#,
            self.port, self.transport, self.protocol
        )
    }

    /// Runs `body` in Python with `c` a happybase connection to the gateway; its stdout.
    fn happybase(&self, body: &str) -> String {
        let script = format!(
            "import happybase, json, struct, sys\nc = happybase.Connection('127.0.0.1', {}, transport='{}', protocol='{}')\n{body}\n",
            self.port, self.transport, self.protocol
        );
        run_python(&script, &[])
    }

    /// Scanners opened, closed and open now.
    fn scanners(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_test_gateway_passes_happybase_checks() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hbase/check_gateway.py");
    for (t, p) in [("framed", "binary"), ("buffered", "compact")] {
        let g = Gateway::start(t, p, r#"{"gw_check": ["m"]}"#, 0.0);
        let out = stdout_of(
            Command::new(python())
                .arg(&script)
                .args([g.port.to_string().as_str(), t, p]),
            &format!("{t}/{p}"),
        );
        assert_eq!(out.trim(), "ok");
    }
}

#[test]
fn mysql_to_hbase_to_parquet_is_exact_across_regions() {
    // Three regions cut at binary keys (8-byte big-endian ids 100 and 200).
    let g = Gateway::start(
        "framed",
        "binary",
        r#"{"orders": ["\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x64", "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xC8"]}"#,
        0.0,
    );
    g.happybase("c.create_table('orders', {'cf': dict(max_versions=1)})");
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(40), amount DOUBLE, small SMALLINT, \
         flag BOOLEAN, created DATETIME(3));
         INSERT INTO src SELECT seq, CONCAT('名前 ', seq), seq / 8, CAST(seq AS SIGNED) - 150, seq % 2, \
           TIMESTAMPADD(SECOND, seq, '2024-02-29 23:00:00.125') FROM seq_1_to_300;
         UPDATE src SET name = NULL, small = -32768 WHERE id = 7;",
    );
    let text = job(
        r#"{"speed": {"channel": 3}}"#,
        &format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "name", "amount", "small", "flag", "created"],
                "splitPk": "id", "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
        &format!(
            r#"{{"name": "hbase11xwriter", "parameter": {{{}, "table": "orders", "mode": "normal",
                "rowkeyColumn": [{{"index": 0, "type": "long"}}],
                "column": [{{"index": 1, "name": "cf:name", "type": "string"}},
                           {{"index": 2, "name": "cf:amount", "type": "double"}},
                           {{"index": 3, "name": "cf:small", "type": "short"}},
                           {{"index": 4, "name": "cf:flag", "type": "boolean"}},
                           {{"index": 5, "name": "cf:created", "type": "long"}}],
                "versionColumn": {{"index": -1, "value": "1700000000000"}}}}}}"#,
            g.params()
        ),
    );
    let (o, _t) = run_job_ok("mysql_to_hbase", &text);
    assert_stderr_has(&o, "written 300");
    // What HBase holds, by happybase: Bytes.toBytes encodings and the fixed version.
    let seen = g.happybase(
        r#"t = c.table('orders')
rows = list(t.scan(include_timestamp=True))
print(len(rows))
k, d = [r for r in rows if struct.unpack('>q', r[0])[0] == 9][0]
print(d[b'cf:name'][0].decode(), struct.unpack('>d', d[b'cf:amount'][0])[0], struct.unpack('>h', d[b'cf:small'][0])[0], d[b'cf:flag'][0].hex(), struct.unpack('>q', d[b'cf:created'][0])[0], d[b'cf:name'][1])
k, d = [r for r in rows if struct.unpack('>q', r[0])[0] == 7][0]
print(sorted(x.decode() for x in d), struct.unpack('>h', d[b'cf:small'][0])[0])"#,
    );
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "300");
    assert_eq!(lines[1], "名前 9 1.125 -141 ff 1709247609125 1700000000000");
    assert_eq!(
        lines[2],
        "['cf:amount', 'cf:created', 'cf:flag', 'cf:small'] -32768"
    );

    // HBase -> Parquet: one task per region, every row once, values exact.
    let out = tempfile::tempdir().unwrap();
    let text = job(
        r#"{"speed": {"channel": 3}}"#,
        &format!(
            r#"{{"name": "hbase11xreader", "parameter": {{{}, "table": "orders", "mode": "normal",
                "column": [{{"name": "rowkey", "type": "long"}}, {{"name": "cf:name", "type": "string"}},
                           {{"name": "cf:amount", "type": "double"}}, {{"name": "cf:small", "type": "short"}},
                           {{"name": "cf:flag", "type": "boolean"}}, {{"name": "cf:created", "type": "long"}},
                           {{"value": "2024", "type": "int"}}],
                "scanCacheSize": 7, "scanBatchSize": 2}}}}"#,
            g.params()
        ),
        &format!(
            r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "parquet",
                "path": "{}", "fileName": "t", "writeMode": "truncate",
                "column": [{{"name": "rowkey", "type": "BIGINT"}}, {{"name": "name", "type": "STRING"}},
                           {{"name": "amount", "type": "DOUBLE"}}, {{"name": "small", "type": "SMALLINT"}},
                           {{"name": "flag", "type": "BOOLEAN"}}, {{"name": "created", "type": "BIGINT"}},
                           {{"name": "c", "type": "INT"}}]}}}}"#,
            out.path().display()
        ),
    );
    let (o, _t) = run_job_ok("hbase_to_parquet", &text);
    assert_stderr_has(&o, "3 task(s)");
    let got = run_python(
        r#"
import sys, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table().sort_by("rowkey")
print(t.num_rows, len(set(t.column("rowkey").to_pylist())))
print({f.name: str(f.type) for f in t.schema})
for r in t.to_pylist():
    if r["rowkey"] in (7, 9): print(r)
"#,
        &[out.path().to_str().unwrap()],
    );
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "300 300");
    assert_eq!(
        lines[1],
        "{'rowkey': 'int64', 'name': 'string', 'amount': 'double', 'small': 'int16', 'flag': 'bool', 'created': 'int64', 'c': 'int32'}"
    );
    assert_eq!(
        lines[2],
        "{'rowkey': 7, 'name': None, 'amount': 0.875, 'small': -32768, 'flag': True, 'created': 1709247607125, 'c': 2024}"
    );
    assert_eq!(
        lines[3],
        "{'rowkey': 9, 'name': '名前 9', 'amount': 1.125, 'small': -141, 'flag': True, 'created': 1709247609125, 'c': 2024}"
    );
    // Every scanner was closed.
    assert_eq!(g.scanners()["open"], 0, "{}", g.scanners());
}

#[test]
fn versions_binary_keys_ranges_and_dirty_cells_over_compact_buffered() {
    let g = Gateway::start("buffered", "compact", r#"{"t": ["r5"]}"#, 0.0);
    g.happybase(
        r#"c.create_table('t', {'cf': dict(max_versions=5)})
t = c.table('t')
for i in range(10):
    for ts in (100, 200, 300):
        t.put(b'r%d' % i, {b'cf:n': struct.pack('>i', i * 1000 + ts), b'cf:s': b'v%d' % ts}, timestamp=ts)
t.put(b'r3', {b'cf:n': b'27'}, timestamp=400)
t.put(b'\x00\xffbin', {b'cf:n': struct.pack('>i', -1), b'cf:s': b'x'}, timestamp=1)"#,
    );
    let t = tempfile::tempdir().unwrap();
    // Every version of cf:n of rows r2..r4 (r3's newest version is not an int: dirty).
    let text = job(
        r#"{"speed": {"channel": 2}, "errorLimit": {"record": 5}}"#,
        &format!(
            r#"{{"name": "hbase", "parameter": {{{}, "table": "t", "mode": "multiVersionFixedColumn", "maxVersion": "-1",
                "column": [{{"name": "rowkey", "type": "string"}}, {{"name": "cf:n", "type": "int"}}],
                "range": {{"startRowkey": "r2", "endRowkey": "r5"}}}}}}"#,
            g.params()
        ),
        &format!(
            r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "v", "writeMode": "truncate", "fieldDelimiter": ","}}}}"#,
            t.path().join("out").display()
        ),
    );
    let p = write_job(t.path(), "versions", &text);
    let o = run_file(t.path(), &p, &["--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut rows = lines_in(&t.path().join("out"));
    rows.sort();
    assert_eq!(rows.len(), 3 * 3, "{rows:?}");
    assert!(rows.contains(&"r2,cf:n,300,2300".to_string()), "{rows:?}");
    assert!(rows.contains(&"r4,cf:n,100,4100".to_string()), "{rows:?}");
    assert!(rows.contains(&"r3,cf:n,300,3300".to_string()), "{rows:?}");
    assert!(
        !rows
            .iter()
            .any(|r| r.starts_with("r5") || r.starts_with("r1,")),
        "{rows:?}"
    );
    let dirty = std::fs::read_to_string(t.path().join("versions.dirty.jsonl")).unwrap_or_default()
        + &lines_in(t.path()).join("\n");
    assert!(
        dirty.contains("2 byte(s) (27) where a int holds exactly 4"),
        "{dirty}"
    );
    assert!(stderr(&o).contains("dirty 1"), "{}", stderr(&o));

    // A binary row key range: only the \x00\xff row, its key kept as \xHH text.
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "hbase", "parameter": {{{}, "table": "t",
                "column": [{{"name": "rowkey", "type": "binarystring"}}, {{"name": "cf:n", "type": "int"}}, {{"name": "cf:s", "type": "string"}}],
                "range": {{"startRowkey": "\\x00", "endRowkey": "\\x01", "isBinaryRowkey": true}}}}}}"#,
            g.params()
        ),
        r#"{"name": "streamwriter", "parameter": {"print": true}}"#,
    );
    let (o, _t) = run_job_ok("binary_range", &text);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "\\x00\\xFFbin\t-1\tx"
    );
    assert_eq!(g.scanners()["open"], 0, "{}", g.scanners());
}

#[test]
fn writer_isolates_refused_rows_and_checks_its_table() {
    let g = Gateway::start("framed", "compact", "{}", 0.0);
    g.happybase("c.create_table('w', {'cf': dict(max_versions=1)})");
    let input = tempfile::tempdir().unwrap();
    std::fs::write(
        input.path().join("in.csv"),
        "1,10,a\n2,40000,b\n3,30,\n4,,\n5,50,e\n",
    )
    .unwrap();
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "fieldDelimiter": ",", "nullFormat": "",
            "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "long"}}, {{"index": 2, "type": "string"}}]}}}}"#,
        input.path().join("in.csv").display()
    );
    // 40000 does not fit a short: dirty; row 4 has only NULLs to write: dirty; the rest land.
    let writer = |cells: &str| {
        format!(
            r#"{{"name": "hbase11xwriter", "parameter": {{{}, "table": "w",
                "rowkeyColumn": [{{"index": -1, "type": "string", "value": "k"}}, {{"index": 0, "type": "string"}}],
                "column": {cells}}}}}"#,
            g.params()
        )
    };
    let text = job(
        r#"{"errorLimit": {"record": 2}}"#,
        &reader,
        &writer(
            r#"[{"index": 1, "name": "cf:n", "type": "short"}, {"index": 2, "name": "cf:s", "type": "string"}]"#,
        ),
    );
    let (o, t) = run_job_ok("refused", &text);
    assert_stderr_has(&o, "written 3");
    let dirty = lines_in(t.path()).join("\n");
    assert!(dirty.contains("out of the range of a short"), "{dirty}");
    assert!(dirty.contains("every written column is NULL"), "{dirty}");
    let rows = g.happybase(
        "print(sorted((k.decode(), sorted(x.decode() for x in d)) for k, d in c.table('w').scan()))",
    );
    assert_eq!(
        rows.trim(),
        "[('k1', ['cf:n', 'cf:s']), ('k3', ['cf:n']), ('k5', ['cf:n', 'cf:s'])]"
    );
    // A family the table does not have: refused before any row is read.
    let text = job(
        "{}",
        &reader,
        &writer(r#"[{"index": 1, "name": "nofam:n", "type": "long"}]"#),
    );
    let (o, _t) = run_job("no_family", &text);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "w has no column family nofam (it has cf)");
    assert_stderr_has(&o, "read 0");
}

#[test]
fn sigterm_mid_scan_closes_the_scanners() {
    let g = Gateway::start("framed", "binary", r#"{"big": ["m"]}"#, 0.3);
    g.happybase(
        r#"c.create_table('big', {'cf': dict(max_versions=1)})
with c.table('big').batch() as b:
    for i in range(2000):
        b.put(b'%s%04d' % (b'a' if i % 2 else b'n', i), {b'cf:v': b'x' * 10})"#,
    );
    let t = tempfile::tempdir().unwrap();
    let text = job(
        r#"{"speed": {"channel": 2}}"#,
        &format!(
            r#"{{"name": "hbase", "parameter": {{{}, "table": "big", "scanCacheSize": 20,
                "column": [{{"name": "rowkey", "type": "string"}}, {{"name": "cf:v", "type": "string"}}]}}}}"#,
            g.params()
        ),
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let p = write_job(t.path(), "sigterm", &text);
    let o = terminate_when(
        t.path(),
        &p,
        || g.scanners()["open"].as_u64() == Some(2),
        std::time::Duration::from_millis(500),
    );
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while g.scanners()["open"] != 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let s = g.scanners();
    assert_eq!(
        (s["opened"].as_u64(), s["open"].as_u64()),
        (Some(2), Some(0)),
        "{s}"
    );
}

#[test]
fn datax_templates_with_zookeeper_only_get_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let text = job(
        "{}",
        r#"{"name": "hbase11xreader", "parameter": {"hbaseConfig": {"hbase.zookeeper.quorum": "zk1:2181"},
            "table": "users", "encoding": "utf-8", "mode": "normal",
            "column": [{"name": "rowkey", "type": "string"}]}}"#,
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let p = write_job(t.path(), "zk", &text);
    let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "job.content[0].reader.parameter.hbaseConfig");
    assert_stderr_has(&o, "set \"thriftAddress\" to host:port of the gateway");
    for (param, want) in [
        (
            r#""mode": "normal", "maxVersion": 3"#,
            "only for mode multiVersionFixedColumn",
        ),
        (
            r#""mode": "multiVersionFixedColumn", "maxVersion": 1"#,
            "expected -1 (every version) or a number above 1",
        ),
        (
            r#""mode": "normal", "range": {"startRowkey": "b", "endRowkey": "a"}"#,
            "startRowkey sorts after endRowkey",
        ),
        (
            r#""mode": "normal", "transport": "http""#,
            "expected framed or buffered",
        ),
    ] {
        let text = job(
            "{}",
            &format!(
                r#"{{"name": "hbase11xreader", "parameter": {{"thriftAddress": "127.0.0.1:9090", "table": "users", {param},
                    "column": [{{"name": "rowkey", "type": "string"}}, {{"name": "cf:a", "type": "int"}}]}}}}"#
            ),
            r#"{"name": "streamwriter", "parameter": {}}"#,
        );
        let p = write_job(t.path(), "bad", &text);
        let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
        assert_eq!(code(&o), 2, "{param}: {}", stderr(&o));
        assert_stderr_has(&o, want);
    }
}

/// Against a real HBase Thrift gateway (framed, binary), when one is given: a table the test
/// creates is written and read back.
#[test]
fn live_gateway_round_trip() {
    let Ok(addr) = std::env::var("DATASYNC_TEST_HBASE_THRIFT") else {
        eprintln!("skipped: set DATASYNC_TEST_HBASE_THRIFT=host:port of an HBase Thrift gateway");
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let table = unique("ds_live");
    let hb = |body: &str| {
        run_python(
            &format!("import happybase, struct\nc = happybase.Connection('{host}', {port}, transport='framed', protocol='binary')\n{body}\n"),
            &[],
        )
    };
    hb(&format!(
        "c.create_table('{table}', {{'cf': dict(max_versions=3)}})"
    ));
    let text = job(
        "{}",
        r#"{"name": "streamreader", "parameter": {"column": [{"type": "long", "incr": "1,1"}, {"type": "string", "value": "v"}], "sliceRecordCount": 1000}}"#,
        &format!(
            r#"{{"name": "hbase", "parameter": {{"thriftAddress": "{addr}", "table": "{table}",
                "rowkeyColumn": [{{"index": 0, "type": "long"}}], "column": [{{"index": 1, "name": "cf:v", "type": "string"}}]}}}}"#
        ),
    );
    let (_, _t) = run_job_ok("live_put", &text);
    let n = hb(&format!("print(sum(1 for _ in c.table('{table}').scan()))"));
    assert_eq!(n.trim(), "1000");
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "hbase", "parameter": {{"thriftAddress": "{addr}", "table": "{table}",
                "column": [{{"name": "rowkey", "type": "long"}}, {{"name": "cf:v", "type": "string"}}]}}}}"#
        ),
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let (o, _t) = run_job_ok("live_scan", &text);
    assert_stderr_has(&o, "read 1000");
    hb(&format!("c.delete_table('{table}', disable=True)"));
}

#[test]
fn floats_copy_exactly_and_mistakes_fail_the_job() {
    let g = Gateway::start("framed", "binary", "{}", 0.0);
    g.happybase(
        r#"for t in ('fl', 'fl2', 'tpl'): c.create_table(t, {'cf': dict(max_versions=1)})
t = c.table('fl')
for i, v in enumerate([0.1, 3.14159, 123456.79, -2.5e-10, 3.4028234663852886e38, float('nan'), float('-inf')]):
    t.put(b'r%d' % i, {b'cf:f': struct.pack('>f', v)})"#,
    );
    // The hbase plugin on `table` with more `keys`: the reader of fl's row key and float
    // column <family>:f, the writer into fl2 (row key from input column 0).
    let on = |table: &str, keys: &str| {
        format!(
            r#"{{"name": "hbase", "parameter": {{{}, "table": "{table}", {keys}}}}}"#,
            g.params()
        )
    };
    let fl = |family: &str| {
        on(
            "fl",
            &format!(
                r#""column": [{{"name": "rowkey", "type": "string"}}, {{"name": "{family}:f", "type": "float"}}]"#
            ),
        )
    };
    let fl2 = |columns: &str| {
        on(
            "fl2",
            &format!(
                r#""rowkeyColumn": [{{"index": 0, "type": "string"}}], "column": [{columns}]"#
            ),
        )
    };
    // float -> float keeps the bytes; float -> double widens exactly.
    let text = job(
        "{}",
        &fl("cf"),
        &fl2(
            r#"{"index": 1, "name": "cf:f", "type": "float"}, {"index": 1, "name": "cf:d", "type": "double"}"#,
        ),
    );
    let (o, _t) = run_job_ok("floats", &text);
    assert_stderr_has(&o, "written 7");
    let same = g.happybase(
        r#"a = dict(c.table('fl').scan()); b = dict(c.table('fl2').scan())
print(all(a[k][b'cf:f'] == b[k][b'cf:f'] for k in a), len(b))
print(all(struct.pack('>d', struct.unpack('>f', a[k][b'cf:f'])[0]) == b[k][b'cf:d'] or a[k][b'cf:f'] == struct.pack('>f', float('nan')) for k in a))"#,
    );
    assert_eq!(same.trim(), "True 7\nTrue");

    // A misspelled family in the reader fails (HBase itself would return no cell: NULLs).
    let text = job(
        "{}",
        &fl("fc"),
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let (o, _t) = run_job("typo", &text);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "column fc:f: fl has no column family fc (it has cf)");

    // A writer index past the reader's columns fails the job (no row is its culprit).
    let text = job(
        "{}",
        &fl("cf"),
        &fl2(r#"{"index": 5, "name": "cf:x", "type": "string"}"#),
    );
    let (o, _t) = run_job("index", &text);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "the writer reads input column index 5, but the reader sends 2 column(s)",
    );

    // The generated templates run once their placeholders are filled.
    let t = tempfile::tempdir().unwrap();
    let thrift = format!("hbase_thrift=127.0.0.1:{}", g.port);
    // `datasync template <reader> hbase`, run with the gateway's address and `params`.
    let run_template = |reader: &str, params: [&str; 2]| {
        let o = run_in(t.path(), &["template", reader, "hbase"]);
        let p = file_in(t.path(), "tpl.json", &o.stdout);
        let o = run_file(
            t.path(),
            &p,
            &[
                "--no-progress",
                "-p",
                &thrift,
                "-p",
                params[0],
                "-p",
                params[1],
            ],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        o
    };
    run_template("stream", ["hbase_target_table=tpl", "rows=25"]);
    let o = run_template("hbase", ["hbase_table=tpl", "hbase_target_table=fl2"]);
    assert_stderr_has(&o, "written 25");
}
