//! `datasync diff JOB --key K`: the rows of a job's source against its writer's published
//! target, by key, across systems (MySQL -> PostgreSQL, MySQL -> Parquet) on 1M rows with
//! inserted, deleted and changed rows: exactly those are reported.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

const ROWS: u32 = 1_000_000;

fn source() -> (MariaDb, String) {
    let db = MariaDb::new();
    db.exec(&format!(
        "CREATE TABLE s (id INT PRIMARY KEY, amount DECIMAL(12,2), name VARCHAR(30),
           ts DATETIME(6), f DOUBLE);
         INSERT INTO s SELECT seq, seq * 1.25, CONCAT('name', seq),
           '2026-01-01' + INTERVAL seq SECOND, seq / 3 FROM seq_1_to_{ROWS};
         UPDATE s SET name = NULL WHERE id % 1000 = 0;"
    ));
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "amount", "name", "ts", "f"],
            "splitPk": "id", "connection": [{{"jdbcUrl": ["{}"], "table": ["s"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    (db, reader)
}

fn diff(dir: &Path, job: &Path) -> (i32, Vec<Value>, String) {
    diff_by(dir, job, "id")
}

fn diff_by(dir: &Path, job: &Path, key: &str) -> (i32, Vec<Value>, String) {
    let o = run_in(
        dir,
        &[
            "diff",
            job.to_str().unwrap(),
            "--key",
            key,
            "--out",
            "diff.jsonl",
        ],
    );
    let lines = json_lines(&std::fs::read_to_string(dir.join("diff.jsonl")).unwrap_or_default());
    (code(&o), lines, stderr(&o))
}

/// Runs the job of `reader` and `writer` in `dir`, then diffs it: the same, every row.
fn copy_and_compare(dir: &Path, reader: &str, writer: &str) -> std::path::PathBuf {
    let job = write_job(
        dir,
        "j",
        &job(r#"{"speed": {"channel": 2}}"#, reader, writer),
    );
    let o = run_file(dir, &job, &["--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (c, lines, err) = diff(dir, &job);
    assert_eq!(c, 0, "{err}");
    assert!(lines.is_empty(), "{lines:?}");
    assert!(err.contains("SAME"), "{err}");
    assert!(err.contains(&format!("{ROWS} same")), "{err}");
    job
}

/// Changes the source (insert 1, delete 1) so the target misses and has extra rows.
fn change_source(db: &MariaDb) {
    db.exec(
        "INSERT INTO s VALUES (2000001, 9.99, 'late', '2026-06-01', 1.5);
         DELETE FROM s WHERE id = 424242;",
    );
}

fn expected(different: &[(&str, &[&str])]) -> Vec<Value> {
    let mut v = vec![serde_json::json!({"kind": "extra", "key": {"id": "424242"}})];
    for (id, cols) in different {
        v.push(serde_json::json!({"kind": "different", "key": {"id": id}, "columns": cols}));
    }
    v.push(serde_json::json!({"kind": "missing", "key": {"id": "2000001"}}));
    v.sort_by_key(|d| d["key"]["id"].as_str().unwrap().parse::<u64>().unwrap());
    v
}

#[test]
fn mysql_against_postgres_reports_exactly_the_changed_rows() {
    let (db, reader) = source();
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE t (id bigint PRIMARY KEY, amount numeric(14,4), name varchar(30),
           ts timestamp(6), f double precision)",
    );
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "amount", "name", "ts", "f"],
            "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    // Copied whole: the same (DECIMAL(12,2) = numeric(14,4), INT = bigint).
    let job = copy_and_compare(dir, &reader, &writer);

    change_source(&db);
    pg.query("UPDATE t SET amount = amount + 0.01 WHERE id = 17");
    pg.query("UPDATE t SET name = 'other', f = 0 WHERE id = 500000");
    pg.query("UPDATE t SET name = NULL WHERE id = 999999");
    pg.query("UPDATE t SET ts = ts + interval '1 microsecond' WHERE id = 3");
    let (c, lines, err) = diff(dir, &job);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        lines,
        expected(&[
            ("3", &["ts"]),
            ("17", &["amount"]),
            ("500000", &["name", "f"]),
            ("999999", &["name"])
        ])
    );
    assert!(
        err.contains("999995 same, 1 missing, 1 extra, 4 different"),
        "{err}"
    );
}

#[test]
fn mysql_against_parquet_reports_exactly_the_changed_rows() {
    let (db, reader) = source();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let out = dir.join("out");
    let writer = format!(
        r#"{{"name": "hdfswriter", "parameter": {{"fileType": "parquet", "path": "{}",
            "fileName": "s", "writeMode": "truncate",
            "column": [{{"name": "id", "type": "bigint"}}, {{"name": "amount", "type": "decimal(12,2)"}},
                       {{"name": "name", "type": "string"}}, {{"name": "ts", "type": "timestamp"}},
                       {{"name": "f", "type": "double"}}]}}}}"#,
        out.display()
    );
    let job = copy_and_compare(dir, &reader, &writer);

    // The source changes instead: the target (files) keeps the old values.
    change_source(&db);
    db.exec(
        "UPDATE s SET amount = amount + 0.01 WHERE id = 17;
         UPDATE s SET name = 'other', f = 0 WHERE id = 500000;",
    );
    let (c, lines, err) = diff(dir, &job);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        lines,
        expected(&[("17", &["amount"]), ("500000", &["name", "f"])])
    );

    // A key the reader does not read, and a writer that cannot be read back: exit 2.
    let o = run_in(dir, &["diff", job.to_str().unwrap(), "--key", "nope"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "key column nope is not among the compared columns");
    let j = job.to_str().unwrap();
    let o = run_in(dir, &["diff", j, "--key", "id", "--target-where", "id > 1"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "--target-where applies to SQL targets");
    let text = common::job(
        "{}",
        &reader,
        r#"{"name": "txtfilewriter", "parameter": {"path": "x", "fileName": "y", "writeMode": "truncate"}}"#,
    );
    let tj = write_job(dir, "text", &text);
    let o = run_in(dir, &["diff", tj.to_str().unwrap(), "--key", "id"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "cannot be read back");
}

/// Rows sharing a key are compared as a multiset, and a float compares with the decimal or
/// integer it was written as.
#[test]
fn repeated_keys_and_floats_written_as_decimals() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE s (k int, v text, r real, d double precision, n numeric(10,2));
         INSERT INTO s VALUES (1, 'x', 0.1, 7, 2.50), (1, NULL, 0.5, 0.25, 0.10), (2, 'y', 1.5, 3, 1),
           (2, 'y', 1.5, 3, 1), (NULL, 'z', 0, 0, 0);
         CREATE TABLE t (k bigint, v text, r double precision, d numeric(12,4), n real)",
    );
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let side = |table: &str, kind: &str| {
        format!(
            r#"{{"name": "postgresql{kind}", "parameter": {{{}, "column": ["k", "v", "r", "d", "n"],
                "connection": [{{"jdbcUrl": {}, "table": ["{table}"]}}]}}}}"#,
            pg_server().login(),
            if kind == "reader" {
                format!(r#"["{}"]"#, pg.url())
            } else {
                format!(r#""{}""#, pg.url())
            }
        )
    };
    let job = write_job(
        dir,
        "j",
        &job("{}", &side("s", "reader"), &side("t", "writer")),
    );
    let o = run_file(dir, &job, &["--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (c, lines, err) = diff_by(dir, &job, "k");
    assert_eq!(c, 0, "{err}\n{lines:?}");
    assert!(err.contains("5 same"), "{err}");
    assert!(err.contains("2 key(s) shared by several rows"), "{err}");
    // One of the two equal (2, 'y') rows goes: exactly one row is missing.
    pg.query("DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t WHERE k = 2)");
    let (c, lines, err) = diff_by(dir, &job, "k");
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        lines,
        [serde_json::json!({"kind": "missing", "key": {"k": "2"}})],
        "{err}"
    );
}
