//! PostgreSQL reader and writer against the server of `DATASYNC_TEST_POSTGRES` (default 127.0.0.1:5432, trust), and the
//! MySQL <-> PostgreSQL migrations. Each test makes its own database(s) and drops them; results
//! are checked with SQL (`psql`, `mariadb`), not with our reader.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;

fn pg_reader(pg: &Pg, table: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "postgresqlreader", "parameter": {{{}, {extra}
            "connection": [{{"jdbcUrl": ["{}"], "table": ["{table}"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    )
}

/// Runs job `name`: table `src` -> table `dst` in `pg`, both with the parameter text `cols`.
fn pg_copy(
    pg: &Pg,
    name: &str,
    src: &str,
    dst: &str,
    cols: &str,
) -> (std::process::Output, tempfile::TempDir) {
    run_job(
        name,
        &job("{}", &pg_reader(pg, src, cols), &pg_writer(pg, dst, cols)),
    )
}

fn pg_writer(pg: &Pg, table: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, {extra}
            "connection": [{{"jdbcUrl": "{}", "table": ["{table}"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    )
}

const ALL: &str = "(id bigint PRIMARY KEY, s smallint, i integer, r real, d double precision, n numeric(12,2), nu numeric,
    b boolean, tx text, vc varchar(10), ch char(3), by bytea, dt date, ts timestamp(6), tz timestamptz, tm time, u uuid,
    j json, jb jsonb, iv interval, ip inet, cidr_ cidr, arr int4[], tarr text[], narr numeric[], m mood)";
const ALL_COLS: &str =
    "id,s,i,r,d,n,nu,b,tx,vc,ch,by,dt,ts,tz,tm,u,j::text,jb,iv,ip,cidr_,arr,tarr,narr,m";

#[test]
fn round_trip_every_type_compares_equal_by_sql() {
    let pg = Pg::new();
    pg.query(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE src {ALL}; CREATE TABLE dst {ALL}"
    ));
    pg.query(
        "INSERT INTO src VALUES
         (1, -32768, 2147483647, 3.4028235e38, -1.7976931348623157e308, -9999999999.99, 123.4567890123, true,
          E'tab\\tnew\\nline \"q\" \\\\ back 😀', 'vc', 'ab', '\\x00ff10', '4713-01-01 BC', '2024-01-31 23:59:59.123456',
          '2024-01-31 23:59:59.5+08', '23:59:59.999999', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',
          '{\"b\": null}', '1 year 2 mons 3 days 04:05:06.7', '2001:db8::1/64', '10.0.0.0/8', '{1,2,NULL}',
          ARRAY['a,b', 'q\"uote', 'back\\slash', NULL, '', 'NULL'], '{1.5,NULL,-0.25}', 'happy'),
         (2, 32767, -2147483648, -0.5, 5e-324, 0.05, -0.0000000001, false, '', '', '', '\\x', '5874897-12-31', '1970-01-01 00:00:00',
          '1969-12-31 23:59:59.999999+00', '00:00:00', '00000000-0000-0000-0000-000000000000', 'null', '[]', '-1 days', '127.0.0.1', '::/0', '{}', '{}', NULL, 'sad'),
         (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    );
    let (_, _t) = run_job_ok(
        "rt",
        &job(
            "{}",
            &pg_reader(&pg, "src", r#""column": ["*"],"#),
            &pg_writer(&pg, "dst", r#""column": ["*"],"#),
        ),
    );
    for (a, b) in [("src", "dst"), ("dst", "src")] {
        let diff = pg.query(&format!(
            "SELECT count(*) FROM (SELECT {ALL_COLS} FROM {a} EXCEPT SELECT {ALL_COLS} FROM {b}) x"
        ));
        assert_eq!(diff, "0", "{a} minus {b}");
    }
    assert_eq!(pg.query("SELECT count(*) FROM dst"), "3");
}

#[test]
fn split_pk_channel_4_counts_and_sums_equal() {
    let pg = Pg::new();
    pg.query("CREATE TABLE src (id int PRIMARY KEY, k bigint, v numeric(12,2)); CREATE TABLE dst (id int, k bigint, v numeric(12,2));
              INSERT INTO src SELECT g, CASE WHEN g % 500 = 0 THEN NULL ELSE g * 13 END, g / 7.0 FROM generate_series(1, 100000) g");
    let cols = r#""column": ["id", "k", "v"],"#;
    let r = pg_reader(&pg, "src", &format!(r#"{cols} "splitPk": "k","#));
    let (o, _t) = run_job_ok(
        "split",
        &job(
            r#"{"speed": {"channel": 4}}"#,
            &r,
            &pg_writer(&pg, "dst", cols),
        ),
    );
    assert_stderr_has(&o, "5 task(s)");
    let q =
        "SELECT count(*), count(DISTINCT id), sum(k), sum(v), count(*) FILTER (WHERE k IS NULL)";
    assert_eq!(
        pg.query(&format!("{q} FROM src")),
        pg.query(&format!("{q} FROM dst"))
    );
    // Every row exactly once, every value equal: the two sets are the same, both ways.
    assert_eq!(
        pg.query(
            "SELECT (SELECT count(*) FROM (SELECT * FROM src EXCEPT ALL SELECT * FROM dst) a),
                    (SELECT count(*) FROM (SELECT * FROM dst EXCEPT ALL SELECT * FROM src) b)"
        ),
        "0|0"
    );
}

/// Runs src -> dst (both in `pg`) with `cols`, dirty records to `d.jsonl` in `dir`.
fn copy_with_dirty_file(
    pg: &Pg,
    dir: &std::path::Path,
    name: &str,
    cols: &str,
) -> std::process::Output {
    let p = write_job(
        dir,
        name,
        &job(
            "{}",
            &pg_reader(pg, "src", cols),
            &pg_writer(pg, "dst", cols),
        ),
    );
    run_file(dir, &p, &["--dirty-file", "d.jsonl", "--no-progress"])
}

#[test]
fn bad_rows_are_isolated_with_the_server_error_and_upsert_is_idempotent() {
    let pg = Pg::new();
    pg.query("CREATE TABLE src (id int, v int); CREATE TABLE dst (id int PRIMARY KEY, v int CHECK (v >= 0), note text DEFAULT 'keep');
              INSERT INTO src SELECT g, CASE WHEN g % 100 = 0 THEN -1 ELSE g END FROM generate_series(1, 1000) g");
    let cols = r#""column": ["id", "v"],"#;
    let t = tempfile::tempdir().unwrap();
    let o = copy_with_dirty_file(&pg, t.path(), "dirty", cols);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(pg.query("SELECT count(*) FROM dst"), "990");
    // The summary's waits line says how long the writer spent isolating the bad rows.
    assert_stderr_has(&o, "writer isolating dirty rows ");
    let dirty = std::fs::read_to_string(t.path().join("d.jsonl")).unwrap();
    assert_eq!(dirty.lines().count(), 10);
    assert!(
        dirty
            .lines()
            .all(|l| l.contains("violates check constraint") && l.contains("\"-1\"")),
        "{dirty}"
    );
    let (o, _t) = run_job(
        "limit",
        &job(
            r#"{"errorLimit": {"record": 5}}"#,
            &pg_reader(&pg, "src", cols),
            &pg_writer(&pg, "dst", cols),
        ),
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));

    // Upsert, twice: same result, untouched columns kept.
    pg.query("UPDATE src SET v = v + 1000; UPDATE dst SET note = 'mine' WHERE id = 1");
    let w = pg_writer(&pg, "dst", &format!(r#"{cols} "writeMode": "update","#));
    for _ in 0..2 {
        let (_, _t) = run_job_ok("upsert", &job("{}", &pg_reader(&pg, "src", cols), &w));
        assert_eq!(
            pg.query("SELECT count(*), sum(v), count(*) FILTER (WHERE v = id + 1000) FROM dst"),
            "1000|1494990|990"
        );
    }
    assert_eq!(pg.query("SELECT note FROM dst WHERE id = 1"), "mine");

    // A job that fails after its preSql emptied the table (stagingMode none) says so.
    pg.query("UPDATE src SET v = -1 WHERE id = 500");
    let w = pg_writer(
        &pg,
        "dst",
        &format!(r#"{cols} "preSql": ["TRUNCATE @table"],"#),
    );
    let (o, _t) = run_job(
        "truncated",
        &job(
            r#"{"errorLimit": {"record": 0}}"#,
            &pg_reader(&pg, "src", cols),
            &w,
        ),
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "the job failed after preSql \"TRUNCATE @table\" ran on dst: the rows it removed are gone",
    );
    // In the summary too (and so in --report), not only in the log.
    assert_stderr_has(&o, "  warning   the job failed after preSql");
    assert_ne!(pg.query("SELECT count(*) FROM dst"), "1000");
}

#[test]
fn many_duplicates_are_isolated_on_the_server_and_upsert_takes_the_last_of_a_repeated_key() {
    let pg = Pg::new();
    // 100,000 rows, every fifth key already in the target: 20,000 duplicates in two units.
    pg.query(
        "CREATE TABLE src (id int, v text); CREATE TABLE dst (id int PRIMARY KEY, v text CHECK (v <> 'bad'));
         INSERT INTO src SELECT g, 'v' || g FROM generate_series(1, 100000) g;
         INSERT INTO dst SELECT g * 5, 'old' FROM generate_series(1, 20000) g",
    );
    let cols = r#""column": ["id", "v"],"#;
    let t = tempfile::tempdir().unwrap();
    let o = copy_with_dirty_file(&pg, t.path(), "dups", cols);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "written 80000  dirty 20000");
    assert_stderr_has(
        &o,
        "warning: 20000 dirty record(s) were not written; they are in ",
    );
    assert_stderr_has(&o, "dst: isolated ");
    assert_eq!(
        pg.query("SELECT count(*), count(*) FILTER (WHERE v = 'old'), count(*) FILTER (WHERE v = 'v' || id) FROM dst"),
        "100000|20000|80000"
    );
    let dirty = std::fs::read_to_string(t.path().join("d.jsonl")).unwrap();
    let keys: std::collections::BTreeSet<i64> = dirty
        .lines()
        .map(|l| {
            assert!(l.contains("already exists"), "{l}");
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["values"][0].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(keys, (1..=20000).map(|g| g * 5).collect());

    // Upsert with a key twice in one unit and one row the table refuses: the later row wins,
    // the refused row is dirty with the server's message, everything else lands.
    pg.query(
        "TRUNCATE src, dst; INSERT INTO src VALUES (1, 'a'), (2, 'x'), (1, 'b'), (3, 'bad'), (2, 'y')",
    );
    let w = pg_writer(&pg, "dst", &format!(r#"{cols} "writeMode": "update","#));
    let p = write_job(
        t.path(),
        "upsert",
        &job("{}", &pg_reader(&pg, "src", cols), &w),
    );
    let o = run_file(t.path(), &p, &["--dirty-file", "u2.jsonl", "--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        pg.query("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM dst"),
        "1=b,2=y"
    );
    let dirty = std::fs::read_to_string(t.path().join("u2.jsonl")).unwrap();
    assert_eq!(dirty.lines().count(), 1, "{dirty}");
    assert!(
        dirty.contains("violates check constraint") && dirty.contains(r#"["3","bad"]"#),
        "{dirty}"
    );
}

#[test]
fn credentials_and_missing_tables_fail_clearly() {
    let pg = Pg::new();
    pg.query("CREATE TABLE src (id int); CREATE TABLE dst (id int)");
    let cols = r#""column": ["id"],"#;
    let bad_user = pg_reader(&pg, "src", cols).replace(
        &pg_server().login(),
        "\"username\": \"no_such_role\", \"password\": \"hunter2-secret\"",
    );
    let (o, _t) = run_job(
        "user",
        &job(
            r#"{"retry": {"count": 0}}"#,
            &bad_user,
            &pg_writer(&pg, "dst", cols),
        ),
    );
    assert_eq!(code(&o), 1);
    assert_stderr_has(
        &o,
        &format!(
            "cannot connect to postgresql://{}/{}",
            pg_server().addr(),
            pg.name
        ),
    );
    assert!(!stderr(&o).contains("hunter2-secret"));
    let (o, _t) = pg_copy(&pg, "missing", "nope", "dst", cols);
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "\"nope\"");
    let (o, _t) = pg_copy(&pg, "missingw", "src", "nope_w", cols);
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "nope_w");
    // A quoted name is taken as written: an upper-case one that does not exist says so.
    pg.query("INSERT INTO src VALUES (1)");
    let (o, _t) = pg_copy(&pg, "upper_quoted", "src", r#"\"DST\""#, cols);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "a quoted name is taken as written, letter case included",
    );
    assert_eq!(pg.query("SELECT count(*) FROM dst"), "0");
}

/// Unquoted names are folded to lower case, as PostgreSQL folds them in the SQL DataX sends:
/// the rows and `@table` in preSql/postSql name the same table, also when a quoted
/// mixed-case twin exists; a quoted name keeps its case for both.
#[test]
fn unquoted_names_fold_as_postgresql_folds_them() {
    let pg = Pg::new();
    pg.query(
        r#"CREATE TABLE src (id int PRIMARY KEY, v text); INSERT INTO src VALUES (1, 'x'), (2, 'y');
           CREATE TABLE mytable (id int PRIMARY KEY, v text); INSERT INTO mytable VALUES (7, 'old');
           CREATE TABLE "MyTable" (id int PRIMARY KEY, v text); INSERT INTO "MyTable" VALUES (8, 'twin')"#,
    );
    let steps = r#""preSql": ["DELETE FROM @table"], "postSql": ["INSERT INTO @table VALUES (99, 'post')"],"#;
    let r = pg_reader(&pg, "SRC", r#""column": ["ID", "V"], "splitPk": "ID","#);
    let w = pg_writer(
        &pg,
        "MyTable",
        &format!(
            r#""column": ["ID", "V"], "conflictColumns": ["ID"], "writeMode": "update", {steps}"#
        ),
    );
    run_job_ok("folded", &job(r#"{"speed": {"channel": 2}}"#, &r, &w));
    assert_eq!(
        pg.query("SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM mytable"),
        "1:x,2:y,99:post"
    );
    assert_eq!(
        pg.query(r#"SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM "MyTable""#),
        "8:twin"
    );
    let w = pg_writer(
        &pg,
        r#"\"MyTable\""#,
        &format!(r#""column": ["id", "v"], {steps}"#),
    );
    run_job_ok(
        "quoted",
        &job(
            "{}",
            &pg_reader(&pg, "src", r#""column": ["id", "v"],"#),
            &w,
        ),
    );
    assert_eq!(
        pg.query(r#"SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM "MyTable""#),
        "1:x,2:y,99:post"
    );
    assert_eq!(
        pg.query("SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM mytable"),
        "1:x,2:y,99:post"
    );
}

#[test]
fn mysql_to_postgres_and_back() {
    let my = MariaDb::new();
    let pg = Pg::new();
    my.query(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME(6), flag TINYINT, bu BIGINT UNSIGNED, f DOUBLE, d DATE, blob_ BLOB);
         INSERT INTO orders SELECT seq, CONCAT('名前 ', seq), seq / 100, '2024-01-01' + INTERVAL seq SECOND + INTERVAL seq MICROSECOND,
           seq % 2, seq * 1000, seq / 3, '2024-01-01' + INTERVAL (seq % 365) DAY, UNHEX(HEX(seq)) FROM seq_1_to_20000;
         INSERT INTO orders VALUES (0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
         CREATE TABLE back LIKE orders;",
    );
    pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, name text, amount numeric(12,2), created timestamp(6), flag smallint, bu numeric(20,0), f double precision, d date, blob_ bytea)");
    let cols = r#""column": ["id", "name", "amount", "created", "flag", "bu", "f", "d", "blob_"],"#;
    let my_reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, {cols} "splitPk": "id",
            "connection": [{{"jdbcUrl": ["{}"], "table": ["orders"]}}]}}}}"#,
        mysql_server().login(),
        my.url()
    );
    let (_, _t) = run_job_ok(
        "m2p",
        &job(
            r#"{"speed": {"channel": 2}}"#,
            &my_reader,
            &pg_writer(&pg, "orders", cols),
        ),
    );
    // The same figures by SQL on both sides (timestamps as microseconds since the epoch).
    let agg = "SELECT count(*), sum(id), sum(amount), count(name), sum(flag), sum(bu), count(created), min(d), max(d), count(blob_)";
    let pg_side = pg.query(&format!("{agg}, sum((extract(epoch FROM created) * 1000000)::bigint), sum(length(blob_)) FROM orders"));
    let my_side = my.query(&format!("{agg}, SUM(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created)), SUM(LENGTH(blob_)) FROM orders"));
    assert_eq!(
        pg_side.replace('|', "\t"),
        my_side,
        "MySQL -> PostgreSQL aggregates"
    );
    assert_eq!(pg.query("SELECT name FROM orders WHERE id = 7"), "名前 7");

    let my_writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, {cols}
            "connection": [{{"jdbcUrl": "{}", "table": ["back"]}}]}}}}"#,
        mysql_server().login(),
        my.url()
    );
    let pg_r = pg_reader(&pg, "orders", &format!(r#"{cols} "splitPk": "id","#));
    let (_, _t) = run_job_ok(
        "p2m",
        &job(r#"{"speed": {"channel": 2}}"#, &pg_r, &my_writer),
    );
    let cmp = "SELECT COUNT(*) FROM orders o JOIN back b USING (id) WHERE NOT (o.name <=> b.name AND o.amount <=> b.amount AND o.created <=> b.created AND o.flag <=> b.flag AND o.bu <=> b.bu AND o.f <=> b.f AND o.d <=> b.d AND o.blob_ <=> b.blob_)";
    assert_eq!(my.query(cmp), "0");
    assert_eq!(my.query("SELECT COUNT(*) FROM back"), "20001");

    // createTable carries the source's primary key both ways, so an upsert into the created
    // table works (and running it again changes nothing).
    my.query("CREATE TABLE pk2 (a INT, b VARCHAR(8) COLLATE utf8mb4_bin, v INT, PRIMARY KEY (b, a)); INSERT INTO pk2 VALUES (1, 'x', 10), (2, 'x', 20), (1, 'y', 30), (1, 'X', 1), (1, 'é', 3), (1, 'e', 4)");
    let kc = r#""column": ["a", "b", "v"],"#;
    let my_pk = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, {kc}
            "connection": [{{"jdbcUrl": ["{}"], "table": ["pk2"]}}]}}}}"#,
        mysql_server().login(),
        my.url()
    );
    let pg_up = pg_writer(
        &pg,
        "pk2",
        &format!(r#"{kc} "createTable": true, "writeMode": "update","#),
    );
    for _ in 0..2 {
        let (_, _t) = run_job_ok("pk_m2p", &job("{}", &my_pk, &pg_up));
    }
    assert_eq!(
        pg.query("SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey::int2[], a.attnum)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'pk2'::regclass AND i.indisprimary"),
        "b,a"
    );
    assert_eq!(pg.query("SELECT count(*), sum(v) FROM pk2"), "6|68");
    let my_up = |table: &str, cols: &str| {
        format!(
            r#"{{"name": "mysqlwriter", "parameter": {{{}, {cols} "createTable": true, "writeMode": "update",
                "connection": [{{"jdbcUrl": "{}", "table": ["{table}"]}}]}}}}"#,
            mysql_server().login(),
            my.url()
        )
    };
    // An integer key becomes the created MySQL table's key: the upsert runs twice, no row
    // twice.
    pg.query("CREATE TABLE ik (a int, c int, v int, PRIMARY KEY (c, a)); INSERT INTO ik VALUES (1, 1, 5), (2, 1, 6), (1, 2, 7)");
    let ic = r#""column": ["a", "c", "v"],"#;
    for _ in 0..2 {
        let (_, _t) = run_job_ok(
            "ik_p2m",
            &job("{}", &pg_reader(&pg, "ik", ic), &my_up("ik3", ic)),
        );
    }
    assert_eq!(
        my.query("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ik3' AND CONSTRAINT_NAME = 'PRIMARY'"),
        "c,a"
    );
    assert_eq!(my.query("SELECT COUNT(*), SUM(v) FROM ik3"), "3\t18");
    // A text key would be merged by MySQL's collations ('x'/'X', 'e'/'é', 'y'/'y '): no key is
    // created, and an update into a table without a key is refused, not turned into inserts.
    let (o, _t) = run_job(
        "pk_p2m",
        &job("{}", &pg_reader(&pg, "pk2", kc), &my_up("pk3", kc)),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "createTable: pk3 gets no primary key");
    assert_stderr_has(&o, "writeMode update: pk3 has no primary or unique key");
    assert_eq!(my.query("SELECT COUNT(*) FROM pk3"), "0");
}

#[test]
fn create_table_pre_and_post_sql() {
    let pg = Pg::new();
    pg.query("CREATE TABLE src (id bigint, amount numeric(12,2), name text, at timestamp(6), raw bytea);
              INSERT INTO src VALUES (1, 12.34, 'x', '2024-01-01 10:00:00.5', '\\xbeef'), (2, NULL, NULL, NULL, NULL)");
    let cols = r#""column": ["id", "amount", "name", "at", "raw"],"#;
    let w = pg_writer(
        &pg,
        "newt",
        &format!(
            r#"{cols} "createTable": true, "preSql": ["CREATE TABLE pre_marker (n int)"],
               "postSql": ["INSERT INTO pre_marker SELECT count(*) FROM @table"],"#
        ),
    );
    let (_, _t) = run_job_ok("create", &job("{}", &pg_reader(&pg, "src", cols), &w));
    assert_eq!(
        pg.query("SELECT count(*) FROM (SELECT * FROM src EXCEPT SELECT * FROM newt) x"),
        "0"
    );
    assert_eq!(pg.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'newt'::regclass AND attname = 'amount'"), "numeric(12,2)");
    assert_eq!(pg.query("SELECT n FROM pre_marker"), "2");
}

#[test]
fn arrays_arrive_as_lists_and_files_get_json_arrays() {
    let pg = Pg::new();
    pg.query("CREATE TABLE src (id int, a int4[], b text[], m int4[][]);
              INSERT INTO src VALUES (1, '{1,NULL,3}', ARRAY['x,y', NULL, '', 'q\"'], NULL), (2, '{}', NULL, NULL), (3, NULL, NULL, '{{1,2},{3,4}}')");
    let out = tempfile::tempdir().unwrap();
    let w = format!(
        r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "a.jsonl", "writeMode": "truncate", "fileFormat": "jsonl"}}}}"#,
        out.path().display()
    );
    let (o, t) = run_job_ok(
        "arr",
        &job(
            "{}",
            &pg_reader(&pg, "src", r#""column": ["id", "a", "b", "m"],"#),
            &w,
        ),
    );
    let files = visible_files(out.path());
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let rows = json_lines(&text);
    assert_eq!(
        rows[0],
        serde_json::json!({"id": 1, "a": [1, null, 3], "b": ["x,y", null, "", "q\""], "m": null})
    );
    assert_eq!(
        rows[1],
        serde_json::json!({"id": 2, "a": [], "b": null, "m": null})
    );
    // A column holding a 2-dimensional array is read as PostgreSQL's array text for the whole
    // job (checked before reading), so no value is dirty.
    assert_eq!(
        rows[2],
        serde_json::json!({"id": 3, "a": null, "b": null, "m": "{{1,2},{3,4}}"})
    );
    assert_eq!(rows.len(), 3);
    assert!(!t.path().join("datasync-dirty-arr.jsonl").exists());
    assert_stderr_has(&o, "column m holds arrays of more than one dimension");
}

#[test]
fn binary_copy_is_used_where_every_column_has_an_encoder() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id bigint, n numeric(38,10), m numeric(12,2), t timestamp(6), d date, u uuid, j jsonb, s text, b boolean, f real, tm time);
         INSERT INTO src VALUES
           (1, 0, 0.05, '2000-01-01 00:00:00', '2000-01-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": 1}', 'x', true, 1.5, '12:34:56.789'),
           (2, -0.0000000001, -9999999999.99, '1969-12-31 23:59:59.999999', '1900-02-28', NULL, '[]', '', false, -0.0, '00:00:00'),
           (3, 1234567890123456789012345678.0123456789, 10000, '2262-04-11 23:47:16.854775', '9999-12-31', NULL, NULL, NULL, NULL, NULL, NULL),
           (4, 10000, 100.10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
         CREATE TABLE dst (LIKE src); CREATE TABLE dst2 (LIKE src); ALTER TABLE dst2 ADD COLUMN iv interval;",
    );
    let cols = r#""column": ["id", "n", "m", "t", "d", "u", "j", "s", "b", "f", "tm"],"#;
    let t = tempfile::tempdir().unwrap();
    let p = write_job(
        t.path(),
        "bin",
        &job(
            "{}",
            &pg_reader(&pg, "src", cols),
            &pg_writer(&pg, "dst", cols),
        ),
    );
    let o = run_debug(t.path(), &p);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("using text COPY"),
        "binary COPY expected: {}",
        stderr(&o)
    );
    for (a, b) in [("src", "dst"), ("dst", "src")] {
        assert_eq!(
            pg.query(&format!(
                "SELECT count(*) FROM (SELECT * FROM {a} EXCEPT SELECT * FROM {b}) x"
            )),
            "0",
            "{a} minus {b}"
        );
    }
    // An interval column has no binary encoder here: the same rows go as text COPY.
    let cols2 = r#""column": ["id", "n", "m", "t", "d", "u", "j", "s", "b", "f", "tm", "iv"],"#;
    let r = format!(
        r#"{{"name": "postgres", "parameter": {{{}, "connection": [{{"jdbcUrl": ["{}"],
            "querySql": ["SELECT *, interval '1 day' AS iv FROM src"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    let p = write_job(
        t.path(),
        "txt",
        &job("{}", &r, &pg_writer(&pg, "dst2", cols2)),
    );
    let o = run_debug(t.path(), &p);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "using text COPY");
    assert_eq!(pg.query("SELECT count(*) FROM (SELECT id, n, m, t, d, u, j, s, b, f, tm FROM dst2 EXCEPT SELECT * FROM src) x"), "0");
}

/// Every row of the PostgreSQL type table (db/src/postgres/types.rs), both ways on the server:
/// a column of the type reads as the row's Arrow type, and `createTable` makes that Arrow type
/// the row's DDL (as `format_type` reports it back).
#[test]
fn type_table_holds_both_ways_on_the_server() {
    use datasync_db::postgres::TYPE_TABLE;
    let pg = Pg::new();
    // One row of NULLs: the target is created when the first batch arrives.
    pg.query(&format!(
        "CREATE TABLE src ({}); INSERT INTO src DEFAULT VALUES",
        type_table_columns(TYPE_TABLE)
    ));
    let w = pg_writer(&pg, "created", r#""column": ["*"], "createTable": true,"#);
    let read = run_logging_columns(&job(
        "{}",
        &pg_reader(&pg, "src", r#""column": ["*"],"#),
        &w,
    ));
    let created = pg.query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'created'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    );
    let created: Vec<&str> = created.lines().collect();
    assert_eq!(read.len(), TYPE_TABLE.len());
    assert_eq!(created.len(), TYPE_TABLE.len());
    for (i, (pgt, arrow, ddl)) in TYPE_TABLE.iter().enumerate() {
        assert_eq!(
            read[i],
            (format!("c{i}"), arrow.to_string()),
            "{pgt} reads as"
        );
        // format_type spells timestamp(6) as "timestamp(6) without time zone".
        let got = created[i].replace(" without time zone", "");
        assert_eq!(got, *ddl, "createTable for {pgt} ({arrow})");
    }
}

#[test]
fn table_staging_with_quoted_schema_table_and_columns_cleans_up_a_dead_runs_tables() {
    let pg = Pg::new();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    // A staging table a dead process (pid 999999999 cannot exist) left in the quoted schema.
    pg.query(&format!(
        r#"CREATE SCHEMA "Odd Sch"; CREATE TABLE "Odd Sch"."My ""T""ab" ("Id" bigint PRIMARY KEY, "na me" text NOT NULL, extra int);
           INSERT INTO "Odd Sch"."My ""T""ab" VALUES (1, 'old', 7);
           CREATE TABLE "Odd Sch".datasync_stg_19990101000000_1_0 (x int);
           COMMENT ON TABLE "Odd Sch".datasync_stg_19990101000000_1_0 IS 'datasync staging of x by {host} 999999999';
           CREATE TABLE src (id bigint, name text);
           INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 1000) g"#
    ));
    let reader = pg_reader(&pg, "src", r#""column": ["id", "name"],"#);
    let writer = pg_writer(
        &pg,
        r#"\"Odd Sch\".\"My \"\"T\"\"ab\""#,
        r#""column": ["\"Id\"", "\"na me\""], "stagingMode": "table", "preSql": ["/* reload */ TRUNCATE @table"],"#,
    );
    let (o, _t) = run_job_ok("quoted", &job("{}", &reader, &writer));
    assert_stderr_has(&o, "dropped staging table");
    assert_stderr_has(&o, "runs in the publishing transaction");
    assert_eq!(
        pg.query(r#"SELECT count(*), sum("Id"), count(*) FILTER (WHERE "na me" = 'n' || "Id"), count(extra) FROM "Odd Sch"."My ""T""ab""#),
        "1000|500500|1000|0"
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM pg_class WHERE relname LIKE 'datasync\\_stg\\_%'"),
        "0"
    );
}

#[test]
fn numerics_without_precision_arrive_exactly_in_postgres_and_in_csv() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int PRIMARY KEY, v numeric, w numeric(60,3));
         CREATE TABLE dst (id int PRIMARY KEY, v numeric, w numeric(60,3));
         INSERT INTO src VALUES (1, 0.123456789012345678, 1.5), (2, 1e-30, -0.001),
           (3, 12345678901234567890123456789, 123456789012345678901234567890123456789012345678901234567.891),
           (4, 'NaN', NULL), (5, 'Infinity', 0), (6, '-Infinity', 0), (7, -0.0, 0), (8, NULL, NULL)",
    );
    // PostgreSQL keeps -0.0 as 0.0 (numeric has no negative zero); its text is what arrives.
    let cols = r#""column": ["id", "v", "w"],"#;
    let (o, t) = pg_copy(&pg, "num", "src", "dst", cols);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "read 8  written 8  dirty 0");
    drop(t);
    assert_eq!(
        pg.query(
            "SELECT count(*) FROM src s JOIN dst d USING (id)
             WHERE s.v IS NOT DISTINCT FROM d.v AND s.w IS NOT DISTINCT FROM d.w
               AND s.v::text IS NOT DISTINCT FROM d.v::text"
        ),
        "8"
    );
    // Into CSV: the exact text, read back by Python's csv module.
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let w = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "n.csv", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let p = write_job(
        t.path(),
        "numcsv",
        &job("{}", &pg_reader(&pg, "src", cols), &w),
    );
    let o = run_file(t.path(), &p, &["--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let files = visible_files(&out);
    let got = run_python(
        "import csv, sys\nrows = sorted(csv.reader(open(sys.argv[1])), key=lambda r: int(r[0]))\nprint('|'.join(r[1] for r in rows))",
        &[files[0].to_str().unwrap()],
    );
    assert_eq!(
        got.trim(),
        "0.123456789012345678|0.000000000000000000000000000001|12345678901234567890123456789|NaN|Infinity|-Infinity|0.0|\\N"
    );
}

/// A text splitPk with unicode, quotes, backslashes, empty strings, duplicates and NULL keys:
/// every row arrives exactly once.
#[test]
fn a_text_split_pk_reads_every_row_exactly_once() {
    let pg = Pg::new();
    pg.query(
        r#"CREATE TABLE src (id int PRIMARY KEY, k text, v int); CREATE TABLE dst (LIKE src);
           INSERT INTO src SELECT g, (ARRAY['a', 'A', 'b', 'B ', '', 'O''Brien', 'back\slash', 'ä', 'Ä', '中文', '😀', NULL])[1 + g % 12], g
             FROM generate_series(1, 6000) g;
           INSERT INTO src SELECT g, 'key-' || (g % 97), g FROM generate_series(6001, 9000) g;
           INSERT INTO src SELECT g, 'k' || (g % 9973) || '-' || g, g FROM generate_series(9001, 130000) g;
           ANALYZE src"#,
    );
    let cols = r#""column": ["id", "k", "v"], "splitPk": "k", "where": "v <> 13","#;
    let (o, _t) = run_job_ok(
        "textpk",
        &job(
            r#"{"speed": {"channel": 4}}"#,
            &pg_reader(&pg, "src", cols),
            &pg_writer(&pg, "dst", r#""column": ["id", "k", "v"],"#),
        ),
    );
    assert_stderr_has(&o, "text splitPk k cut at 3 quantile(s) -> 5 tasks");
    assert_stderr_has(&o, "quantiles of k from a sample of 1 in 2 keys");
    assert_eq!(
        pg.query(
            "SELECT count(*), count(*) FILTER (WHERE s.k IS NOT DISTINCT FROM d.k AND s.v = d.v)
             FROM src s JOIN dst d USING (id)"
        ),
        "129999|129999"
    );
    assert_eq!(pg.query("SELECT count(*) FROM dst"), "129999");
}

/// TLS as libpq's sslmode asks, against a cluster of the test's own that refuses plain text:
/// a CA and a server certificate made here (for DNS:localhost only, so 127.0.0.1 is a name
/// mismatch), and a second, unrelated CA.
#[test]
fn tls_modes_against_a_server_that_requires_tls() {
    let certs = tempfile::tempdir().unwrap();
    let c = certs.path();
    sh_in(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=datasync-test-ca 2>/dev/null
         openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca 2>/dev/null
         openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
         printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf 2>/dev/null",
        c,
    );
    let pg = ScratchPg::start_with(|data| {
        std::fs::copy(c.join("server.crt"), data.join("server.crt")).unwrap();
        std::fs::copy(c.join("server.key"), data.join("server.key")).unwrap();
        sh_in("chmod 600 server.key", data);
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
    });
    let run = |params: &str| {
        let reader = format!(
            r#"{{"name": "postgresqlreader", "parameter": {{"username": "postgres", "column": ["x"],
                "connection": [{{"jdbcUrl": ["{}?connectTimeout=5&{params}"], "querySql": ["SELECT 1 AS x"]}}]}}}}"#,
            pg.url("postgres")
        );
        let (o, _t) = run_job(
            "tls",
            &job(
                r#"{"retry": {"count": 0}}"#,
                &reader,
                r#"{"name": "streamwriter", "parameter": {}}"#,
            ),
        );
        o
    };
    let ca = c.join("ca.pem").display().to_string();
    let other = c.join("other.pem").display().to_string();
    for ok in [
        "sslmode=require".to_string(),
        "ssl=true".to_string(),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=require&sslrootcert={ca}"),
    ] {
        let o = run(&ok);
        assert_eq!(code(&o), 0, "{ok}: {}", stderr(&o));
    }
    for (bad, why) in [
        ("sslmode=disable".to_string(), "no encryption"),
        (
            format!("sslmode=verify-full&sslrootcert={ca}"),
            "certificate",
        ),
        (
            format!("sslmode=verify-ca&sslrootcert={other}"),
            "certificate",
        ),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent.pem".to_string(),
            "sslrootcert /nonexistent.pem",
        ),
    ] {
        let o = run(&bad);
        assert_ne!(code(&o), 0, "{bad} must fail");
        assert_stderr_has(&o, why);
    }
}

/// `check --connect` logs in on both sides and says what it found, reading and writing no
/// row: a job that would work passes (exit 0, the column pairs listed); a missing column, a
/// split key that does not exist and a login without INSERT are each a PROBLEM line (exit 1);
/// the preSql is not run.
#[test]
fn check_connect_reports_both_sides_and_touches_nothing() {
    let pg = Pg::new();
    let role = unique("ds_ro");
    pg.query(&format!(
        "CREATE TABLE src (id bigint, name text); INSERT INTO src VALUES (1, 'a');
         CREATE TABLE dst (id bigint, name text); INSERT INTO dst VALUES (9, 'keep');
         CREATE ROLE {role} LOGIN; GRANT SELECT ON src, dst TO {role}"
    ));
    let cols = r#""column": ["id", "name"],"#;
    let good = job(
        "{}",
        &pg_reader(&pg, "src", &format!(r#"{cols} "splitPk": "id","#)),
        &pg_writer(
            &pg,
            "dst",
            &format!(r#"{cols} "preSql": ["DELETE FROM @table"],"#),
        ),
    );
    let t = tempfile::tempdir().unwrap();
    let p = write_job(t.path(), "good", &good);
    let o = run_in(t.path(), &["check", "--connect", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "table src",
        "2 column(s): id int8, name text",
        "splitPk id of src",
        "table dst",
        "INSERT allowed",
        "1 statement(s) run when the job starts (not now)",
        "id int8 -> id int8, name text -> name text",
        "both systems have what the job needs",
    ] {
        assert!(err.contains(want), "{want:?} in {err}");
    }
    assert!(!err.contains("PROBLEM"), "{err}");

    let as_role = |plugin: String| {
        plugin.replace(
            &format!(r#""username": "{}""#, pg_server().user),
            &format!(r#""username": "{role}""#),
        )
    };
    let bad = job(
        "{}",
        &as_role(pg_reader(
            &pg,
            "src",
            &format!(r#"{cols} "splitPk": "nokey","#),
        )),
        &as_role(pg_writer(&pg, "dst", r#""column": ["id", "nosuch"],"#)),
    );
    let p = write_job(t.path(), "bad", &bad);
    let o = run_in(t.path(), &["check", "--connect", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("PROBLEM").count(), 3, "{err}");
    for want in [
        "splitPk nokey of src",
        "columns of dst",
        "\"nosuch\" does not exist",
        "this login may not INSERT into dst",
        "3 problem(s): the job would fail",
    ] {
        assert!(err.contains(want), "{want:?} in {err}");
    }
    // A table the login may not read, a table it may not create, an upsert without a key.
    pg.query("CREATE TABLE hidden (id bigint, name text)");
    let bad2 = job(
        "{}",
        &as_role(pg_reader(&pg, "hidden", cols)),
        &as_role(pg_writer(
            &pg,
            "newtab",
            &format!(r#"{cols} "createTable": true,"#),
        )),
    );
    let p = write_job(t.path(), "bad2", &bad2);
    let o = run_in(t.path(), &["check", "--connect", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("permission denied for table hidden"), "{err}");
    assert!(
        err.contains("not found, and this login may not create it"),
        "{err}"
    );
    let bad3 = job(
        "{}",
        &pg_reader(&pg, "src", cols),
        &pg_writer(&pg, "dst", &format!(r#"{cols} "writeMode": "update","#)),
    );
    let p = write_job(t.path(), "bad3", &bad3);
    let o = run_in(t.path(), &["check", "--connect", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "dst has no key for this write mode to go through");
    // A column pair whose values may not convert is pointed out, without failing the check.
    let mixed = job(
        "{}",
        &pg_reader(&pg, "src", r#""column": ["name"],"#),
        &pg_writer(&pg, "dst", r#""column": ["id"],"#),
    );
    let p = write_job(t.path(), "mixed", &mixed);
    let o = run_in(t.path(), &["check", "--connect", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "column name -> id");
    assert_stderr_has(&o, "text -> int8: values must parse as the target's type");
    // Nothing was read, written or run.
    assert_eq!(pg.query("SELECT count(*), min(name) FROM dst"), "1|keep");
    pg.query(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

/// `batchSize` is the writer's rows per COPY transaction (DataX commits every batchSize rows),
/// also below the engine's batch size; without it a transaction takes up to 65,536 rows. Rows
/// committed together share their `xmin`, so the server tells how many transactions there were.
#[test]
fn batch_size_is_rows_per_transaction() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int); INSERT INTO src SELECT generate_series(1, 1000);
         CREATE TABLE a (id int); CREATE TABLE b (id int);",
    );
    let cols = r#""column": ["id"],"#;
    for (table, extra, transactions) in [("a", r#""batchSize": "100","#, "10"), ("b", "", "1")] {
        let (_, _t) = run_job_ok(
            "bs",
            &job(
                "{}",
                &pg_reader(&pg, "src", cols),
                &pg_writer(&pg, table, &format!("{cols} {extra}")),
            ),
        );
        assert_eq!(
            pg.query(&format!(
                "SELECT count(*), count(DISTINCT id), count(DISTINCT xmin::text) FROM {table}"
            )),
            format!("1000|1000|{transactions}")
        );
    }
    let (o, _t) = run_job(
        "bs0",
        &job(
            "{}",
            &pg_reader(&pg, "src", cols),
            &pg_writer(&pg, "a", r#""column": ["id"], "batchSize": 0,"#),
        ),
    );
    assert_eq!(code(&o), 2);
    assert_stderr_has(&o, "batchSize: must be at least 1");
}

/// Into pre-created narrower columns, values PostgreSQL would change without an error (round a
/// numeric to its scale or a timestamp/time to its precision, drop a time of day into a date,
/// cut trailing spaces past a varchar length, round a number into real) are dirty records;
/// values that fit land unchanged.
#[test]
fn narrower_target_columns_never_change_a_value_silently() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int, n numeric(20,4), ts timestamp(6), tm time(6), d timestamp(6), s text, b bigint);
         INSERT INTO src VALUES
           (1, 1.2000, '2024-12-31 23:59:59', '23:59:59', '2024-01-01 00:00:00', 'ab', 16777216),
           (2, 1.2345, NULL, NULL, NULL, NULL, NULL),
           (3, NULL, '2024-12-31 23:59:59.9', NULL, NULL, NULL, NULL),
           (4, NULL, NULL, '23:59:59.9', NULL, NULL, NULL),
           (5, NULL, NULL, NULL, '2024-01-01 12:34:56', NULL, NULL),
           (6, NULL, NULL, NULL, NULL, 'ab   ', NULL),
           (7, NULL, NULL, NULL, NULL, NULL, 9007199254740993);
         CREATE TABLE dst (id int, n numeric(30,2), ts timestamp(0), tm time(0), d date, s varchar(2), b real);",
    );
    let cols = r#""column": ["id", "n", "ts", "tm", "d", "s", "b"],"#;
    let t = tempfile::tempdir().unwrap();
    let o = copy_with_dirty_file(&pg, t.path(), "narrow", cols);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        pg.query("SELECT id, n, ts, tm, d, s, b FROM dst ORDER BY id"),
        "1|1.20|2024-12-31 23:59:59|23:59:59|2024-01-01|ab|1.6777216e+07"
    );
    let dirty = assert_dirty_rows(
        &t.path().join("d.jsonl"),
        &[
            ("2", "after the column's scale 2"),
            ("3", "fractional second"),
            ("4", "fractional second"),
            ("5", "time of day"),
            ("6", "do not fit the column's 2"),
            ("7", "in real"),
        ],
    );
    assert_eq!(dirty.lines().count(), 6, "{dirty}");
}

/// A real goes into double precision (binary COPY) and numeric as the number it shows (0.1,
/// not the 0.10000000149011612 its bits widen to).
#[test]
fn reals_go_into_wider_columns_as_the_numbers_they_show() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE rsrc (id int PRIMARY KEY, r real);
         INSERT INTO rsrc VALUES (1, 0.1), (2, 1.1), (3, -2.7), (4, 3.4028235e38), (5, 16777217);
         CREATE VIEW src AS SELECT id, r AS d, r AS n FROM rsrc;
         CREATE TABLE dst (id int PRIMARY KEY, d double precision);
         CREATE TABLE dstn (id int PRIMARY KEY, n numeric(50,10));",
    );
    // dst has an encoder for every column (binary COPY); numeric from a real goes as text.
    for (dst, col) in [("dst", "d"), ("dstn", "n")] {
        let cols = format!(r#""column": ["id", "{col}"],"#);
        let (o, _t) = pg_copy(&pg, "reals", "src", dst, &cols);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert_eq!(
        pg.query("SELECT id, d, n FROM dst JOIN dstn USING (id) ORDER BY id"),
        "1|0.1|0.1000000000\n\
         2|1.1|1.1000000000\n\
         3|-2.7|-2.7000000000\n\
         4|3.4028235e+38|340282350000000000000000000000000000000.0000000000\n\
         5|16777216|16777216.0000000000"
    );
}

/// bytea arrays and arrays of BC dates go from PostgreSQL to PostgreSQL unchanged.
#[test]
fn bytea_and_bc_date_arrays_copy_exactly() {
    let pg = Pg::new();
    pg.query(
        r#"CREATE TABLE src (id int, ba bytea[], da date[]);
           INSERT INTO src VALUES (1, ARRAY['\x00ff'::bytea, NULL, ''::bytea, '\x5c22'::bytea], ARRAY['0001-01-01 BC'::date, '2024-02-29', NULL]);
           CREATE TABLE dst (id int, ba bytea[], da date[]);"#,
    );
    let cols = r#""column": ["id", "ba", "da"],"#;
    let (o, _t) = pg_copy(&pg, "arrs", "src", "dst", cols);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 0");
    assert_eq!(
        pg.query(
            "SELECT count(*) FROM src s JOIN dst d ON s.id = d.id AND s.ba = d.ba AND s.da = d.da"
        ),
        "1"
    );
}

/// Rows a unit committed part by part while its bad rows were isolated are counted when the
/// job stops half-way: the error limit tripping in another task, or SIGTERM (which stops the
/// isolation, not only the next unit). The summary's `written` is what the table holds.
#[test]
fn rows_committed_while_isolating_are_counted_when_the_job_stops() {
    let pg = Pg::new();
    pg.query("CREATE TABLE t (id int PRIMARY KEY, code varchar(3), qty int)");
    let t = tempfile::tempdir().unwrap();
    // Four files of 1000 rows, four tasks; five bad rows, errorLimit 2.
    let small = t.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    for f in 0..4u32 {
        let rows: String = (f * 1000 + 1..=(f + 1) * 1000)
            .map(|id| id_code_qty(id, [10, 77, 1500, 2222, 3333].contains(&id)))
            .collect();
        file_in(&small, &format!("part{f}.csv"), rows);
    }
    let writer = pg_writer(&pg, "t", r#""column": ["id", "code", "qty"],"#);
    let setting = r#"{"speed": {"channel": 4}, "errorLimit": {"record": 2}}"#;
    let p = write_job(
        t.path(),
        "limit",
        &job(setting, &all_columns_reader(&small), &writer),
    );
    let o = run_file(t.path(), &p, &["--no-progress"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(written_of(&o), pg.query("SELECT count(*) FROM t"));

    // One task isolating every 50th row of big units when SIGTERM comes.
    pg.query("TRUNCATE t");
    let o = stopped_while_isolating(t.path(), &writer, || {
        pg.query("SELECT count(*) > 0 FROM t") == "t"
    });
    let landed = pg.query("SELECT count(*) FROM t");
    assert_ne!(landed, "0");
    assert_eq!(written_of(&o), landed, "{}", stderr(&o));
}

/// Timestamps are UTC instants on every COPY path: a writer `session` with another TimeZone
/// does not shift them into a timestamptz, also when an inet column sends the rows as text
/// COPY.
#[test]
fn a_session_time_zone_does_not_shift_timestamps_on_text_copy() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int PRIMARY KEY, ts timestamptz, t timestamp, ip text);
         INSERT INTO src VALUES (1, '2024-03-10 12:00:00.5+00', '2024-03-10 12:00:00.5', '10.0.0.1'),
           (2, '0044-03-15 12:00:00+00 BC', '0044-03-15 12:00:00 BC', '10.0.0.2');
         CREATE TABLE dst (id int PRIMARY KEY, ts timestamptz, t timestamp, ip inet)",
    );
    let cols = r#""column": ["id", "ts", "t", "ip"],"#;
    let zoned = format!(r#"{cols} "session": ["SET TimeZone = 'Asia/Tokyo'"],"#);
    let t = tempfile::tempdir().unwrap();
    let p = write_job(
        t.path(),
        "zone",
        &job(
            "{}",
            &pg_reader(&pg, "src", cols),
            &pg_writer(&pg, "dst", &zoned),
        ),
    );
    let o = run_debug(t.path(), &p);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "using text COPY");
    assert_eq!(
        pg.query("SELECT count(*) FROM (SELECT id, ts, t, ip::text FROM src EXCEPT SELECT id, ts, t, host(ip) FROM dst) x"),
        "0"
    );
    assert_eq!(pg.query("SELECT count(*) FROM dst"), "2");
}

/// Text into date/time columns goes in only as plain ISO text the column keeps: words
/// PostgreSQL reads by the clock (now, today, epoch), day/month orders, a dropped offset or
/// zone, a dropped time of day and fraction digits past the column's precision make the row
/// dirty instead of becoming another value.
#[test]
fn text_into_date_and_time_columns_lands_as_written_or_is_dirty() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE dst (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, t0 time(0))",
    );
    let t = tempfile::tempdir().unwrap();
    let reader = csv_star_reader(
        t.path(),
        "1,2024-01-02,2024-01-02 10:00:00.5,2024-01-02 10:00:00+08,12:00:00\n\
         2,today,2024-01-02 10:00:00,2024-01-02 10:00:00Z,12:00:00\n\
         3,2024-01-02,now,2024-01-02 10:00:00Z,12:00:00\n\
         4,2024-01-02,2024-01-02 10:00:00,epoch,12:00:00\n\
         5,01/02/2024,2024-01-02 10:00:00,2024-01-02 10:00:00Z,12:00:00\n\
         6,2024-01-02 23:59:59,2024-01-02 10:00:00,2024-01-02 10:00:00Z,12:00:00\n\
         7,2024-01-02,2024-01-02 10:00:00+05:00,2024-01-02 10:00:00Z,12:00:00\n\
         8,2024-01-02,2024-01-02 10:00:00,2024-01-02 10:00:00 America/New_York,12:00:00\n\
         9,2024-01-02,2024-01-02 10:00:00,2024-01-02 10:00:00Z,12:00:00.4\n\
         10,infinity,-infinity,infinity,23:59:59\n",
    );
    let w = pg_writer(&pg, "dst", r#""column": ["id", "d", "ts", "tz", "t0"],"#);
    let (o, d) = run_job("texttime", &job("{}", &reader, &w));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 8");
    assert_eq!(
        pg.query("SELECT string_agg(id || '|' || d || '|' || ts || '|' || tz || '|' || t0, ',' ORDER BY id) FROM dst"),
        "1|2024-01-02|2024-01-02 10:00:00.5|2024-01-02 02:00:00+00|12:00:00,\
         10|infinity|-infinity|infinity|23:59:59"
    );
    let dirty = std::fs::read_to_string(d.path().join("datasync-dirty-texttime.jsonl")).unwrap();
    for why in [
        "\\\"today\\\" is not a plain date",
        "time of day",
        "time zone offset",
        "fractional second",
    ] {
        assert!(dirty.contains(why), "{why}: {dirty}");
    }
}

/// money keeps the locale's two fraction digits: a number with more is a dirty record, not
/// rounded.
#[test]
fn money_refuses_digits_it_would_round() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int PRIMARY KEY, n numeric, t text, f float8);
         INSERT INTO src VALUES (1, 12.34, '12.34', 0.5), (2, 12.345, '1', 1), (3, 1, '0.001', 2),
           (4, 1, '1', 0.125);
         CREATE TABLE dst (id int PRIMARY KEY, n money, t money, f money)",
    );
    let cols = r#""column": ["id", "n", "t", "f"],"#;
    let (o, _t) = pg_copy(&pg, "money", "src", "dst", cols);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 3");
    assert_eq!(
        pg.query("SELECT string_agg(id || '|' || n::numeric || '|' || t::numeric || '|' || f::numeric, ',') FROM dst"),
        "1|12.34|12.34|0.50"
    );
}

/// A binary value into a text column goes in as the UTF-8 text it holds (not bytea's `\x`
/// hex), on binary and text COPY alike; one that is not UTF-8, or holds a NUL, is dirty.
#[test]
fn binary_into_text_columns_lands_as_its_text_or_is_dirty() {
    let my = MariaDb::new();
    my.exec(
        "CREATE TABLE src (id INT PRIMARY KEY, b VARBINARY(10));
         INSERT INTO src VALUES (1, 0xC3A9), (2, 0xFF), (3, 0x610062), (4, 0x6F6B)",
    );
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE plain (id int PRIMARY KEY, b text);
         CREATE TABLE mixed (id int PRIMARY KEY, b varchar(5), ip inet)",
    );
    for (table, cols) in [
        ("plain", r#""column": ["id", "b"],"#),
        ("mixed", r#""column": ["id", "b", "ip"],"#),
    ] {
        let src_cols = if table == "plain" {
            r#""column": ["id", "b"],"#
        } else {
            r#""column": ["id", "b", "'10.0.0.1'"],"#
        };
        let r = format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, {src_cols}
                "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
            mysql_server().login(),
            my.url()
        );
        let (o, _t) = run_job(table, &job("{}", &r, &pg_writer(&pg, table, cols)));
        assert_eq!(code(&o), 0, "{table}: {}", stderr(&o));
        assert_stderr_has(&o, "dirty 2");
        assert_eq!(
            pg.query(&format!(
                "SELECT string_agg(id || ':' || b, ',' ORDER BY id) FROM {table}"
            )),
            "1:é,4:ok",
            "{table}"
        );
    }
}

/// inet is read as PostgreSQL prints it (psql, DataX): a single host without `/32`.
#[test]
fn inet_reads_as_postgresql_prints_it() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int PRIMARY KEY, ip inet);
         INSERT INTO src VALUES (1, '10.0.0.1'), (2, '10.0.0.0/8'), (3, '::1'), (4, '192.168.0.1/24')",
    );
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let w = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o", "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
        out.display()
    );
    run_job_ok(
        "inet",
        &job(
            "{}",
            &pg_reader(&pg, "src", r#""column": ["id", "ip"],"#),
            &w,
        ),
    );
    let mut lines = lines_in(&out);
    lines.sort();
    assert_eq!(
        lines,
        ["1,10.0.0.1", "2,10.0.0.0/8", "3,::1", "4,192.168.0.1/24"]
    );
}

/// `column: ["*"]` fed by a reader whose names are not the target's (a text file's `c0`,
/// `c1`) writes by position into the target's first columns, as the mysql writer and DataX
/// do, with a warning; more reader columns than the target has is refused.
#[test]
fn star_columns_from_a_text_file_write_by_position() {
    let pg = Pg::new();
    pg.query("CREATE TABLE dst (id int PRIMARY KEY, v text, extra text DEFAULT 'd'); CREATE TABLE narrow (id int)");
    let t = tempfile::tempdir().unwrap();
    let reader = csv_star_reader(t.path(), "1,a\n2,b\n");
    let (o, _t) = run_job_ok(
        "star",
        &job("{}", &reader, &pg_writer(&pg, "dst", r#""column": ["*"],"#)),
    );
    assert_stderr_has(&o, "written by position into its first 2 columns");
    assert_eq!(
        pg.query("SELECT string_agg(id || v || extra, ',' ORDER BY id) FROM dst"),
        "1ad,2bd"
    );
    // Names equal but for letter case (a MySQL reader's aliases) go by name.
    pg.query("CREATE TABLE named (id int, name text, val int)");
    let my = MariaDb::new();
    my.exec(
        "CREATE TABLE s (id INT, name VARCHAR(5), val INT); INSERT INTO s VALUES (1, 'n1', 1000)",
    );
    let mr = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "connection": [{{"jdbcUrl": ["{}"],
            "querySql": ["SELECT val AS VAL, name AS NAME, id AS ID FROM s"]}}]}}}}"#,
        mysql_server().login(),
        my.url()
    );
    run_job_ok(
        "cased",
        &job("{}", &mr, &pg_writer(&pg, "named", r#""column": ["*"],"#)),
    );
    assert_eq!(pg.query("SELECT id || name || val FROM named"), "1n11000");
    let (o, _t) = run_job(
        "narrow",
        &job(
            "{}",
            &reader,
            &pg_writer(&pg, "narrow", r#""column": ["*"],"#),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "by position its 1 column(s) do not hold them");
}

/// Text the server would read its own way is dirty: hex into a float, money with a
/// separator, words and leap seconds into times (with and without zone).
#[test]
fn text_read_by_the_servers_own_rules_is_dirty() {
    let pg = Pg::new();
    pg.query("CREATE TABLE dst (id int PRIMARY KEY, r real, m money, tt timetz, t time)");
    let t = tempfile::tempdir().unwrap();
    let reader = csv_star_reader(
        t.path(),
        "1,0x10,1,10:00:00+09,10:00:00\n2,1.5,\"1,5\",10:00:00+09,10:00:00\n\
         3,1.5,1,now,10:00:00\n4,1.5,1,10:00:00+09,23:59:60\n\
         5,NaN,12.34,10:00:00.5+09,24:00:00\n6,-1.5e3,0.5,10:00:00Z,00:00:00\n",
    );
    let w = pg_writer(&pg, "dst", r#""column": ["id", "r", "m", "tt", "t"],"#);
    let (o, _d) = run_job("own_rules", &job("{}", &reader, &w));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 4");
    assert_eq!(
        pg.query("SELECT string_agg(id || '|' || r || '|' || m::numeric || '|' || tt || '|' || t, ',' ORDER BY id) FROM dst"),
        "5|NaN|12.34|10:00:00.5+09|24:00:00,6|-1500|0.50|10:00:00+00|00:00:00"
    );
}

/// Rows a trigger drops without an error (a BEFORE trigger returning NULL) fail the job
/// instead of being reported as written: the unit is rolled back.
#[test]
fn rows_a_trigger_drops_fail_the_unit() {
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE src (id int PRIMARY KEY, v text);
         INSERT INTO src SELECT g, 'v' || g FROM generate_series(1, 100) g;
         CREATE TABLE dst (id int PRIMARY KEY, v text);
         CREATE FUNCTION odd_out() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN IF NEW.id % 2 = 1 THEN RETURN NULL; END IF; RETURN NEW; END$$;
         CREATE TRIGGER odd_out BEFORE INSERT ON dst FOR EACH ROW EXECUTE FUNCTION odd_out()",
    );
    for mode in ["insert", "update"] {
        let cols = r#""column": ["id", "v"],"#;
        let w = pg_writer(&pg, "dst", &format!(r#"{cols} "writeMode": "{mode}","#));
        let (o, _t) = run_job(mode, &job("{}", &pg_reader(&pg, "src", cols), &w));
        assert_eq!(code(&o), 1, "{mode}: {}", stderr(&o));
        assert_stderr_has(
            &o,
            "the table took 50 of the unit's 100 rows without an error",
        );
        assert_eq!(pg.query("SELECT count(*) FROM dst"), "0", "{mode}");
    }
}
