//! MySQL reader and writer against the MariaDB of `DATASYNC_TEST_MYSQL` (default 127.0.0.1:3306, root). Each test makes
//! its own database and drops it; results are checked with SQL through the `mariadb` client,
//! not with our reader.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;

fn reader(db: &MariaDb, extra: &str) -> String {
    format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, {extra}
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    )
}

fn writer(db: &MariaDb, table: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, {extra}
            "connection": [{{"jdbcUrl": "{}", "table": ["{table}"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    )
}

const ALL_TYPES_DDL: &str = "(id BIGINT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, iu INT UNSIGNED,
    bi BIGINT, bu BIGINT UNSIGNED, d1 DECIMAL(12,2), d2 DECIMAL(38,10), fl FLOAT, db DOUBLE, bt BIT(1), bo BOOL, yr YEAR,
    dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), ch CHAR(5), vc VARCHAR(64), tx TEXT, l1 VARCHAR(20) CHARACTER SET latin1,
    gb VARCHAR(20) CHARACTER SET gbk, bin BINARY(4), vb VARBINARY(16), bl BLOB, en ENUM('a','b'), st SET('x','y'), js JSON)";

#[test]
fn round_trip_every_type_compares_equal_by_sql() {
    let db = MariaDb::new();
    db.exec(&format!(
        "CREATE TABLE src {ALL_TYPES_DDL}; CREATE TABLE dst {ALL_TYPES_DDL}"
    ));
    db.exec(
        "INSERT INTO src VALUES
         (1, -128, 255, -32768, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
          -9999999999.99, 1234567890123456789012345678.0123456789, 3.5, -1.7976931348623157e308, b'1', 1, 1901,
          '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59.000000', 'abc', 'O''Brien \\\\ \"q\"', 'line1\nline2\ttab',
          'café', '中文', X'00010203', X'FF00', X'DEADBEEF00', 'a', 'x,y', '{\"k\": [1, 2]}'),
         (2, 127, 0, 32767, 8388607, 2147483647, 0, 9223372036854775807, 0,
          0.05, -0.0000000001, -0.0, 5e-324, b'0', 0, 2155,
          '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.999999', '', '😀 four-byte', '',
          '', '', X'FFFFFFFF', X'', X'', 'b', '', 'null'),
         (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    );
    let cols = "\"column\": [\"*\"],";
    let (_, _t) = run_job_ok(
        "rt",
        &job("{}", &reader(&db, cols), &writer(&db, "dst", cols)),
    );
    assert_eq!(db.query("SELECT COUNT(*) FROM dst"), "3");
    let cmp_cols: Vec<String> = db
        .query("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'src' ORDER BY ordinal_position")
        .lines()
        .map(|c| format!("s.{c} <=> d.{c}"))
        .collect();
    let diff = db.query(&format!(
        "SELECT COUNT(*) FROM src s JOIN dst d USING (id) WHERE NOT ({})",
        cmp_cols.join(" AND ")
    ));
    assert_eq!(diff, "0", "rows differ");
    let a = db.query("CHECKSUM TABLE src");
    let b = db.query("CHECKSUM TABLE dst");
    assert_eq!(
        a.split_whitespace().last(),
        b.split_whitespace().last(),
        "{a} vs {b}"
    );
}

#[test]
fn split_pk_with_gaps_and_null_keys_reads_every_row_once() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (id INT PRIMARY KEY, k BIGINT NULL, v BIGINT); CREATE TABLE dst (id INT, k BIGINT NULL, v BIGINT)");
    // 200,000 rows; keys with gaps (multiples of 7 skipped, a big jump) and every 1000th NULL.
    db.exec(
        "INSERT INTO src SELECT seq, CASE WHEN seq % 1000 = 0 THEN NULL WHEN seq > 150000 THEN seq * 1000 ELSE seq * 7 + (seq % 3) END, seq * 3
         FROM seq_1_to_200000",
    );
    let r = reader(&db, r#""column": ["id", "k", "v"], "splitPk": "k","#);
    let (o, _t) = run_job_ok(
        "split",
        &job(
            r#"{"speed": {"channel": 4}}"#,
            &r,
            &writer(&db, "dst", r#""column": ["id", "k", "v"],"#),
        ),
    );
    assert!(
        stderr(&o).contains("5 task(s)"),
        "4 ranges + NULL keys: {}",
        stderr(&o)
    );
    let q = "SELECT COUNT(*), COUNT(DISTINCT id), SUM(v), SUM(k), SUM(k IS NULL)";
    assert_eq!(
        db.query(&format!("{q} FROM src")),
        db.query(&format!("{q} FROM dst"))
    );
    assert_eq!(db.query("SELECT COUNT(*) FROM dst"), "200000");
    // Every row exactly once with every value equal: no key missing, none twice, none extra.
    db.exec("ALTER TABLE dst ADD INDEX (id)");
    assert_eq!(
        db.query(
            "SELECT (SELECT COUNT(*) FROM src s WHERE (SELECT COUNT(*) FROM dst d WHERE d.id = s.id AND d.k <=> s.k AND d.v = s.v) <> 1),
                    (SELECT COUNT(*) FROM dst d WHERE NOT EXISTS (SELECT 1 FROM src s WHERE s.id = d.id))"
        ),
        "0\t0"
    );
}

#[test]
fn a_split_pk_that_is_neither_integer_nor_text_is_refused_clearly() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (d DATE); CREATE TABLE dst (d DATE)");
    let r = reader(&db, r#""column": ["d"], "splitPk": "d","#);
    let (o, _t) = run_job(
        "badpk",
        &job("{}", &r, &writer(&db, "dst", r#""column": ["d"],"#)),
    );
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "only integer and text keys can be split");
    // ENUM and SET sort by list position but compare as text: ranges would overlap.
    for (t, values) in [
        ("ENUM('x','b','a')", "('x'),('b'),('a'),(NULL),('a')"),
        ("SET('z','b','a')", "('z'),('b'),('a'),('z,a'),(NULL)"),
    ] {
        db.exec(&format!(
            "DROP TABLE src; CREATE TABLE src (d {t}); INSERT INTO src VALUES {values}"
        ));
        let r = reader(&db, r#""column": ["d"], "splitPk": "d","#);
        let w = writer(&db, "dst", r#""column": ["d"],"#);
        let (o, _t) = run_job("enumpk", &job(r#"{"speed": {"channel": 3}}"#, &r, &w));
        assert_eq!(code(&o), 1, "{t}: {}", stderr(&o));
        assert_stderr_has(&o, "only integer and text keys can be split");
        assert_eq!(db.query("SELECT COUNT(*) FROM dst"), "0");
    }
}

/// MySQL reads a YEAR value 0 given as text as 2000 and 1..99 as 2001..2069 / 1970..1999:
/// 0000 is copied as 0000, a small number into a YEAR column is a dirty record.
#[test]
fn year_zero_is_kept_and_two_digit_years_are_dirty() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id INT, y YEAR, n INT); CREATE TABLE dst (id INT, y YEAR, n YEAR);
         INSERT INTO src VALUES (1, 1901, 1999), (2, 2155, 5), (3, 0, 0), (4, NULL, NULL), (5, 2000, 2000)",
    );
    let r = reader(&db, r#""column": ["id", "y", "n"],"#);
    let w = writer(&db, "dst", r#""column": ["id", "y", "n"],"#);
    let (o, _t) = run_job("years", &job("{}", &r, &w));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "5 into a YEAR column would be stored as 2005");
    assert_eq!(
        db.query("SELECT GROUP_CONCAT(CONCAT_WS(':', id, y + 0, n + 0) ORDER BY id) FROM dst"),
        "1:1901:1999,3:0:0,4,5:2000:2000"
    );
}

#[test]
fn query_sql_where_multiple_tables_and_expressions() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE a (id INT, amount DECIMAL(10,2)); CREATE TABLE b (id INT, amount DECIMAL(10,2));
         CREATE TABLE dst (id INT, amount DECIMAL(10,2), tag VARCHAR(10));
         INSERT INTO a VALUES (1, 1.50), (2, 2.50), (3, 3.50); INSERT INTO b VALUES (10, 10.00), (20, 20.00);",
    );
    let r = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "amount * 2", "'t'"], "where": "id <> 2",
            "connection": [{{"jdbcUrl": "{}", "table": ["a", "b"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let (_, _t) = run_job_ok(
        "multi",
        &job(
            "{}",
            &r,
            &writer(&db, "dst", r#""column": ["id", "amount", "tag"],"#),
        ),
    );
    assert_eq!(
        db.query("SELECT GROUP_CONCAT(CONCAT(id, ':', amount, ':', tag) ORDER BY id) FROM dst"),
        "1:3.00:t,3:7.00:t,10:20.00:t,20:40.00:t"
    );

    db.exec("TRUNCATE dst");
    let q = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{},
            "connection": [{{"jdbcUrl": ["jdbc:mysql://127.0.0.1:1/nowhere", "{}"], "querySql": ["SELECT a.id, a.amount + b.amount, 'q' FROM a JOIN b ON b.id = a.id * 10"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let (o, _t) = run_job(
        "query",
        &job(
            "{}",
            &q,
            &writer(&db, "dst", r#""column": ["id", "amount", "tag"],"#),
        ),
    );
    assert_eq!(code(&o), 0, "failover to the second URL: {}", stderr(&o));
    assert_eq!(
        db.query("SELECT GROUP_CONCAT(CONCAT(id, ':', amount) ORDER BY id) FROM dst"),
        "1:11.50,2:22.50"
    );
}

fn thousand_rows_ten_bad(db: &MariaDb) {
    db.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, code VARCHAR(20));
         CREATE TABLE dst (id INT PRIMARY KEY, code VARCHAR(5) NOT NULL);
         INSERT INTO src SELECT seq, IF(seq % 100 = 0, 'far-too-long-code', CONCAT('c', seq)) FROM seq_1_to_1000;",
    );
}

#[test]
fn rows_violating_the_target_become_dirty_with_the_server_error() {
    let db = MariaDb::new();
    thousand_rows_ten_bad(&db);
    let cols = r#""column": ["id", "code"],"#;
    let t = tempfile::tempdir().unwrap();
    let p = write_job(
        t.path(),
        "dirty",
        &job("{}", &reader(&db, cols), &writer(&db, "dst", cols)),
    );
    let o = run_file(t.path(), &p, &["--dirty-file", "d.jsonl", "--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(db.query("SELECT COUNT(*) FROM dst"), "990");
    assert_eq!(db.query("SELECT COUNT(*) FROM dst WHERE id % 100 = 0"), "0");
    let dirty = std::fs::read_to_string(t.path().join("d.jsonl")).unwrap();
    assert_eq!(dirty.lines().count(), 10, "{dirty}");
    for line in dirty.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["values"][1], "far-too-long-code");
        assert_eq!(v["side"], "writer");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("Data too long for column"),
            "{v}"
        );
    }
    // Below the limit: exit 3.
    db.exec("TRUNCATE dst");
    let (o, _t) = run_job(
        "limit",
        &job(
            r#"{"errorLimit": {"record": 5}}"#,
            &reader(&db, cols),
            &writer(&db, "dst", cols),
        ),
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

#[test]
fn replace_and_update_are_idempotent() {
    for mode in ["replace", "update"] {
        let db = MariaDb::new();
        db.exec(
            "CREATE TABLE src (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE dst (id INT PRIMARY KEY, v VARCHAR(10), keep VARCHAR(10) DEFAULT 'k');
             INSERT INTO src SELECT seq, CONCAT('v', seq) FROM seq_1_to_500; INSERT INTO dst (id, v, keep) VALUES (1, 'old', 'mine');",
        );
        let cols = r#""column": ["id", "v"],"#;
        let w = writer(&db, "dst", &format!(r#"{cols} "writeMode": "{mode}","#));
        for _ in 0..2 {
            let (o, _t) = run_job(mode, &job("{}", &reader(&db, cols), &w));
            assert_eq!(code(&o), 0, "{mode}: {}", stderr(&o));
            assert_eq!(
                db.query("SELECT COUNT(*), SUM(v = CONCAT('v', id)) FROM dst"),
                "500\t500",
                "{mode}"
            );
        }
        // update keeps columns it does not write; replace rewrites the row.
        let keep = db.query("SELECT keep FROM dst WHERE id = 1");
        assert_eq!(keep, if mode == "update" { "mine" } else { "k" }, "{mode}");
    }
}

#[test]
fn pre_post_sql_and_session() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (id INT, s VARCHAR(10)); INSERT INTO src VALUES (1, 'a'), (2, 'b');");
    let cols = r#""column": ["id", "s"],"#;
    let w = writer(
        &db,
        "dst",
        &format!(
            r#"{cols} "preSql": ["CREATE TABLE @table (id INT, s VARCHAR(10), tz VARCHAR(10))"],
               "postSql": ["CREATE TABLE post_marker AS SELECT COUNT(*) AS n FROM @table"],
               "session": ["SET @@session.time_zone = '+08:00'"],"#
        ),
    );
    let r = reader(&db, &format!(r#"{cols} "session": ["SET @x = 1"],"#));
    let (_, _t) = run_job_ok("prepost", &job("{}", &r, &w));
    assert_eq!(db.query("SELECT n FROM post_marker"), "2");
    // A failing postSql fails the job.
    let w = writer(
        &db,
        "dst",
        &format!(r#"{cols} "postSql": ["SELECT * FROM no_such_table"],"#),
    );
    let (o, _t) = run_job("postfail", &job("{}", &reader(&db, cols), &w));
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "no_such_table");
}

#[test]
fn create_table_from_the_reader_schema() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (id BIGINT, amount DECIMAL(12,2), name VARCHAR(20), at DATETIME(6)); INSERT INTO src VALUES (1, 12.34, 'x', '2024-01-01 10:00:00.5')");
    let cols = r#""column": ["id", "amount", "name", "at"],"#;
    let (_, _t) = run_job_ok(
        "create",
        &job(
            "{}",
            &reader(&db, cols),
            &writer(&db, "newt", &format!(r#"{cols} "createTable": true,"#)),
        ),
    );
    assert_eq!(
        db.query("SELECT CONCAT_WS('|', id, amount, name, at) FROM newt"),
        "1|12.34|x|2024-01-01 10:00:00.500000"
    );
    assert!(db.query("SHOW CREATE TABLE newt").contains("decimal(12,2)"));
}

#[test]
fn connection_failures_exit_1_naming_the_connection_without_password() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (id INT); CREATE TABLE dst (id INT)");
    db.exec("CREATE USER IF NOT EXISTS 'ds_pw_test'@'%' IDENTIFIED BY 'right-pw'");
    let cols = r#""column": ["id"],"#;
    let bad_pw = format!(
        r#"{{"name": "mysqlreader", "parameter": {{"username": "ds_pw_test", "password": "s3cr3t-wrong", {cols}
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        db.url()
    );
    let (o, _t) = run_job(
        "pw",
        &job(
            r#"{"retry": {"count": 0}}"#,
            &bad_pw,
            &writer(&db, "dst", cols),
        ),
    );
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "cannot connect to mysql://{}/",
            mysql_server().addr()
        )) && e.contains("Access denied"),
        "{e}"
    );
    assert!(!e.contains("s3cr3t-wrong"), "password leaked: {e}");
    mariadb("", "DROP USER 'ds_pw_test'@'%'");

    let unreachable = reader(&db, cols)
        .replace(&mysql_server().addr(), "127.0.0.1:1")
        .replace(&db.name, &format!("{}?connectTimeout=2000", db.name));
    let (o, _t) = run_job(
        "down",
        &job(
            r#"{"retry": {"count": 0}}"#,
            &unreachable,
            &writer(&db, "dst", cols),
        ),
    );
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "cannot connect to mysql://127.0.0.1:1/");
    // Root cause once, no wrapper chatter ("Input/output error: Input/output error: ...").
    assert_stderr_has(&o, "Connection refused (os error 111)");
    assert!(!stderr(&o).contains("Input/output error"), "{}", stderr(&o));
    let summary: String = stderr(&o)
        .lines()
        .skip_while(|l| !l.starts_with("datasync: job"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        summary.matches("Connection refused").count(),
        1,
        "{summary}"
    );

    let missing = reader(&db, cols).replace("\"src\"", "\"no_such\"");
    let (o, _t) = run_job("missing", &job("{}", &missing, &writer(&db, "dst", cols)));
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "no_such");
    assert_stderr_has(&o, "doesn't exist");
    let (o, _t) = run_job(
        "missingw",
        &job("{}", &reader(&db, cols), &writer(&db, "no_target", cols)),
    );
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "no_target");
}

#[test]
fn zero_dates_follow_zero_date_time_behavior() {
    let db = MariaDb::new();
    db.exec("SET SESSION sql_mode = ''; CREATE TABLE src (id INT, d DATE, t DATETIME); INSERT INTO src VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2024-01-01', '2024-01-01 00:00:00'); CREATE TABLE dst (id INT, d DATE, t DATETIME)");
    let cols = r#""column": ["id", "d", "t"],"#;
    let (_, t) = run_job_ok(
        "zero",
        &job("{}", &reader(&db, cols), &writer(&db, "dst", cols)),
    );
    assert_eq!(db.query("SELECT GROUP_CONCAT(id) FROM dst"), "2");
    let dirty = std::fs::read_to_string(t.path().join("datasync-dirty-zero.jsonl")).unwrap();
    assert!(dirty.contains("zeroDateTimeBehavior"), "{dirty}");
    db.exec("TRUNCATE dst");
    let r = reader(&db, cols).replace(
        &db.name,
        &format!("{}?zeroDateTimeBehavior=convertToNull", db.name),
    );
    let (_, _t) = run_job_ok("zero2", &job("{}", &r, &writer(&db, "dst", cols)));
    assert_eq!(db.query("SELECT COUNT(*), SUM(d IS NULL) FROM dst"), "2\t1");
}

#[test]
fn mysql_file_round_trip_with_shipped_jobs() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME, note TEXT);
             INSERT INTO orders SELECT seq, CONCAT('name ', seq), seq / 100, '2024-01-01 00:00:00' + INTERVAL seq MINUTE, IF(seq % 10 = 0, NULL, 'note, \"quoted\"') FROM seq_1_to_5000;
             CREATE TABLE orders_copy LIKE orders;");
    let t = tempfile::tempdir().unwrap();
    let jobs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let out = t.path().join("export");
    let my = mysql_server();
    // A shipped job with the server's parameters and the job's own.
    let run_shipped = |job: &str, own: [String; 2]| {
        let job = jobs.join(job).display().to_string();
        let mut a = vec!["run".to_string(), job, "--no-progress".into()];
        for p in [
            format!("mysql_host={}", my.host),
            format!("mysql_port={}", my.port),
            format!("mysql_db={}", db.name),
            format!("mysql_user={}", my.user),
            format!("mysql_password={}", my.password),
        ]
        .into_iter()
        .chain(own)
        {
            a.extend(["-p".to_string(), p]);
        }
        let o = run_in(t.path(), &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    run_shipped(
        "mysql_to_file.json",
        [
            "mysql_table=orders".into(),
            format!("output_dir={}", out.display()),
        ],
    );
    assert!(!visible_files(&out).is_empty());
    run_shipped(
        "file_to_mysql.json",
        [
            "mysql_table=orders_copy".into(),
            format!("input_path={}", out.display()),
        ],
    );
    let q = "SELECT COUNT(*), SUM(id), SUM(amount), COUNT(note), MAX(created), SUM(CRC32(CONCAT_WS('|', id, name, amount, created, note)))";
    assert_eq!(
        db.query(&format!("{q} FROM orders")),
        db.query(&format!("{q} FROM orders_copy"))
    );
}

#[test]
fn insert_mode_loads_via_load_data_and_other_modes_use_statements() {
    // A server of the test's own, so its global statement counters count only this job.
    let srv = ScratchMariaDb::start("");
    srv.query(
        "",
        "CREATE DATABASE d; CREATE TABLE d.t (id BIGINT PRIMARY KEY, name VARCHAR(20))",
    );
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in.csv");
    let rows: String = (1..=3000).map(|i| format!("{i},n{i}\n")).collect();
    std::fs::write(&input, rows).unwrap();
    let run = |mode: &str| {
        let w = format!(
            r#"{{"name": "mysqlwriter", "parameter": {{"username": "root", "password": "", "column": ["id", "name"],
                "writeMode": "{mode}", "batchSize": 1000, "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
            srv.url("d")
        );
        let r = format!(
            r#"{{"name": "txtfilereader", "parameter": {{"path": "{}",
                "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}}"#,
            input.display()
        );
        let before = (
            srv.status("Com_load"),
            srv.status("Com_insert"),
            srv.status("Com_replace"),
        );
        let (o, _t) = run_job("load", &job(r#"{"batch": {"rows": 1000}}"#, &r, &w));
        assert_eq!(code(&o), 0, "{mode}: {}", stderr(&o));
        let after = (
            srv.status("Com_load"),
            srv.status("Com_insert"),
            srv.status("Com_replace"),
        );
        (after.0 - before.0, after.1 - before.1, after.2 - before.2)
    };
    let (load, insert, replace) = run("insert");
    assert!(
        load >= 3,
        "3,000 rows in 1,000-row batches: {load} LOAD DATA statements"
    );
    assert_eq!(
        (insert, replace),
        (0, 0),
        "insert mode fell back to statements"
    );
    assert_eq!(
        srv.query(
            "d",
            "SELECT COUNT(*), SUM(id), SUM(name = CONCAT('n', id)) FROM t"
        ),
        "3000\t4501500\t3000"
    );
    let (load, _, replace) = run("replace");
    assert_eq!(load, 0, "replace mode must not use LOAD DATA");
    assert!(replace >= 3, "replace mode: {replace} REPLACE statements");
    assert_eq!(srv.query("d", "SELECT COUNT(*) FROM t"), "3000");
}

/// A throwaway MariaDB with TLS: a scratch server with its own CA, a certificate for 127.0.0.1,
/// a user that must use TLS and a small table.
fn tls_server() -> ScratchMariaDb {
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    sh_in("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=datasync-test-ca", d);
    sh_in("openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca", d);
    sh_in("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1", d);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh_in("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf", d);
    let dd = d.display();
    let tls = format!("--ssl-cert={dd}/server.pem --ssl-key={dd}/server.key --ssl-ca={dd}/ca.pem");
    let srv = ScratchMariaDb::start_in(certs, &tls);
    srv.query(
        "",
        "CREATE USER 'tls'@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL; GRANT ALL ON *.* TO 'tls'@'%'; \
         CREATE DATABASE d; CREATE TABLE d.src (id INT); INSERT INTO d.src VALUES (1), (2);",
    );
    srv
}

#[test]
fn tls_is_used_as_the_jdbc_url_asks() {
    let srv = tls_server();
    let run = |params: &str| {
        let r = format!(
            r#"{{"name": "mysqlreader", "parameter": {{"username": "tls", "password": "tls-pw", "column": ["id"],
                "connection": [{{"jdbcUrl": ["jdbc:mysql://127.0.0.1:{}/d?{params}"], "table": ["src"]}}]}}}}"#,
            srv.port
        );
        run_job(
            "tls",
            &job(
                r#"{"retry": {"count": 0}}"#,
                &r,
                r#"{"name": "stream", "parameter": {"print": true}}"#,
            ),
        )
        .0
    };
    let ca = srv.dir.path().join("ca.pem");
    let other = srv.dir.path().join("other.pem");
    // The user REQUIRE SSL: a plain connection is refused, so success proves encryption.
    let o = run("useSSL=false");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "Access denied");
    for ok in [
        "sslMode=REQUIRED".to_string(),
        "useSSL=true&verifyServerCertificate=false".into(),
        format!("sslMode=VERIFY_IDENTITY&sslCa={}", ca.display()),
        format!("sslMode=VERIFY_CA&sslCa={}", ca.display()),
    ] {
        let o = run(&ok);
        assert_eq!(code(&o), 0, "{ok}: {}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n2\n", "{ok}");
    }
    // A certificate from another CA, or one no built-in root knows, is refused.
    for bad in [
        format!("sslMode=VERIFY_CA&sslCa={}", other.display()),
        "useSSL=true".to_string(),
    ] {
        let o = run(&bad);
        assert_eq!(code(&o), 1, "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("certificate"), "{bad}: {}", stderr(&o));
    }
}

/// `INT(11) UNSIGNED` -> `INT UNSIGNED`: MariaDB's integer display widths, which DDL omits.
fn without_display_width(t: &str) -> String {
    for int in ["TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT", "INT"] {
        if let Some(rest) = t.strip_prefix(int).and_then(|r| r.strip_prefix('(')) {
            if let Some((_, after)) = rest.split_once(')') {
                return format!("{int}{after}");
            }
        }
    }
    t.to_string()
}

/// Every row of the MySQL type table (db/src/mysql/types.rs), both ways on the server: a column
/// of the MySQL type reads as the row's Arrow type, and `createTable` makes that Arrow type the
/// row's DDL (as the server reports it back).
#[test]
fn type_table_holds_both_ways_on_the_server() {
    use datasync_db::mysql::TYPE_TABLE;
    let db = MariaDb::new();
    // One row of NULLs: the target is created when the first batch arrives.
    db.exec(&format!(
        "CREATE TABLE src ({}); INSERT INTO src () VALUES ()",
        type_table_columns(TYPE_TABLE)
    ));
    let w = writer(&db, "created", r#""column": ["*"], "createTable": true,"#);
    let read = run_logging_columns(&job("{}", &reader(&db, r#""column": ["*"],"#), &w));
    let created = db.query(
        "SELECT UPPER(COLUMN_TYPE) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = 'created' ORDER BY ORDINAL_POSITION",
    );
    let created: Vec<&str> = created.lines().collect();
    assert_eq!(read.len(), TYPE_TABLE.len());
    assert_eq!(created.len(), TYPE_TABLE.len());
    for (i, (mysql, arrow, ddl)) in TYPE_TABLE.iter().enumerate() {
        assert_eq!(
            read[i],
            (format!("c{i}"), arrow.to_string()),
            "{mysql} reads as"
        );
        // The server reports BOOLEAN as TINYINT(1) and adds display widths to integers.
        let want = if *ddl == "BOOLEAN" { "TINYINT(1)" } else { ddl };
        let got = without_display_width(created[i]);
        let got = if want == "TINYINT(1)" {
            created[i]
        } else {
            got.as_str()
        };
        assert_eq!(got, want, "createTable for {mysql} ({arrow})");
    }
}

#[test]
fn table_staging_refuses_myisam_drops_indexes_over_unwritten_columns_and_defers_commented_truncates(
) {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (grp BIGINT, name VARCHAR(20));
         INSERT INTO src SELECT seq, CONCAT('n', seq) FROM seq_1_to_100;
         CREATE TABLE m (grp BIGINT PRIMARY KEY, name VARCHAR(20)) ENGINE=MyISAM;
         INSERT INTO m VALUES (1, 'old');
         CREATE TABLE un (grp BIGINT NOT NULL, name VARCHAR(20), b INT NULL, UNIQUE KEY (grp, b)) ENGINE=InnoDB;
         INSERT INTO un VALUES (1, 'old', 1);",
    );
    let cols = r#""column": ["grp", "name"],"#;
    let staged = r#""stagingMode": "table", "preSql": ["/* reload */ TRUNCATE TABLE @table"],"#;
    // MyISAM cannot roll back a half-done publish: refused before anything runs.
    let (o, _t) = run_job(
        "myisam",
        &job(
            "{}",
            &reader(&db, cols),
            &writer(&db, "m", &format!("{cols} {staged}")),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "needs a transactional table");
    assert_eq!(db.query("SELECT COUNT(*), MAX(name) FROM m"), "1\told");
    // A unique key over (grp, b) where the job does not write b: the staging table drops the
    // key (shrinking it to grp would change what is unique), the load works.
    let (_, _t) = run_job_ok(
        "unwritten",
        &job(
            "{}",
            &reader(&db, cols),
            &writer(&db, "un", &format!("{cols} {staged}")),
        ),
    );
    assert_eq!(
        db.query("SELECT COUNT(*), SUM(grp), SUM(name = CONCAT('n', grp)), COUNT(b) FROM un"),
        "100\t5050\t100\t0"
    );
    // A failing job (error limit 0, the reader's bad row) with a commented TRUNCATE leaves
    // the table as it was: the TRUNCATE waited for the publish that never came.
    db.exec("INSERT INTO src VALUES (NULL, 'x')");
    let strict = writer(
        &db,
        "un",
        &format!(r#""column": ["grp", "name"], {staged}"#),
    );
    let (o, _t) = run_job(
        "failing",
        &job(
            r#"{"errorLimit": {"record": 0}}"#,
            &reader(&db, cols),
            &strict,
        ),
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(db.query("SELECT COUNT(*) FROM un"), "100");
    // A source that cannot be read (no file matches) fails before any preSql runs, also
    // without staging.
    let nothing = r#"{"name": "txtfilereader", "parameter": {"path": "/nonexistent/datasync/*.csv",
        "column": [{"index": 0, "type": "long"}, {"index": 1, "type": "string"}]}}"#;
    let direct = writer(
        &db,
        "un",
        r#""column": ["grp", "name"], "preSql": ["TRUNCATE TABLE @table"],"#,
    );
    let (o, _t) = run_job("nothing", &job("{}", nothing, &direct));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(db.query("SELECT COUNT(*) FROM un"), "100");
    // "Clear, then seed": from the first TRUNCATE/DELETE on, preSql run in their order inside
    // the publishing transaction, so the seed row survives the clearing.
    let seeded = writer(
        &db,
        "un",
        r#""column": ["grp", "name"], "stagingMode": "table",
            "preSql": ["DELETE FROM @table", "INSERT INTO @table (grp, name) VALUES (-1, 'seed')"],"#,
    );
    db.exec("DELETE FROM src WHERE grp IS NULL");
    let (_, _t) = run_job_ok("seeded", &job("{}", &reader(&db, cols), &seeded));
    assert_eq!(
        db.query("SELECT COUNT(*), SUM(name = 'seed') FROM un"),
        "101\t1"
    );
}

#[test]
fn only_a_key_with_a_unique_index_of_its_own_is_read_in_resumable_key_order() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, k BIGINT, name VARCHAR(20), KEY (k));
         INSERT INTO src SELECT seq, seq % 10, CONCAT('n', seq) FROM seq_1_to_100;
         CREATE TABLE dst (id BIGINT, k BIGINT, name VARCHAR(20));",
    );
    let cols = r#""column": ["id", "k", "name"],"#;
    for (pk, resumable) in [("id", true), ("k", false)] {
        let r = reader(&db, &format!(r#"{cols} "splitPk": "{pk}","#));
        let (o, _t) = run_job_ok("keyed", &job("{}", &r, &writer(&db, "dst", cols)));
        assert_eq!(
            !stderr(&o).contains("has no unique index of its own"),
            resumable,
            "splitPk {pk}: {}",
            stderr(&o)
        );
    }
    assert_eq!(db.query("SELECT COUNT(*), SUM(id) FROM dst"), "200\t10100");
}

#[test]
fn credentials_in_the_jdbc_url_query_are_honoured_and_never_printed() {
    let db = MariaDb::new();
    let user = format!("u{}", &db.name[db.name.len() - 8..]);
    let secret = "Pw%40query-9";
    db.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'Pw@query-9'; GRANT ALL ON {}.* TO '{user}'@'%';
         CREATE TABLE src (id INT PRIMARY KEY, v VARCHAR(8)); CREATE TABLE dst LIKE src;
         INSERT INTO src VALUES (1, 'a'), (2, 'b')",
        db.name
    ));
    let url = format!("{}?user={user}&password={secret}&useSSL=false", db.url());
    let part = |kind: &str, table: &str, list: bool| {
        let jdbc = if list {
            format!("[\"{url}\"]")
        } else {
            format!("\"{url}\"")
        };
        format!(
            r#"{{"name": "mysql{kind}", "parameter": {{"username": "", "column": ["id", "v"],
                "connection": [{{"jdbcUrl": {jdbc}, "table": ["{table}"]}}]}}}}"#
        )
    };
    let t = tempfile::tempdir().unwrap();
    let text = job(
        "{}",
        &part("reader", "src", true),
        &part("writer", "dst", false),
    );
    let p = write_job(t.path(), "urlpw", &text);
    let o = run_file(t.path(), &p, &["--report", "r.json"]);
    let all = format!(
        "{}{}",
        stderr(&o),
        std::fs::read_to_string(t.path().join("r.json")).unwrap_or_default()
    );
    mariadb("", &format!("DROP USER IF EXISTS '{user}'@'%'"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        db.query("SELECT GROUP_CONCAT(v ORDER BY id) FROM dst"),
        "a,b"
    );
    assert!(!all.contains("Pw@query") && !all.contains(secret), "{all}");
}

#[test]
fn values_the_server_would_round_or_cut_are_dirty_not_changed() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id INT PRIMARY KEY, d DECIMAL(12,2), i INT, c VARCHAR(3))");
    let t = tempfile::tempdir().unwrap();
    let input = file_in(
        t.path(),
        "in.csv",
        "1,0.12,3,abc\n2,0.125,3,abc\n3,1.555,3,abc\n4,2.50,4,abcd\n5,-7,-8.00,\n6,1,3.7,x\n",
    );
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [
            {{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}},
            {{"index": 2, "type": "string"}}, {{"index": 3, "type": "string"}}]}}}}"#,
        input.display()
    );
    let cols = r#""column": ["id", "d", "i", "c"],"#;
    for (mode, name) in [("insert", "ins"), ("replace", "rep")] {
        db.exec("DELETE FROM dst");
        let w = writer(&db, "dst", &format!(r#"{cols} "writeMode": "{mode}","#));
        let (_, d) = run_job_ok(name, &job("{}", &reader, &w));
        assert_eq!(
            db.query("SELECT GROUP_CONCAT(CONCAT_WS('/', id, d, i, c) ORDER BY id) FROM dst"),
            "1/0.12/3/abc,5/-7.00/-8/",
            "{mode}"
        );
        let dirty =
            std::fs::read_to_string(d.path().join(format!("datasync-dirty-{name}.jsonl"))).unwrap();
        assert_eq!(dirty.lines().count(), 4, "{dirty}");
        assert!(dirty.contains("would change the value"), "{dirty}");
        assert!(dirty.contains("3.7 has a fractional part"), "{dirty}");
    }
}

/// createTable across systems keeps the source's kind of column where the Arrow type only
/// carries the values: MySQL DECIMAL(65,30), TIME beyond a day and JSON into PostgreSQL, and a
/// PostgreSQL text[] (with NULL and quotes) into MySQL as a JSON array.
#[test]
fn create_table_across_systems_keeps_wide_decimals_times_json_and_arrays() {
    let db = MariaDb::new();
    let pg = Pg::new();
    db.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, d DECIMAL(65,30), t TIME(6), j JSON);
         INSERT INTO src VALUES (1, '12345678901234567890123456789012345.123456789012345678901234567891',
           '-838:59:59.000001', '{\"k\": [1, 2]}'), (2, NULL, '00:00:00', NULL)",
    );
    let pg_writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {}, "column": ["*"], "createTable": true,
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        pg_server().login().replacen("", "{", 1),
        pg.url()
    );
    let (_, _t) = run_job_ok(
        "x1",
        &job("{}", &reader(&db, r#""column": ["*"],"#), &pg_writer),
    );
    let types = pg.query(
        "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'dst'::regclass AND attnum > 0",
    );
    // MySQL sends JSON columns as JSON (-> jsonb); MariaDB's JSON is a LONGTEXT on the wire.
    assert!(
        types == "integer,numeric(65,30),interval,jsonb"
            || types == "integer,numeric(65,30),interval,text",
        "{types}"
    );
    assert_eq!(
        pg.query("SELECT d::text, t::text, (j::jsonb)->'k'->>1 FROM dst WHERE id = 1"),
        "12345678901234567890123456789012345.123456789012345678901234567891|-838:59:59.000001|2"
    );

    pg.query(
        r#"CREATE TABLE arr (id int PRIMARY KEY, a text[]);
           INSERT INTO arr VALUES (1, ARRAY['x', NULL, 'q"u,o']), (2, '{}')"#,
    );
    let pg_reader = format!(
        r#"{{"name": "postgresqlreader", "parameter": {}, "column": ["*"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["arr"]}}]}}}}"#,
        pg_server().login().replacen("", "{", 1),
        pg.url()
    );
    let w = writer(&db, "arr2", r#""column": ["*"], "createTable": true,"#);
    let (_, _t) = run_job_ok("x2", &job("{}", &pg_reader, &w));
    assert_eq!(
        db.query("SELECT JSON_EXTRACT(a, '$[1]') IS NULL, JSON_TYPE(JSON_EXTRACT(a, '$[1]')), JSON_UNQUOTE(JSON_EXTRACT(a, '$[2]')), JSON_LENGTH(a) FROM arr2 ORDER BY id"),
        "0\tNULL\tq\"u,o\t3\n1\tNULL\tNULL\t0"
    );
}

/// A sharded source as DataX templates describe it: two databases, each with t_00..t_03, read
/// through `table: ["t_[00-03]"]` in two `connection[]` entries, split on the key, four channels.
#[test]
fn table_ranges_over_many_connections_read_every_shard_once() {
    let shards = [MariaDb::new(), MariaDb::new()];
    for (s, db) in shards.iter().enumerate() {
        for t in 0..4 {
            let base = (s * 4 + t) * 1000;
            db.exec(&format!(
                "CREATE TABLE t_{t:02} (id INT PRIMARY KEY, v VARCHAR(8));
                 INSERT INTO t_{t:02} SELECT seq, CONCAT('s{s}t{t}') FROM seq_{}_to_{}",
                base + 1,
                base + 1000
            ));
        }
    }
    let target = MariaDb::new();
    target.exec("CREATE TABLE dst (id INT PRIMARY KEY, v VARCHAR(8))");
    let conns: Vec<String> = shards
        .iter()
        .map(|db| format!(r#"{{"jdbcUrl": ["{}"], "table": ["t_[00-03]"]}}"#, db.url()))
        .collect();
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "v"], "splitPk": "id",
            "connection": [{}]}}}}"#,
        mysql_server().login(),
        conns.join(", ")
    );
    let (_, _t) = run_job_ok(
        "shards",
        &job(
            r#"{"speed": {"channel": 4}}"#,
            &reader,
            &writer(&target, "dst", r#""column": ["id", "v"],"#),
        ),
    );
    assert_eq!(
        target.query("SELECT COUNT(*), COUNT(DISTINCT id), SUM(id), COUNT(DISTINCT v) FROM dst"),
        "8000\t8000\t32004000\t8"
    );
}

/// `column: ["*"]` writes by name when the reader's names are the target's columns (in any
/// order), and by position, with a warning, when they are not (as DataX does).
#[test]
fn star_columns_go_by_name_when_the_names_match() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, a VARCHAR(8), b VARCHAR(8));
         INSERT INTO src VALUES (1, 'A', 'B');
         CREATE TABLE dst (id INT PRIMARY KEY, b VARCHAR(8), a VARCHAR(8));
         CREATE TABLE pos (k INT PRIMARY KEY, x VARCHAR(8), y VARCHAR(8))",
    );
    let (_, _t) = run_job_ok(
        "star",
        &job(
            "{}",
            &reader(&db, r#""column": ["id", "a", "b"],"#),
            &writer(&db, "dst", r#""column": ["*"],"#),
        ),
    );
    assert_eq!(db.query("SELECT id, a, b FROM dst"), "1\tA\tB");
    let (o, _t) = run_job_ok(
        "starpos",
        &job(
            "{}",
            &reader(&db, r#""column": ["id", "a", "b"],"#),
            &writer(&db, "pos", r#""column": ["*"],"#),
        ),
    );
    assert_stderr_has(&o, "rows are written by position");
    assert_eq!(db.query("SELECT k, x, y FROM pos"), "1\tA\tB");
}

/// Into narrower columns, values MySQL would change without an error or a warning (a
/// fraction of a second past DATETIME's precision, a time of day into DATE, a number a FLOAT
/// or DOUBLE cannot hold) are dirty records; values that fit land unchanged.
#[test]
fn narrower_target_columns_never_change_a_value_silently() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, ts DATETIME(6), d DATETIME(6), f DOUBLE, b BIGINT);
         INSERT INTO src VALUES (1, '2024-12-31 23:59:59', '2024-01-01 00:00:00', 0.5, 9007199254740992),
           (2, '2024-12-31 23:59:59.9', NULL, NULL, NULL), (3, NULL, '2024-01-01 12:00:00', NULL, NULL),
           (4, NULL, NULL, 16777217, NULL), (5, NULL, NULL, NULL, 9007199254740993);
         CREATE TABLE dst (id INT PRIMARY KEY, ts DATETIME, d DATE, f FLOAT, b DOUBLE)",
    );
    let cols = r#""column": ["id", "ts", "d", "f", "b"],"#;
    let t = tempfile::tempdir().unwrap();
    let p = write_job(
        t.path(),
        "narrow",
        &job("{}", &reader(&db, cols), &writer(&db, "dst", cols)),
    );
    let o = run_file(t.path(), &p, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        db.query("SELECT id, ts, d, f, b FROM dst"),
        "1\t2024-12-31 23:59:59\t2024-01-01\t0.5\t9.007199254740992e15"
    );
    assert_dirty_rows(
        &t.path().join("d.jsonl"),
        &[
            ("2", "fractional second"),
            ("3", "time of day"),
            ("4", "in real"),
            ("5", "in double precision"),
        ],
    );
}

/// A FLOAT value goes into DOUBLE, DECIMAL and text columns as the number it shows (0.1, not
/// the 0.10000000149011612 its bits widen to), and into a FLOAT column as the same float.
#[test]
fn floats_go_into_wider_columns_as_the_numbers_they_show() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE fsrc (id INT PRIMARY KEY, f FLOAT);
         INSERT INTO fsrc VALUES (1, 0.1), (2, 1.1), (3, -2.7), (4, 3.4028234663852886e38), (5, 16777217);
         CREATE VIEW src AS SELECT id, f AS d, f AS n, f AS f, f AS t FROM fsrc;
         CREATE TABLE dst (id INT PRIMARY KEY, d DOUBLE, n DECIMAL(50,10), f FLOAT, t VARCHAR(40));",
    );
    let cols = r#""column": ["id", "d", "n", "f", "t"],"#;
    let (o, _t) = run_job(
        "floats",
        &job("{}", &reader(&db, cols), &writer(&db, "dst", cols)),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 0");
    assert_eq!(
        db.query("SELECT id, d, n, t FROM dst ORDER BY id"),
        "1\t0.1\t0.1000000000\t0.1\n\
         2\t1.1\t1.1000000000\t1.1\n\
         3\t-2.7\t-2.7000000000\t-2.7\n\
         4\t3.4028235e38\t340282350000000000000000000000000000000.0000000000\t3.4028235e38\n\
         5\t16777216\t16777216.0000000000\t16777216.0"
    );
    assert_eq!(
        db.query("SELECT COUNT(*) FROM fsrc JOIN dst USING (id) WHERE fsrc.f = dst.f"),
        "5"
    );
    // hdfswriter's DOUBLE columns the same, read back by pyarrow (text: by Python's float).
    let t = tempfile::tempdir().unwrap();
    for ft in ["parquet", "orc", "text"] {
        let out = t.path().join(ft);
        let w = format!(
            r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "{ft}",
                "path": "{}", "fileName": "f", "writeMode": "truncate", "fieldDelimiter": ",",
                "column": [{{"name": "id", "type": "INT"}}, {{"name": "d", "type": "DOUBLE"}}]}}}}"#,
            out.display()
        );
        let (o, _t) = run_job(
            ft,
            &job("{}", &reader(&db, r#""column": ["id", "d"],"#), &w),
        );
        assert_eq!(code(&o), 0, "{ft}: {}", stderr(&o));
        let got = run_python(
            "import sys, glob, pyarrow.parquet as pq, pyarrow.orc as po\n\
             ft, d = sys.argv[1], sys.argv[2]\n\
             rows = []\n\
             for f in sorted(glob.glob(d + '/f*')):\n\
             \x20   if ft == 'text':\n\
             \x20       rows += [(int(a), float(b)) for a, b in (l.split(',') for l in open(f).read().split())]\n\
             \x20   else:\n\
             \x20       t = (pq if ft == 'parquet' else po).read_table(f).to_pydict()\n\
             \x20       rows += list(zip(t['id'], t['d']))\n\
             print(' '.join(repr(v) for _, v in sorted(rows)))",
            &[ft, out.to_str().unwrap()],
        );
        assert_eq!(got.trim(), "0.1 1.1 -2.7 3.4028235e+38 16777216.0", "{ft}");
    }
}

/// A job stopped by its error limit while the writer isolates bad rows one by one reports as
/// written exactly the rows the table holds (each isolated row commits on its own).
#[test]
fn rows_written_before_an_error_limit_stop_are_counted() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE d1 (id INT, name VARCHAR(3))");
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in.csv");
    let text: String = (1..=2000)
        .map(|i| format!("{i},{}\n", if i % 100 == 0 { "toolong" } else { "ok" }))
        .collect();
    std::fs::write(&input, text).unwrap();
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}}"#,
        input.display()
    );
    let p = write_job(
        t.path(),
        "limit",
        &job(
            r#"{"errorLimit": {"record": 5}}"#,
            &reader,
            &writer(
                &db,
                "d1",
                r#""column": ["id", "name"], "writeMode": "insert","#,
            ),
        ),
    );
    let o = run_file(t.path(), &p, &["--report", "r.json"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    let in_table: u64 = db.query("SELECT COUNT(*) FROM d1").parse().unwrap();
    assert!(in_table > 0, "the stop came after some rows landed");
    assert_eq!(report["records_written"], in_table, "{report}");
}

/// createTable takes its columns from the rows that arrive: an empty source creates nothing,
/// and the job says so.
#[test]
fn create_table_from_an_empty_source_is_called_out() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (id INT PRIMARY KEY, v VARCHAR(8))");
    let (o, _t) = run_job_ok(
        "empty",
        &job(
            "{}",
            &reader(&db, r#""column": ["id", "v"],"#),
            &writer(&db, "made", r#""column": ["*"], "createTable": true,"#),
        ),
    );
    assert_stderr_has(
        &o,
        "createTable: no row reached made, so it was not created",
    );
}

/// A sharded write as DataX does it: the writer names target tables by list and range over
/// several connections, and writer task i writes table i, paired with reader task i (one per
/// source table, no splitPk). MySQL and PostgreSQL targets; a reader that makes another number
/// of tasks is refused before anything is written.
#[test]
fn sharded_writes_pair_each_source_table_with_its_target_table() {
    let sources = [MariaDb::new(), MariaDb::new()];
    for (s, db) in sources.iter().enumerate() {
        for t in 0..2 {
            db.exec(&format!(
                "CREATE TABLE t_{t:02} (id INT PRIMARY KEY, v VARCHAR(8));
                 INSERT INTO t_{t:02} SELECT seq, 's{s}t{t}' FROM seq_1_to_{}",
                100 * (s * 2 + t + 1)
            ));
        }
    }
    let conns: Vec<String> = sources
        .iter()
        .map(|db| format!(r#"{{"jdbcUrl": ["{}"], "table": ["t_[00-01]"]}}"#, db.url()))
        .collect();
    let reader = |extra: &str| {
        format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "v"], {extra}
                "connection": [{}]}}}}"#,
            mysql_server().login(),
            conns.join(", ")
        )
    };
    let targets = [MariaDb::new(), MariaDb::new()];
    for db in &targets {
        db.exec("CREATE TABLE o_0 (id INT PRIMARY KEY, v VARCHAR(8)); CREATE TABLE o_1 LIKE o_0");
    }
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "v"], "writeMode": "insert",
            "preSql": ["DELETE FROM @table WHERE id < 0"],
            "connection": [{{"jdbcUrl": "{}", "table": ["o_[0-1]"]}}, {{"jdbcUrl": "{}", "table": ["o_0,o_1"]}}]}}}}"#,
        mysql_server().login(),
        targets[0].url(),
        targets[1].url()
    );
    let (o, _t) = run_job_ok(
        "shardw",
        &job(r#"{"speed": {"channel": 4}}"#, &reader(""), &writer),
    );
    // The job says which source went to which table.
    assert_stderr_has(&o, "sharded write: ");
    assert_stderr_has(&o, "t_01 -> o_1");
    for (s, db) in targets.iter().enumerate() {
        for t in 0..2 {
            assert_eq!(
                db.query(&format!("SELECT COUNT(*), MIN(v), MAX(v) FROM o_{t}")),
                format!("{}\ts{s}t{t}\ts{s}t{t}", 100 * (s * 2 + t + 1))
            );
        }
    }
    // PostgreSQL: a range on one connection.
    let pg = Pg::new();
    pg.query("CREATE TABLE p_0 (id int PRIMARY KEY, v text); CREATE TABLE p_1 (LIKE p_0); CREATE TABLE p_2 (LIKE p_0); CREATE TABLE p_3 (LIKE p_0)");
    let pg_writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "v"],
            "connection": [{{"jdbcUrl": "{}", "table": ["p_[0-3]"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    let (_, _t) = run_job_ok("shardp", &job("{}", &reader(""), &pg_writer));
    for i in 0..4 {
        assert_eq!(
            pg.query(&format!("SELECT count(*), min(v), max(v) FROM p_{i}")),
            format!(
                "{}|s{}t{}|s{}t{}",
                100 * (i + 1),
                i / 2,
                i % 2,
                i / 2,
                i % 2
            )
        );
    }
    // With splitPk the reader makes more tasks than there are target tables: refused before
    // the writer's preSql runs.
    pg.query("TRUNCATE p_0, p_1, p_2, p_3; INSERT INTO p_1 VALUES (-1, 'keep')");
    let (o, _t) = run_job(
        "shardx",
        &job(
            r#"{"speed": {"channel": 4}}"#,
            &reader(r#""splitPk": "id","#),
            &pg_writer.replace(
                r#""column""#,
                r#""preSql": ["DELETE FROM @table"], "column""#,
            ),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the writer has 4 target tables (p_0 .. p_3)");
    assert_eq!(
        pg.query(
            "SELECT (SELECT count(*) FROM p_0) + (SELECT count(*) FROM p_3), (SELECT v FROM p_1)"
        ),
        "0|keep"
    );
    // With table staging each table publishes on its own: the last one refusing its rows
    // fails the job, which names the tables already published.
    pg.query(
        "TRUNCATE p_0, p_1, p_2, p_3; ALTER TABLE p_3 ADD PRIMARY KEY (id);
         INSERT INTO p_3 VALUES (1, 'taken')",
    );
    let (o, _t) = run_job(
        "shards",
        &job(
            "{}",
            &reader(""),
            &pg_writer.replace(r#""column""#, r#""stagingMode": "table", "column""#),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the tables before it are committed: p_0, p_1, p_2");
    assert_eq!(
        pg.query("SELECT (SELECT count(*) FROM p_2), (SELECT count(*) FROM p_3)"),
        "300|1"
    );
}

/// A text splitPk under a case-insensitive collation, with unicode, quotes, backslashes, empty
/// strings, trailing spaces, many duplicates and NULL keys: every row arrives exactly once.
#[test]
fn a_text_split_pk_reads_every_row_exactly_once() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, k VARCHAR(32) COLLATE utf8mb4_general_ci, v INT)
           CHARACTER SET utf8mb4;
         CREATE TABLE dst (id INT PRIMARY KEY, k VARCHAR(32) COLLATE utf8mb4_general_ci, v INT)
           CHARACTER SET utf8mb4;
         INSERT INTO src SELECT seq, ELT(1 + seq % 12, 'a', 'A', 'b', 'B ', '', 'O''Brien', 'back\\\\slash',
             'ä', 'Ä', '中文', '😀', NULL), seq FROM seq_1_to_6000;
         INSERT INTO src SELECT seq, CONCAT('key-', seq % 97), seq FROM seq_6001_to_9000;
         INSERT INTO src SELECT seq, CONCAT('k', seq % 9973, '-', seq), seq FROM seq_9001_to_130000;
         ANALYZE TABLE src",
    );
    let cols = r#""column": ["id", "k", "v"], "splitPk": "k", "where": "v <> 13","#;
    let (o, _t) = run_job_ok(
        "textpk",
        &job(
            r#"{"speed": {"channel": 4}}"#,
            &reader(&db, cols),
            &writer(&db, "dst", r#""column": ["id", "k", "v"],"#),
        ),
    );
    assert_stderr_has(&o, "dirty 0");
    assert_eq!(
        db.query(
            "SELECT COUNT(*), SUM(s.k <=> d.k AND BINARY s.k <=> BINARY d.k) FROM src s JOIN dst d USING (id)"
        ),
        "129999\t129999"
    );
    assert_eq!(db.query("SELECT COUNT(*) FROM dst WHERE v = 13"), "0");
    assert_stderr_has(&o, "quantiles of k from a sample of 1 in 2 keys");
}

/// oceanbasev10writer writes as DataX's does: without obWriteMode it upserts the written
/// columns (a column the job does not write keeps its value), any obWriteMode but "insert"
/// does the same ("replace" included: REPLACE would reset the other columns), a writeMode
/// beside it is ignored with a warning, and "insert" makes a duplicate key a dirty record.
#[test]
fn oceanbase_writer_upserts_by_default_as_datax_does() {
    let my = MariaDb::new();
    my.exec("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10), v INT, extra VARCHAR(10) DEFAULT 'dflt');
             INSERT INTO t VALUES (1, 'a', 1, 'KEEP'), (2, 'b', 2, 'KEEP')");
    let run_as = |name: &str, extra: &str, v: i64| {
        let reader = format!(
            r#"{{"name": "streamreader", "parameter": {{"sliceRecordCount": 1, "column": [
                {{"value": "1", "type": "long"}}, {{"value": "new", "type": "string"}},
                {{"value": "{v}", "type": "long"}}]}}}}"#
        );
        let writer = format!(
            r#"{{"name": "{name}", "parameter": {{{}, "column": ["id", "name", "v"] {extra},
                "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
            mysql_server().login(),
            my.url()
        );
        run_job("ob", &job("{}", &reader, &writer)).0
    };
    let run = |extra: &str, v: i64| run_as("oceanbasev10writer", extra, v);
    let o = run("", 10);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        my.query("SELECT name, v, extra FROM t WHERE id = 1"),
        "new\t10\tKEEP"
    );
    let o = run(r#", "obWriteMode": "replace", "writeMode": "insert""#, 20);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "\"replace\" upserts");
    assert_stderr_has(&o, "writeMode \"insert\" is ignored");
    assert_eq!(
        my.query("SELECT name, v, extra FROM t WHERE id = 1"),
        "new\t20\tKEEP"
    );
    let o = run(r#", "obWriteMode": "insert""#, 30);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 1");
    assert_eq!(my.query("SELECT v FROM t WHERE id = 1"), "20");
    assert_eq!(my.query("SELECT COUNT(*) FROM t"), "2");
    // DataX's mysqlwriter ignores obWriteMode (it would insert): alone, it is refused; with a
    // writeMode that says the same, taken.
    let o = run_as("mysqlwriter", r#", "obWriteMode": "update""#, 40);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "obWriteMode: a key of oceanbasev10writer");
    assert_eq!(my.query("SELECT v FROM t WHERE id = 1"), "20");
    let o = run_as(
        "mysqlwriter",
        r#", "obWriteMode": "update", "writeMode": "update""#,
        50,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(my.query("SELECT v FROM t WHERE id = 1"), "50");
}

/// A table read reports its progress against the table's row estimate (split by key range),
/// labelled as an estimate.
#[test]
fn progress_of_a_table_read_has_an_estimated_total_and_eta() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE src (id INT PRIMARY KEY, v BIGINT); INSERT INTO src SELECT seq, seq FROM seq_1_to_30000; ANALYZE TABLE src");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let w = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let r = reader(&db, r#""column": ["id", "v"], "splitPk": "id","#);
    let p = write_job(
        t.path(),
        "eta",
        &job(r#"{"speed": {"channel": 2, "record": 10000}}"#, &r, &w),
    );
    let o = run_file(t.path(), &p, &["--progress-interval", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "estimated from table statistics");
    assert_eq!(lines_in(&out).len(), 30000);
}

/// SIGTERM while a unit's bad rows are isolated row by row stops the isolation (each row
/// commits on its own), and the summary's `written` is what the table holds.
#[test]
fn sigterm_while_isolating_stops_and_counts_what_landed() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE t (id int PRIMARY KEY, code varchar(3), qty int)");
    let t = tempfile::tempdir().unwrap();
    let w = writer(&db, "t", r#""column": ["id", "code", "qty"],"#);
    let o = stopped_while_isolating(t.path(), &w, || db.query("SELECT count(*) FROM t") != "0");
    let landed = db.query("SELECT count(*) FROM t");
    assert_ne!(landed, "0");
    assert_eq!(written_of(&o), landed, "{}", stderr(&o));
}

/// A job `session` that sets another time zone than UTC would shift TIMESTAMP values (they
/// travel as UTC instants): reading or writing a TIMESTAMP column there is refused, naming the
/// column; DATETIME columns are not shifted by it and still copy (a `where` may then use
/// the zone's NOW()).
#[test]
fn a_session_time_zone_refuses_timestamp_columns_only() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, dtm DATETIME(6));
         SET time_zone = '+00:00';
         INSERT INTO src VALUES (1, '2024-03-10 12:00:00.5', '2024-03-10 12:00:00.5');
         CREATE TABLE dst LIKE src; CREATE TABLE dst2 (id INT PRIMARY KEY, dtm DATETIME(6))",
    );
    let zone = r#""session": ["SET time_zone = '+08:00'"],"#;
    let all = r#""column": ["id", "ts", "dtm"],"#;
    let (o, _t) = run_job(
        "read_zone",
        &job(
            "{}",
            &reader(&db, &format!("{all} {zone}")),
            &writer(&db, "dst", all),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "sets time_zone to '+08:00': the TIMESTAMP column(s) ts would be read",
    );
    // Refused before preSql runs: the target keeps its row.
    db.exec("INSERT INTO dst VALUES (9, NULL, NULL)");
    let (o, _t) = run_job(
        "write_zone",
        &job(
            "{}",
            &reader(&db, all),
            &writer(
                &db,
                "dst",
                &format!(r#"{all} {zone} "preSql": ["DELETE FROM @table"],"#),
            ),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the TIMESTAMP column(s) ts would be written");
    assert_eq!(db.query("SELECT GROUP_CONCAT(id) FROM dst"), "9");
    db.exec("DELETE FROM dst");
    // DATETIME only, both sides in the zone: copied as it is.
    let some = r#""column": ["id", "dtm"], "where": "dtm < NOW()","#;
    run_job_ok(
        "datetime_zone",
        &job(
            "{}",
            &reader(&db, &format!("{some} {zone}")),
            &writer(&db, "dst2", &format!(r#""column": ["id", "dtm"], {zone}"#)),
        ),
    );
    assert_eq!(
        db.query("SELECT dtm FROM dst2"),
        "2024-03-10 12:00:00.500000"
    );
    // Without the zone, the TIMESTAMP's instant arrives unshifted.
    run_job_ok(
        "utc",
        &job("{}", &reader(&db, all), &writer(&db, "dst", all)),
    );
    assert_eq!(
        db.query("SET time_zone = '+00:00'; SELECT ts FROM dst"),
        "2024-03-10 12:00:00.500000"
    );
}

/// Text into DATE/DATETIME/TIME columns goes in only as plain ISO text the column keeps:
/// fraction digits MySQL would cut, an offset and words are dirty records.
#[test]
fn text_into_date_and_time_columns_lands_as_written_or_is_dirty() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id INT PRIMARY KEY, d DATE, dt DATETIME, tm TIME)");
    let t = tempfile::tempdir().unwrap();
    let reader = csv_star_reader(
        t.path(),
        "1,2024-01-02,2024-01-02 10:00:00,838:59:59\n\
         2,2024-01-02,2024-01-02 00:00:00.5,12:00:00\n\
         3,2024-01-02,2024-01-02 10:00:00,12:00:00.4\n\
         4,2024-01-02,2024-01-02 10:00:00+05:00,12:00:00\n\
         5,now,2024-01-02 10:00:00,12:00:00\n\
         6,0000-00-00,2024-01-02 10:00:00.000,-12:00:00\n",
    );
    let (o, _d) = run_job(
        "texttime",
        &job(
            "{}",
            &reader,
            &writer(&db, "dst", r#""column": ["id", "d", "dt", "tm"],"#),
        ),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 4");
    assert_eq!(
        db.query("SELECT GROUP_CONCAT(CONCAT_WS('|', id, d, dt, tm) ORDER BY id) FROM dst"),
        "1|2024-01-02|2024-01-02 10:00:00|838:59:59,6|0000-00-00|2024-01-02 10:00:00|-12:00:00"
    );
}

/// Text MySQL would store otherwise than written is a dirty record: trailing spaces into
/// CHAR (dropped), a SET out of member order or repeated (sorted, merged), an ENUM or SET
/// member in another letter case (stored as the member).
#[test]
fn char_enum_and_set_values_land_as_written_or_are_dirty() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id INT PRIMARY KEY, c CHAR(10), st SET('a','b'), en ENUM('x','y'), y YEAR)");
    let t = tempfile::tempdir().unwrap();
    // Dirty: 2 spaces, 3 order, 4 repeat, 5 case, 7 a position, 8 an accent, 9 two-digit year.
    let reader = csv_star_reader(
        t.path(),
        "1,ab,\"a,b\",x,2024\n2,\"ab  \",a,x,2024\n3,ab,\"b,a\",x,2024\n4,ab,\"a,a\",x,2024\n\
         5,ab,a,Y,2024\n6,\" ab\",,y,0000\n7,ab,a,1,2024\n8,ab,á,x,2024\n9,ab,a,x,10\n",
    );
    let (o, _d) = run_job(
        "members",
        &job(
            "{}",
            &reader,
            &writer(&db, "dst", r#""column": ["id", "c", "st", "en", "y"],"#),
        ),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 7");
    assert_eq!(
        db.query("SELECT GROUP_CONCAT(CONCAT_WS('|', id, CONCAT('[', c, ']'), st, en, y) ORDER BY id SEPARATOR ';') FROM dst"),
        "1|[ab]|a,b|x|2024;6|[ ab]||y|0000"
    );
}

/// Column lists of different lengths are refused before anything runs: the writer's preSql
/// does not empty the target of a job that cannot write a row.
#[test]
fn column_lists_of_different_lengths_are_refused_before_presql() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id INT, name VARCHAR(10), amount INT); INSERT INTO src VALUES (1, 'a', 5);
         CREATE TABLE dst (id INT, name VARCHAR(10)); INSERT INTO dst VALUES (9, 'keep')",
    );
    let text = job(
        "{}",
        &reader(&db, r#""column": ["id", "name", "amount"],"#),
        &writer(
            &db,
            "dst",
            r#""column": ["id", "name"], "preSql": ["DELETE FROM @table"],"#,
        ),
    );
    let (o, t) = run_job("widths", &text);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "writer.parameter.column: lists 2 column(s), but the reader's",
    );
    let p = t.path().join("widths.json");
    let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(db.query("SELECT CONCAT(id, name) FROM dst"), "9keep");
    // A where that closes a parenthesis of its own would escape the split ranges.
    let text = job(
        r#"{"speed": {"channel": 2}}"#,
        &reader(
            &db,
            r#""column": ["id", "name"], "splitPk": "id", "where": "id < 10) OR (id > 5","#,
        ),
        &writer(&db, "dst", r#""column": ["id", "name"],"#),
    );
    let (o, _t) = run_job("unbalanced", &text);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "reader.parameter.where: a ) closes more than the fragment opened",
    );
}
