//! Oracle reader and writer. No Oracle server can be had on this machine, so two kinds of test
//! live here:
//!
//! - without the Oracle client library (this machine): the documented failure (exit 1, what to
//!   install, before any other system is touched) and the mark in `datasync plugins`;
//! - a live suite that runs when `DATASYNC_TEST_ORACLE=user/password@//host:port/service`
//!   points at a real database (docker/compose.yml has an Oracle Free service) and the client
//!   library is installed. It sets up and checks tables with python-oracledb (thin mode, an
//!   independent client), Parquet with pyarrow, MySQL/PostgreSQL with their own clients.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;

/// Whether this machine has the Oracle client library (`datasync plugins` says when not).
fn client_present() -> bool {
    let t = tempfile::tempdir().unwrap();
    let o = run_in(t.path(), &["plugins"]);
    !String::from_utf8_lossy(&o.stdout).contains("needs Oracle Instant Client (not found)")
}

fn oracle_reader(url: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "oraclereader", "parameter": {{"username": "scott", "password": "s3cr3t-pw", {extra}
            "connection": [{{"jdbcUrl": ["{url}"], "table": ["pay.orders"]}}]}}}}"#
    )
}

#[test]
fn without_the_client_library_an_oracle_job_fails_before_touching_anything() {
    if client_present() {
        eprintln!("skipped: this machine has the Oracle client library");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let o = run_in(t.path(), &["plugins"]);
    let listing = String::from_utf8_lossy(&o.stdout).to_string();
    for line in listing
        .lines()
        .filter(|l| l.trim_start().starts_with("oracle "))
    {
        assert!(
            line.ends_with("[needs Oracle Instant Client (not found)]"),
            "{line}"
        );
    }
    assert_eq!(
        listing
            .matches("needs Oracle Instant Client (not found)")
            .count(),
        2,
        "{listing}"
    );

    // Oracle -> MySQL: the writer's preSql would create a table; it must not run.
    let db = MariaDb::new();
    let marker = "oracle_presql_ran";
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id"],
            "preSql": ["CREATE TABLE {marker} (a INT)"],
            "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let text = job(
        r#"{"speed": {"channel": 2}}"#,
        &oracle_reader(
            "jdbc:oracle:thin:@//127.0.0.1:1/FREEPDB1",
            r#""column": ["id"], "splitPk": "id","#,
        ),
        &writer,
    );
    let p = write_job(t.path(), "ora_to_mysql", &text);
    // Offline validation does not need the client: templates can be checked anywhere.
    let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = t.path().join("r.json");
    let o = run_file(
        t.path(),
        &p,
        &["--no-progress", "--report", report.to_str().unwrap()],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    for needle in [
        "the oracle reader cannot run on this machine",
        "Oracle Instant Client Basic or Basic Light",
        "LD_LIBRARY_PATH",
        "DPI-1047",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("s3cr3t-pw"), "{err}");
    assert!(!err.contains("SUCCEEDED"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["exit_code"], 1, "{r}");
    assert_eq!(
        db.query(&format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name = '{marker}'"
        )),
        "0",
        "the MySQL writer's preSql ran before the Oracle reader failed"
    );

    // File -> Oracle: fails the same way, the input untouched, nothing written.
    let input = file_in(t.path(), "in.csv", "1\n2\n");
    let text = job(
        "{}",
        &longs_reader(&input),
        r#"{"name": "oraclewriter", "parameter": {"username": "scott", "password": "s3cr3t-pw",
            "column": ["id"], "connection": [{"jdbcUrl": "jdbc:oracle:thin:@db1:1521:ORCL", "table": ["t"]}]}}"#,
    );
    let p = write_job(t.path(), "file_to_ora", &text);
    let o = run_file(t.path(), &p, &["--no-progress"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the oracle writer cannot run on this machine");
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "1\n2\n");
    // Planning shards refuses too, before the writer prepares anything.
    let plan = t.path().join("plan");
    let o = run_in(
        t.path(),
        &[
            "plan",
            p.to_str().unwrap(),
            "--shards",
            "2",
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "Oracle Instant Client");
}

#[test]
fn bad_oracle_urls_name_the_key_and_the_forms() {
    let t = tempfile::tempdir().unwrap();
    for (url, want) in [
        ("jdbc:oracle:thin:@db1:15x21:ORCL", "port \"15x21\""),
        (
            "jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(HOST=a)",
            "never closed",
        ),
        ("jdbc:mysql://h/db", "unsupported URL scheme"),
    ] {
        let text = job(
            "{}",
            &oracle_reader(url, r#""column": ["id"],"#),
            r#"{"name": "streamwriter", "parameter": {}}"#,
        );
        let p = write_job(t.path(), "bad_url", &text);
        let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
        assert_eq!(code(&o), 2, "{url}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("job.content[0].reader.parameter.connection[0].jdbcUrl[0]")
                && err.contains(want),
            "{url}: {err}"
        );
    }
}

// ---- live suite ------------------------------------------------------------------------------

/// `DATASYNC_TEST_ORACLE` as (user, password, easy-connect DSN), when set.
fn live() -> Option<(String, String, String)> {
    let v = std::env::var("DATASYNC_TEST_ORACLE").ok()?;
    let (cred, dsn) = v.rsplit_once('@')?;
    let (user, pw) = cred.split_once('/')?;
    Some((user.into(), pw.into(), dsn.into()))
}

/// Runs `stmts` (one per element) through python-oracledb; the last one's rows as JSON text.
fn ora(stmts: &[&str]) -> serde_json::Value {
    let (user, pw, dsn) = live().unwrap();
    let script = r#"
import json, sys, oracledb, datetime, decimal
oracledb.defaults.fetch_decimals = True
c = oracledb.connect(user=sys.argv[1], password=sys.argv[2], dsn=sys.argv[3])
cur = c.cursor()
rows = []
for s in json.loads(sys.argv[4]):
    cur.execute(s)
    rows = cur.fetchall() if cur.description else []
c.commit()
def enc(v):
    if isinstance(v, (datetime.datetime, datetime.date)): return v.isoformat(sep=' ')
    if isinstance(v, datetime.timedelta): return v.total_seconds()
    if isinstance(v, decimal.Decimal): return str(v)
    if isinstance(v, bytes): return v.hex()
    if hasattr(v, 'read'): return enc(v.read())
    if isinstance(v, float) and v != v: return 'NaN'
    if isinstance(v, float) and v in (float('inf'), float('-inf')): return str(v)
    return v
print(json.dumps([[enc(v) for v in r] for r in rows]))
"#;
    let out = run_python(
        script,
        &[&user, &pw, &dsn, &serde_json::to_string(stmts).unwrap()],
    );
    serde_json::from_str(&out).unwrap()
}

/// The JDBC URL and login of the live database.
fn live_login() -> (String, String) {
    let (user, pw, dsn) = live().unwrap();
    (
        format!("jdbc:oracle:thin:@{dsn}"),
        format!(
            r#""username": {}, "password": {}"#,
            serde_json::Value::from(user),
            serde_json::Value::from(pw)
        ),
    )
}

/// Drops `tables` if they exist.
fn ora_drop(tables: &[&str]) {
    let stmts: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "BEGIN EXECUTE IMMEDIATE 'DROP TABLE {t} PURGE'; EXCEPTION WHEN OTHERS THEN \
                 IF SQLCODE != -942 THEN RAISE; END IF; END;"
            )
        })
        .collect();
    ora(&stmts.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn live_every_type_round_trips_to_parquet_and_back_into_oracle() {
    if live().is_none() {
        eprintln!("skipped: set DATASYNC_TEST_ORACLE=user/password@//host:port/service");
        return;
    }
    let (url, login) = live_login();
    let src = unique("DS_TYPES").to_uppercase();
    let dst = format!("{src}_B");
    ora_drop(&[&src, &dst]);
    ora(&[
        &format!(
            "CREATE TABLE {src} (id NUMBER(9) PRIMARY KEY, n12 NUMBER(12,2), n38 NUMBER(38,10), \
             nn NUMBER, nneg NUMBER(5,-2), bf BINARY_FLOAT, bd BINARY_DOUBLE, c CHAR(5), \
             vc VARCHAR2(64), nvc NVARCHAR2(20), cl CLOB, d DATE, ts TIMESTAMP(9), \
             tz TIMESTAMP(6) WITH TIME ZONE, r RAW(16), bl BLOB, iv INTERVAL DAY TO SECOND)"
        ),
        &format!(
            "INSERT INTO {src} VALUES (1, -1234567890.12, 1234567890123456789012345678.0123456789, \
             -0.000000000000000000000000000001, 12300, BINARY_FLOAT_NAN, BINARY_DOUBLE_INFINITY, \
             'ab', 'héllo ''q''', N'日本語', RPAD('x', 5000, 'y'), \
             TO_DATE('2024-02-29 23:59:58', 'YYYY-MM-DD HH24:MI:SS'), \
             TIMESTAMP '1970-01-01 00:00:00.123456789', \
             TIMESTAMP '2024-03-01 07:00:00.5 +08:00', HEXTORAW('00FF10'), HEXTORAW('DEADBEEF'), \
             INTERVAL '1 02:03:04.5' DAY TO SECOND)"
        ),
        &format!("INSERT INTO {src} (id) VALUES (2)"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "oraclereader", "parameter": {{{login},
                "column": ["id", "n12", "n38", "nn", "nneg", "bf", "bd", "c", "vc", "nvc", "d", "tz", "r", "bl"],
                "connection": [{{"jdbcUrl": ["{url}"], "table": ["{src}"]}}]}}}}"#
        ),
        &format!(
            r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "parquet",
                "path": "{}", "fileName": "t", "writeMode": "truncate",
                "column": [{{"name": "id", "type": "BIGINT"}}, {{"name": "n12", "type": "DECIMAL(12,2)"}},
                    {{"name": "n38", "type": "DECIMAL(38,10)"}}, {{"name": "nn", "type": "STRING"}},
                    {{"name": "nneg", "type": "BIGINT"}}, {{"name": "bf", "type": "FLOAT"}},
                    {{"name": "bd", "type": "DOUBLE"}}, {{"name": "c", "type": "STRING"}},
                    {{"name": "vc", "type": "STRING"}}, {{"name": "nvc", "type": "STRING"}},
                    {{"name": "d", "type": "TIMESTAMP"}}, {{"name": "tz", "type": "TIMESTAMP"}},
                    {{"name": "r", "type": "BINARY"}}, {{"name": "bl", "type": "BINARY"}}]}}}}"#,
            out.path().display()
        ),
    );
    let (_, _t) = run_job_ok("ora_to_parquet", &text);
    let got = run_python(
        r#"
import sys, json, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table().sort_by("id")
r = t.to_pylist()[0]
print(json.dumps({k: (v.hex() if isinstance(v, bytes) else str(v)) for k, v in r.items()}))
"#,
        &[out.path().to_str().unwrap()],
    );
    let row: serde_json::Value = serde_json::from_str(got.trim()).unwrap();
    assert_eq!(row["n12"], "-1234567890.12");
    assert_eq!(row["n38"], "1234567890123456789012345678.0123456789");
    assert_eq!(row["nn"], "-0.000000000000000000000000000001");
    assert_eq!(row["nneg"], "12300");
    assert_eq!(row["bf"], "nan");
    assert_eq!(row["bd"], "inf");
    assert_eq!(row["c"], "ab   ");
    assert_eq!(row["vc"], "héllo 'q'");
    assert_eq!(row["nvc"], "日本語");
    assert_eq!(row["d"], "2024-02-29 23:59:58");
    assert_eq!(row["tz"], "2024-02-29 23:00:00.500000");
    assert_eq!(row["r"], "00ff10");
    assert_eq!(row["bl"], "deadbeef");

    // Oracle -> Oracle with createTable: the same rows, compared by the server both ways.
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "oraclereader", "parameter": {{{login},
                "column": ["id", "n12", "n38", "nn", "nneg", "bf", "bd", "vc", "nvc", "d", "ts", "r"],
                "connection": [{{"jdbcUrl": ["{url}"], "table": ["{src}"]}}]}}}}"#
        ),
        &format!(
            r#"{{"name": "oraclewriter", "parameter": {{{login}, "column": ["*"], "createTable": true,
                "connection": [{{"jdbcUrl": "{url}", "table": ["{dst}"]}}]}}}}"#
        ),
    );
    let (_, _t) = run_job_ok("ora_to_ora", &text);
    let cols = "id, n12, n38, nn, nneg, bf, bd, vc, nvc, d, ts, r";
    let diff = ora(&[&format!(
        "SELECT COUNT(*) FROM ((SELECT {cols} FROM {src} MINUS SELECT {cols} FROM {dst}) \
         UNION ALL (SELECT {cols} FROM {dst} MINUS SELECT {cols} FROM {src}))"
    )]);
    assert_eq!(diff, serde_json::json!([[0]]));
    ora_drop(&[&src, &dst]);
}

#[test]
fn live_split_merge_and_dirty_rows_to_and_from_mysql() {
    if live().is_none() {
        eprintln!("skipped: set DATASYNC_TEST_ORACLE=user/password@//host:port/service");
        return;
    }
    let (url, login) = live_login();
    let src = unique("DS_SPLIT").to_uppercase();
    let dst = format!("{src}_M");
    ora_drop(&[&src, &dst]);
    ora(&[
        &format!("CREATE TABLE {src} (id NUMBER(12), name VARCHAR2(20), amt NUMBER(10,2))"),
        &format!(
            "INSERT INTO {src} SELECT LEVEL, 'n' || LEVEL, LEVEL / 4 FROM DUAL CONNECT BY LEVEL <= 5000"
        ),
        &format!("INSERT INTO {src} VALUES (NULL, 'null key', 1)"),
        &format!("CREATE TABLE {dst} (id NUMBER(12) PRIMARY KEY, name VARCHAR2(5), amt NUMBER(10,1))"),
        &format!("INSERT INTO {dst} VALUES (1, 'old', 9)"),
    ]);
    // Oracle -> MySQL on splitPk: every row once, the NULL key too.
    let db = MariaDb::new();
    db.exec("CREATE TABLE t (id BIGINT, name VARCHAR(20), amt DECIMAL(10,2))");
    let text = job(
        r#"{"speed": {"channel": 4}}"#,
        &format!(
            r#"{{"name": "oraclereader", "parameter": {{{login}, "column": ["id", "name", "amt"],
                "splitPk": "id", "connection": [{{"jdbcUrl": ["{url}"], "table": ["{src}"]}}]}}}}"#
        ),
        &format!(
            r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name", "amt"],
                "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
    );
    let (_, _t) = run_job_ok("ora_split", &text);
    assert_eq!(
        db.query("SELECT COUNT(*), COUNT(DISTINCT id), SUM(amt) FROM t"),
        "5001\t5000\t3125626.00"
    );
    // MySQL -> Oracle MERGE: rows updated and inserted; a name too long for VARCHAR2(5) and an
    // amount the column would round are dirty rows, the rest land.
    db.exec("CREATE TABLE m (id BIGINT, name VARCHAR(20), amt DECIMAL(10,2))");
    db.exec("INSERT INTO m VALUES (1, 'new', 1.5), (2, 'two', 2.0), (3, 'toolong', 3.0), (4, 'four', 4.25)");
    let text = job(
        r#"{"errorLimit": {"record": 10}}"#,
        &format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "name", "amt"],
                "connection": [{{"jdbcUrl": ["{}"], "table": ["m"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
        &format!(
            r#"{{"name": "oraclewriter", "parameter": {{{login}, "column": ["id", "name", "amt"],
                "writeMode": "update", "connection": [{{"jdbcUrl": "{url}", "table": ["{dst}"]}}]}}}}"#
        ),
    );
    let (_, t) = run_job_ok("mysql_to_ora_merge", &text);
    let rows = ora(&[&format!(
        "SELECT id, name, TO_CHAR(amt) FROM {dst} ORDER BY id"
    )]);
    assert_eq!(
        rows,
        serde_json::json!([[1, "new", "1.5"], [2, "two", "2"]])
    );
    let dirty = lines_in(t.path()).join("\n");
    assert!(dirty.contains("ORA-12899"), "{dirty}");
    assert!(dirty.contains("would round"), "{dirty}");
    ora_drop(&[&src, &dst]);
}

#[test]
fn live_oracle_to_postgres() {
    if live().is_none() {
        eprintln!("skipped: set DATASYNC_TEST_ORACLE=user/password@//host:port/service");
        return;
    }
    let (url, login) = live_login();
    let src = unique("DS_PG").to_uppercase();
    ora_drop(&[&src]);
    ora(&[
        &format!("CREATE TABLE {src} (id NUMBER(9) PRIMARY KEY, amt NUMBER(20,4), note NVARCHAR2(10), at TIMESTAMP(6))"),
        &format!("INSERT INTO {src} VALUES (1, 12345678901234.5678, N'ü', TIMESTAMP '2024-01-01 00:00:00.000001')"),
    ]);
    let pg = Pg::new();
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "oraclereader", "parameter": {{{login}, "column": ["*"],
                "connection": [{{"jdbcUrl": ["{url}"], "table": ["{src}"]}}]}}}}"#
        ),
        &format!(
            r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["*"], "createTable": true,
                "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
            pg_server().login(),
            pg.url()
        ),
    );
    let (_, _t) = run_job_ok("ora_to_pg", &text);
    assert_eq!(
        pg.query("SELECT \"ID\", \"AMT\", \"NOTE\", \"AT\" FROM t"),
        "1|12345678901234.5678|ü|2024-01-01 00:00:00.000001"
    );
    ora_drop(&[&src]);
}
