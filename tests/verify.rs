//! `job.verify`: figures of the rows read, taken as they stream, compared with the same figures
//! of the target read back after the write. Strong mismatches exit 4 (a staged writer
//! publishes nothing), weak ones warn. Targets are checked independently too: pyarrow for
//! Parquet, SQL for the databases.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn run_here(dir: &Path, name: &str, text: &str) -> std::process::Output {
    let p = write_job(dir, name, text);
    run_file(dir, &p, &["--no-progress", "--report", "report.json"])
}

/// A job with `verify` (a JSON object text) beside setting and content.
fn job_with(verify: &str, setting: &str, reader: &str, writer: &str) -> String {
    format!(
        r#"{{"job": {{"setting": {setting}, "verify": {verify},
            "content": [{{"reader": {reader}, "writer": {writer}}}]}}}}"#
    )
}

fn source(db: &MariaDb) -> String {
    db.exec(
        "CREATE TABLE s (id INT PRIMARY KEY, amount DECIMAL(10,2), name VARCHAR(20),
           ts DATETIME(6), f DOUBLE);
         INSERT INTO s SELECT seq, seq * 1.25, CONCAT('name', seq),
           '2026-01-01' + INTERVAL seq MINUTE, seq / 3 FROM seq_1_to_1000;
         UPDATE s SET name = NULL WHERE id % 100 = 0;",
    );
    format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "amount", "name", "ts", "f"],
            "splitPk": "id", "connection": [{{"jdbcUrl": ["{}"], "table": ["s"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    )
}

fn verdicts(r: &Value) -> Vec<(String, String)> {
    r["verify"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const ALL_RULES: &str = r#"{"rules": [{"rule": "count"}, {"rule": "sum", "column": "amount"},
    {"rule": "sum", "column": "f"}, {"rule": "min", "column": "name"},
    {"rule": "max", "column": "ts"}, {"rule": "nulls", "column": "name"},
    {"rule": "checksum"}]}"#;

fn parquet_writer(out: &Path, name_type: &str) -> String {
    format!(
        r#"{{"name": "hdfswriter", "parameter": {{"fileType": "parquet", "path": "{}",
            "fileName": "s", "writeMode": "truncate",
            "column": [{{"name": "id", "type": "int"}}, {{"name": "amount", "type": "decimal(10,2)"}},
                       {{"name": "name", "type": "{name_type}"}}, {{"name": "ts", "type": "timestamp"}},
                       {{"name": "f", "type": "double"}}]}}}}"#,
        out.display()
    )
}

#[test]
fn mysql_to_parquet_checks_the_staged_files_before_publishing() {
    let db = MariaDb::new();
    let reader = source(&db);
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let out = dir.join("out");
    let setting = r#"{"speed": {"channel": 2}, "errorLimit": {"record": 1000}}"#;

    // Every rule matches: published, and pyarrow reads the same figures.
    let text = job_with(ALL_RULES, setting, &reader, &parquet_writer(&out, "string"));
    let o = run_here(dir, "ok", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(dir);
    assert!(verdicts(&r).iter().all(|(_, v)| v == "passed"), "{r}");
    assert_eq!(r["verify"][0]["target"], "1000");
    assert_eq!(r["verify"][1]["source"], "625625");
    assert_stderr_has(&o, "verify    checksum [strong]");
    let got = run_python(
        "import sys, pyarrow.dataset as ds, pyarrow.compute as pc\n\
         t = ds.dataset(sys.argv[1], format='parquet').to_table()\n\
         print(t.num_rows, pc.sum(t['amount']).as_py(), t['name'].null_count)",
        &[out.to_str().unwrap()],
    );
    assert_eq!(got.trim(), "1000 625625.00 10");

    // name varchar(6): 891 rows are dirty under errorLimit (the writer drops them). The strong
    // count rule fails: exit 4, nothing published, the earlier output untouched.
    let before = visible_files(&out);
    let weak =
        r#"{"rules": [{"rule": "count"}, {"rule": "sum", "column": "amount", "level": "weak"}]}"#;
    let text = job_with(weak, setting, &reader, &parquet_writer(&out, "varchar(6)"));
    let o = run_here(dir, "short", &text);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_stderr_has(&o, "FAILED (verification failed)");
    assert_stderr_has(&o, "nothing was published");
    let r = report(dir);
    assert_eq!(r["status"], "verification_failed");
    assert_eq!(r["exit_code"], 4);
    assert_eq!(r["dirty_records"], 891);
    assert_eq!(
        verdicts(&r),
        [
            ("count".to_string(), "failed".to_string()),
            ("sum(amount)".to_string(), "failed".to_string())
        ]
    );
    assert_eq!(r["verify"][0]["target"], "109");
    assert_eq!(visible_files(&out), before);
    let staged: Vec<String> = all_entries(&out)
        .into_iter()
        .filter(|e| e.contains("staging"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");

    // The same with only the weak rule: exit 0, published, a warning.
    let text = job_with(
        r#"{"rules": [{"rule": "count", "level": "weak"}]}"#,
        setting,
        &reader,
        &parquet_writer(&out, "varchar(6)"),
    );
    let o = run_here(dir, "weak", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "warning   verify (weak rule): count [weak]: read 1000, target 109",
    );
    let r = report(dir);
    assert_eq!(r["status"], "succeeded");
    assert!(r["warnings"][0].as_str().unwrap().contains("MISMATCH"));
    let got = run_python(
        "import sys, pyarrow.dataset as ds\n\
         print(ds.dataset(sys.argv[1], format='parquet').to_table().num_rows)",
        &[out.to_str().unwrap()],
    );
    assert_eq!(got.trim(), "109");
}

fn pg_writer(pg: &Pg, pre: &str) -> String {
    format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "amount", "name", "ts", "f"],
            "preSql": [{pre}], "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    )
}

#[test]
fn mysql_to_postgres_reads_the_table_back_after_the_commit() {
    let db = MariaDb::new();
    let reader = source(&db);
    let pg = Pg::new();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let setting = r#"{"speed": {"channel": 2}, "errorLimit": {"record": 1000}}"#;

    // INT -> bigint, DECIMAL(10,2) -> numeric(14,4), DATETIME -> timestamp: the same figures.
    pg.query(
        "CREATE TABLE t (id bigint PRIMARY KEY, amount numeric(14,4), name varchar(20),
           ts timestamp(6), f double precision)",
    );
    let text = job_with(
        ALL_RULES,
        setting,
        &reader,
        &pg_writer(&pg, r#""TRUNCATE t""#),
    );
    let o = run_here(dir, "ok", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(verdicts(&report(dir)).iter().all(|(_, v)| v == "passed"));
    assert_eq!(
        pg.query("SELECT count(*), sum(amount) FROM t"),
        "1000|625625.0000"
    );

    // char(20) pads every name: count, sums, nulls and max(ts) match, only the checksum (and
    // min(name)) sees the changed values. Direct writer: the data is committed, exit 4.
    pg.query("ALTER TABLE t ALTER name TYPE char(20)");
    let o = run_here(dir, "padded", &text);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_stderr_has(&o, "the data is committed");
    let failed: Vec<String> = verdicts(&report(dir))
        .into_iter()
        .filter(|(_, v)| v == "failed")
        .map(|(r, _)| r)
        .collect();
    assert_eq!(failed, ["min(name)", "checksum"]);
    assert_eq!(pg.query("SELECT count(*) FROM t"), "1000");

    // varchar(6): 891 rows dirty under errorLimit -> count fails.
    pg.query("TRUNCATE t");
    pg.query("ALTER TABLE t ALTER name TYPE varchar(6)");
    let count = r#"{"rules": [{"rule": "count"}]}"#;
    let o = run_here(
        dir,
        "short",
        &job_with(count, setting, &reader, &pg_writer(&pg, r#""TRUNCATE t""#)),
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(report(dir)["verify"][0]["target"], "109");
    assert_eq!(pg.query("SELECT count(*) FROM t"), "109");

    // stagingMode table: the staging tables are checked before the commit moves them, so a
    // failing rule publishes nothing (the truncate preSql does not run either).
    pg.query("TRUNCATE t");
    pg.query("INSERT INTO t VALUES (99999, 1, 'old', '2025-01-01', 0)");
    let staged = pg_writer(&pg, r#""TRUNCATE t""#).replacen(
        r#""preSql""#,
        r#""stagingMode": "table", "preSql""#,
        1,
    );
    let o = run_here(dir, "staged", &job_with(count, setting, &reader, &staged));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_stderr_has(&o, "nothing was published");
    assert_eq!(pg.query("SELECT count(*) FROM t"), "1");
    assert_eq!(
        pg.query("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'datasync_stg%'"),
        "0"
    );
    // The staged rows pass, but a trigger on the target drops half of them as they are
    // published: the move adds fewer rows than were staged, and is rolled back.
    pg.query("ALTER TABLE t ALTER name TYPE varchar(20)");
    pg.query(
        "CREATE FUNCTION skip_even() RETURNS trigger AS $$ BEGIN IF NEW.id % 2 = 0 THEN \
         RETURN NULL; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER skip BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION skip_even()",
    );
    let o = run_here(dir, "trigger", &job_with(count, setting, &reader, &staged));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "(a trigger or rule on the table?); rolled back");
    assert_eq!(pg.query("SELECT count(*) FROM t"), "1");
    pg.query("DROP TRIGGER skip ON t");

    // targetWhere: the table holds other days' rows; the rule compares this job's rows only.
    pg.query("ALTER TABLE t ALTER name TYPE varchar(20)");
    pg.query("TRUNCATE t");
    pg.query(
        "INSERT INTO t SELECT g + 10000, 1, 'old', '2025-06-01', 0 FROM generate_series(1, 5) g",
    );
    let o = run_here(
        dir,
        "all",
        &job_with(count, setting, &reader, &pg_writer(&pg, "")),
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(report(dir)["verify"][0]["target"], "1005");
    pg.query("DELETE FROM t WHERE id < 10000");
    let narrowed = r#"{"rules": [{"rule": "count"}, {"rule": "sum", "column": "amount"}],
        "targetWhere": "ts >= '2026-01-01'"}"#;
    let o = run_here(
        dir,
        "narrow",
        &job_with(narrowed, setting, &reader, &pg_writer(&pg, "")),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["verify"][0]["target"], "1000");
}

#[test]
fn text_targets_count_the_staged_rows_and_bad_rules_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let reader = r#"{"name": "streamreader", "parameter": {"column": [
        {"name": "id", "type": "long", "incr": "1,1"}, {"name": "v", "type": "string", "value": "x"}],
        "sliceRecordCount": 500}}"#;
    let writer = r#"{"name": "txtfilewriter", "parameter": {"path": "out", "fileName": "t",
        "writeMode": "truncate", "header": true, "compress": "gzip"}}"#;
    let rules = r#"{"rules": [{"rule": "count"}, {"rule": "max", "column": "id"}]}"#;
    let o = run_here(dir, "text", &job_with(rules, "{}", reader, writer));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(dir);
    assert_eq!(
        verdicts(&r),
        [
            ("count".to_string(), "passed".to_string()),
            ("max(id)".to_string(), "not_checked".to_string())
        ]
    );
    assert!(r["verify"][0].get("note").is_none(), "{r}");
    assert!(r["verify"][1]["note"]
        .as_str()
        .unwrap()
        .contains("reader side only"));
    assert_eq!(r["verify"][1]["source"], "500");
    let published = visible_files(&dir.join("out"));
    assert_eq!(published.len(), 1);

    // fileFormat text cannot hold a value with the delimiter: every row is dirty, the staged
    // file has a header only, the count fails and nothing is published.
    let dirty_reader = reader.replace(r#""value": "x""#, r#""value": "a,b""#);
    let text_writer = writer.replace(
        r#""header": true"#,
        r#""header": true, "fileFormat": "text""#,
    );
    let o = run_here(
        dir,
        "dirty",
        &job_with(rules, "{}", &dirty_reader, &text_writer),
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(report(dir)["verify"][0]["target"], "0");
    assert_eq!(visible_files(&dir.join("out")), published);

    // Shape errors are found before anything runs (exit 2, the JSON path named).
    let bad = r#"{"rules": [{"rule": "sum"}]}"#;
    let o = run_here(dir, "bad", &job_with(bad, "{}", reader, writer));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "job.verify.rules[0].column");
    let bad = r#"{"rules": [{"rule": "count", "level": "hard"}]}"#;
    let o = run_here(dir, "bad2", &job_with(bad, "{}", reader, writer));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "job.verify.rules[0].level");
    // A targetWhere cannot narrow files: refused before anything runs.
    let narrowed = r#"{"rules": [{"rule": "count"}], "targetWhere": "id > 1"}"#;
    let o = run_here(dir, "narrowed", &job_with(narrowed, "{}", reader, writer));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "job.verify.targetWhere");
    assert_stderr_has(&o, "targetWhere applies to SQL table writers");
}

#[test]
fn a_failed_strong_rule_keeps_the_incremental_watermark() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE s (id INT PRIMARY KEY, name VARCHAR(20));
         INSERT INTO s SELECT seq, IF(seq % 10 = 0, 'much-too-long', 'ok') FROM seq_1_to_100;",
    );
    let pg = Pg::new();
    pg.query("CREATE TABLE t (id bigint PRIMARY KEY, name varchar(5))");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "name"],
            "incremental": {{"column": "id", "state": "file:state.json"}},
            "connection": [{{"jdbcUrl": ["{}"], "table": ["s"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "name"],
            "writeMode": "update", "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    let text = job_with(
        r#"{"rules": [{"rule": "count"}]}"#,
        r#"{"errorLimit": {"record": 100}}"#,
        &reader,
        &writer,
    );
    let o = run_here(dir, "inc", &text);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(pg.query("SELECT count(*) FROM t"), "90");
    assert!(!dir.join("state.json").exists(), "the watermark moved");

    // Fixed target: the next run reads the same window again and the mark moves.
    pg.query("ALTER TABLE t ALTER name TYPE varchar(20)");
    let o = run_here(dir, "inc", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 100);
    assert_eq!(pg.query("SELECT count(*) FROM t"), "100");
    assert!(dir.join("state.json").exists());
}

/// Identical data in types whose values the readers carry as text (unconstrained numeric,
/// money, JSON, TIME, wide decimals) or that have special values (NaN, infinity) passes every
/// rule; a rule on a Parquet partition column is reported unchecked, not failed.
#[test]
fn identical_data_in_awkward_types_passes() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE p (id int PRIMARY KEY, n numeric, m money, r real, d double precision);
         INSERT INTO p VALUES (1, 1.5000, 1234.5, 'NaN', '-Infinity'), (2, 100, -1, 'Infinity', 'NaN'),
           (3, 0.000, 0, 1.5, 2.5);
         CREATE TABLE g (id int PRIMARY KEY, t time, arr int[], a text[], f float8[], j jsonb);
         INSERT INTO g VALUES (1, '23:59:59.999999', '{1,NULL,3}', '{\"x\",\"y z\"}', '{0.1,2}',
           '{\"z\": 1, \"a\": [1, 2.0]}'), (2, '00:00:00', '{1,2,3}', '{NULL,\"\"}', '{}', '[]'),
           (3, NULL, '{NULL}', NULL, NULL, NULL)",
    );
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE tj (id INT PRIMARY KEY, c JSON, t TIME(6), w DECIMAL(65,30));
         INSERT INTO tj VALUES (1, '{\"k\":1, \"a\": [1, 2]}', '-00:00:01', 12345678901234567890123456789012345.123456789012345678901234567890),
           (2, '[1, 2]', '-00:00:01.5', 1.5), (3, NULL, '838:59:59', NULL);",
    );
    // One side of a job on `system` ("postgresql" or "mysql") at `url`.
    let on = |system: &str, url: &str, table: &str, side: &str, extra: &str| {
        let login = if system == "mysql" {
            mysql_server().login()
        } else {
            pg_server().login()
        };
        let url = if side == "reader" {
            format!(r#"["{url}"]"#)
        } else {
            format!(r#""{url}""#)
        };
        format!(
            r#"{{"name": "{system}{side}", "parameter": {{{login}, "column": ["*"], {extra}
                "connection": [{{"jdbcUrl": {url}, "table": ["{table}"]}}]}}}}"#
        )
    };
    let (pg_url, my_url) = (pg.url(), db.url());
    let pg_side =
        |table: &str, side: &str, extra: &str| on("postgresql", &pg_url, table, side, extra);
    let my_side = |table: &str, side: &str, extra: &str| on("mysql", &my_url, table, side, extra);
    let create = r#""createTable": true,"#;
    let cases = [
        (
            "numeric_money_to_mysql",
            r#"{"rules": [{"rule": "count"}, {"rule": "checksum"}, {"rule": "max", "column": "n"},
               {"rule": "min", "column": "n"}, {"rule": "sum", "column": "n"}, {"rule": "sum", "column": "m"}]}"#,
            pg_side("p", "reader", r#""where": "id = 3 OR r < 2 OR id = 1","#),
            // NaN cannot go into MySQL: compare only the columns it takes.
            my_side("p", "writer", create),
        ),
        (
            "nan_infinity_to_postgres",
            r#"{"rules": [{"rule": "count"}, {"rule": "checksum"}, {"rule": "max", "column": "r"},
               {"rule": "min", "column": "d"}, {"rule": "sum", "column": "r"}, {"rule": "sum", "column": "d"}]}"#,
            pg_side("p", "reader", ""),
            pg_side("p_copy", "writer", create),
        ),
        (
            "json_time_wide_decimal_to_postgres",
            r#"{"rules": [{"rule": "count"}, {"rule": "checksum"}, {"rule": "max", "column": "c"},
               {"rule": "min", "column": "t"}, {"rule": "max", "column": "t"}, {"rule": "sum", "column": "w"},
               {"rule": "max", "column": "w"}]}"#,
            my_side("tj", "reader", ""),
            pg_side("tj", "writer", create),
        ),
        (
            "time_arrays_jsonb_to_mysql",
            r#"{"rules": [{"rule": "count"}, {"rule": "checksum"}, {"rule": "max", "column": "t"},
               {"rule": "max", "column": "j"}]}"#,
            pg_side("g", "reader", ""),
            my_side("g", "writer", create),
        ),
    ];
    for (name, rules, reader, writer) in cases {
        let text = job_with(rules, "{}", &reader, &writer);
        let text = if name == "numeric_money_to_mysql" {
            // Only the rows without NaN/infinity (MySQL refuses them).
            text.replace(
                r#""where": "id = 3 OR r < 2 OR id = 1","#,
                r#""where": "id = 3","#,
            )
        } else {
            text
        };
        let o = run_here(dir, name, &text);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert!(
            verdicts(&report(dir)).iter().all(|(_, v)| v == "passed"),
            "{name}: {}",
            report(dir)
        );
    }

    // Parquet with a partition column: a rule on it is reader side only.
    let out = dir.join("parts");
    let writer = format!(
        r#"{{"name": "parquet", "parameter": {{"path": "{}", "fileName": "p", "writeMode": "truncate",
            "column": [{{"name": "id", "type": "int"}}, {{"name": "n", "type": "decimal(12,4)"}}],
            "partitionColumns": [{{"name": "m", "type": "string"}}]}}}}"#,
        out.display()
    );
    let reader = format!(
        r#"{{"name": "postgresqlreader", "parameter": {{{}, "column": ["id", "n", "m"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["p"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    let rules =
        r#"{"rules": [{"rule": "count"}, {"rule": "checksum"}, {"rule": "max", "column": "m"}]}"#;
    let o = run_here(dir, "parts", &job_with(rules, "{}", &reader, &writer));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(dir);
    assert_eq!(
        verdicts(&r),
        [
            ("count".to_string(), "passed".to_string()),
            ("checksum".to_string(), "passed".to_string()),
            ("max(m)".to_string(), "not_checked".to_string())
        ]
    );

    // A rule on a column the reader does not produce stops the job before anything is written.
    let rules = r#"{"rules": [{"rule": "max", "column": "nosuch"}]}"#;
    let o = run_here(
        dir,
        "nosuch",
        &job_with(rules, "{}", &reader, &pg_side("p_none", "writer", create)),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "a rule names column nosuch, which the reader does not produce",
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'p_none'"),
        "0"
    );
}

/// `--resume` takes the finished tasks' recorded figures: the resumed run verifies the whole.
#[test]
fn a_resumed_run_verifies_every_task_including_the_ones_it_skipped() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    for f in 0..3 {
        let rows: String = (1..=100)
            .map(|i| format!("{},v{f}\n", f * 1000 + i))
            .collect();
        std::fs::write(inputs.join(format!("f{f}.csv")), rows).unwrap();
    }
    let bad = inputs.join("f2.csv");
    let good = std::fs::read_to_string(&bad).unwrap();
    std::fs::write(&bad, format!("{good}x,bad\n")).unwrap();
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}/*.csv", "fileFormat": "csv",
            "column": [{{"index": 0, "type": "long", "name": "id"}}, {{"index": 1, "type": "string", "name": "v"}}]}}}}"#,
        inputs.display()
    );
    let writer = r#"{"name": "parquet", "parameter": {"path": "out", "fileName": "p", "writeMode": "truncate",
        "column": [{"name": "id", "type": "bigint"}, {"name": "v", "type": "string"}]}}"#;
    let rules =
        r#"{"rules": [{"rule": "count"}, {"rule": "sum", "column": "id"}, {"rule": "checksum"}]}"#;
    let job = write_job(
        dir,
        "r",
        // The percentage is judged at the end: every task finishes (f2 with its dirty row)
        // and is recorded before the run fails, whatever order the tasks ran in.
        &job_with(
            rules,
            r#"{"errorLimit": {"percentage": 0.001}}"#,
            &reader,
            writer,
        ),
    );
    let j = job.to_str().unwrap();
    let o = run_in(dir, &["run", j, "--no-progress", "--run-id", "r1"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    std::fs::write(&bad, good).unwrap();
    let o = run_in(
        dir,
        &[
            "run",
            j,
            "--no-progress",
            "--run-id",
            "r1",
            "--resume",
            "--report",
            "report.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "2 of 3 task(s) of run r1 had finished");
    let r = report(dir);
    assert!(verdicts(&r).iter().all(|(_, v)| v == "passed"), "{r}");
    assert_eq!(r["verify"][0]["source"], "300");
    assert_eq!(r["verify"][1]["target"], "315150");
}

/// Numbers a writer stores as text (a Parquet STRING for a DECIMAL(65,30) wider than Hive's,
/// a DOUBLE into STRING) are read back as the numbers they are: a faithful copy passes.
#[test]
fn numbers_stored_as_text_verify_as_numbers() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE w (id INT PRIMARY KEY, d DECIMAL(65,30), f DOUBLE, t VARCHAR(20));
         INSERT INTO w VALUES (1, '-12345678901234567890123456789012345.123456789012345678901234567891', 0.1, '007'),
           (2, '0.000000000000000000000000000001', 7, '1.50'), (3, NULL, NULL, NULL)",
    );
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "d", "f", "t"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["w"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let writer = r#"{"name": "parquet", "parameter": {"path": "out", "fileName": "p", "writeMode": "truncate",
        "column": [{"name": "id", "type": "int"}, {"name": "d", "type": "string"},
                   {"name": "f", "type": "string"}, {"name": "t", "type": "string"}]}}"#;
    let rules = r#"{"rules": [{"rule": "checksum"}, {"rule": "sum", "column": "d"},
        {"rule": "max", "column": "d"}, {"rule": "min", "column": "f"}, {"rule": "max", "column": "t"}]}"#;
    let t = tempfile::tempdir().unwrap();
    let o = run_here(t.path(), "astext", &job_with(rules, "{}", &reader, writer));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(t.path());
    assert!(verdicts(&r).iter().all(|(_, v)| v == "passed"), "{r}");
}
