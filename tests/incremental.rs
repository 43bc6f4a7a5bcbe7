//! Incremental reads (`incremental: {column, state}` on SQL readers): each run reads the rows
//! above the last committed watermark up to the high-water mark read when it began; the
//! watermark moves only after the writer's commit succeeded, so a failed or killed run is
//! repeated by the next one. Checked with SQL on the targets and the state file itself.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn state(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state/orders.json")).unwrap()).unwrap()
}

/// MySQL `orders` -> PostgreSQL `orders` (upsert), incremental on updated_at, in `dir`.
fn mysql_to_pg_job(db: &MariaDb, pg: &Pg, setting: &str, post_sql: &str) -> String {
    job(
        setting,
        &format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "v", "updated_at"],
                "splitPk": "id",
                "incremental": {{"column": "updated_at", "state": "file:state/orders.json"}},
                "connection": [{{"jdbcUrl": ["{}"], "table": ["orders"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
        &format!(
            r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "v", "updated_at"],
                "writeMode": "update", "postSql": [{post_sql}],
                "connection": [{{"jdbcUrl": "{}", "table": ["orders"]}}]}}}}"#,
            pg_server().login(),
            pg.url()
        ),
    )
}

fn run_here(dir: &Path, name: &str, text: &str, extra: &[&str]) -> std::process::Output {
    let p = write_job(dir, name, text);
    let mut args = vec![
        "run",
        p.to_str().unwrap(),
        "--no-progress",
        "--report",
        "report.json",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

#[test]
fn three_runs_take_inserts_and_updates_once_and_failed_or_killed_runs_repeat_their_window() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, v VARCHAR(20), updated_at DATETIME(6));
         INSERT INTO orders SELECT seq, CONCAT('v', seq), '2026-01-01 00:00:00' + INTERVAL seq SECOND
           FROM seq_1_to_50;",
    );
    let pg = Pg::new();
    pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, v text, updated_at timestamp(6))");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let text = mysql_to_pg_job(&db, &pg, r#"{"speed": {"channel": 3}}"#, "");

    // Run 1: everything.
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 50);
    assert_eq!(pg.query("SELECT count(*) FROM orders"), "50");
    assert_eq!(state(dir)["values"]["orders"], "2026-01-01 00:00:50.000000");
    assert_eq!(state(dir)["column"], "updated_at");

    // Run 2: two inserts and one update, and a row changed without moving updated_at (not
    // read: the column says what changed).
    db.exec(
        "INSERT INTO orders VALUES (51, 'new51', '2026-01-02 00:00:00'), (52, 'new52', '2026-01-02 00:00:01');
         UPDATE orders SET v = 'changed', updated_at = '2026-01-02 00:00:02' WHERE id = 7;
         UPDATE orders SET v = 'silent' WHERE id = 8;",
    );
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        report(dir)["records_read"],
        4,
        "3 changed rows and the one at the watermark"
    );
    assert_eq!(pg.query("SELECT count(*) FROM orders"), "52");
    assert_eq!(pg.query("SELECT v FROM orders WHERE id = 7"), "changed");
    assert_eq!(pg.query("SELECT v FROM orders WHERE id = 8"), "v8");
    assert_eq!(state(dir)["values"]["orders"], "2026-01-02 00:00:02.000000");

    // Run 3: nothing new; the watermark stays (and the rows at it are read again: more rows
    // could have come with the same updated_at; the upsert keeps them once).
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        report(dir)["records_read"],
        1,
        "updated_at is not unique: the row at the watermark again"
    );
    assert_eq!(state(dir)["values"]["orders"], "2026-01-02 00:00:02.000000");

    // A run whose postSql fails after its rows were committed fails saying so, and moves the
    // watermark: the committed rows are not read again (an insert target would double them).
    db.exec("INSERT INTO orders VALUES (53, 'new53', '2026-01-03 00:00:00');");
    let failing = mysql_to_pg_job(&db, &pg, "{}", r#""SELECT no_such_function()""#);
    let o = run_here(dir, "orders", &failing, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the data is committed, but writer postgres then failed");
    assert_eq!(state(dir)["values"]["orders"], "2026-01-03 00:00:00.000000");
    assert_eq!(pg.query("SELECT count(*) FROM orders WHERE id = 53"), "1");
    let before = std::fs::read_to_string(dir.join("state/orders.json")).unwrap();
    // A run killed (SIGKILL) in the middle leaves it too.
    db.exec(
        "INSERT INTO orders SELECT seq, 'late', '2026-01-04 00:00:00' + INTERVAL (seq - 100) SECOND FROM seq_100_to_109;",
    );
    let slow = mysql_to_pg_job(&db, &pg, r#"{"speed": {"record": 4}}"#, "");
    let p = write_job(dir, "orders", &slow);
    let mut child = spawn(dir, &["run", p.to_str().unwrap(), "--no-progress"], &[]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished before the kill"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("state/orders.json")).unwrap(),
        before
    );
    // The next run takes the killed run's window: the ten late ones (and 53 at the mark).
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 11);
    assert_eq!(pg.query("SELECT count(*) FROM orders"), "63");
    assert_eq!(state(dir)["values"]["orders"], "2026-01-04 00:00:09.000000");

    // --full reads every row again (an upsert: nothing doubles) and keeps the watermark.
    let o = run_here(dir, "orders", &text, &["--full"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 63);
    assert_eq!(pg.query("SELECT count(*) FROM orders"), "63");
    assert_eq!(state(dir)["values"]["orders"], "2026-01-04 00:00:09.000000");

    // datasync state: show, set (the next run reads above it), reset.
    let p = write_job(dir, "orders", &text);
    let job_arg = p.to_str().unwrap();
    let o = run_in(dir, &["state", "show", job_arg]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["values"]["orders"], "2026-01-04 00:00:09.000000");
    let o = run_in(dir, &["state", "set", job_arg, "2026-01-04 00:00:04"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 6);
    let o = run_in(dir, &["state", "reset", job_arg]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!dir.join("state/orders.json").exists());
    let o = run_in(dir, &["state", "show", job_arg]);
    assert_eq!(code(&o), 0);
    assert_stderr_has(&o, "no watermark");
}

#[test]
fn postgres_source_on_an_integer_column_in_runs_and_shards_and_what_is_refused() {
    let pg = Pg::new();
    pg.query("CREATE TABLE events (id bigint PRIMARY KEY, payload text); INSERT INTO events SELECT g, 'p' || g FROM generate_series(1, 30) g;");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let reader = |extra: &str| {
        format!(
            r#"{{"name": "postgresqlreader", "parameter": {{{}, "column": ["id", "payload"],
                "incremental": {{"column": "id", "state": "file:state/events.json"}} {extra},
                "connection": [{{"jdbcUrl": ["{}"], "table": ["events"]}}]}}}}"#,
            pg_server().login(),
            pg.url()
        )
    };
    let writer = r#"{"name": "txtfilewriter", "parameter": {"path": "out", "fileName": "e", "writeMode": "append", "fileFormat": "csv"}}"#;
    let text = job("{}", &reader(""), writer);
    let o = run_here(dir, "events", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 30);
    pg.query("INSERT INTO events SELECT g, 'p' || g FROM generate_series(31, 35) g; DELETE FROM events WHERE id < 10;");
    let o = run_here(dir, "events", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 5);
    let st: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/events.json")).unwrap())
            .unwrap();
    assert_eq!(st["values"]["events"], "35");
    let lines: usize = visible_files(&dir.join("out"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert_eq!(lines, 35, "each row once");

    // Refused before anything runs.
    let o = run_here(dir, "events", &text, &["--run-id", "r1", "--resume"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "cannot be resumed");

    // Container-task mode: the plan fixes the window, every shard reads it, and only the
    // commit moves the watermark.
    pg.query("INSERT INTO events SELECT g, 'p' || g FROM generate_series(36, 47) g;");
    let sharded = job(
        r#"{"speed": {"channel": 4}}"#,
        &reader(r#", "splitPk": "id""#),
        writer,
    );
    let jp = write_job(dir, "events_sharded", &sharded);
    let jp = jp.to_str().unwrap();
    let o = run_in(dir, &["plan", jp, "--shards", "2", "--out", "plan"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A row that arrives after planning belongs to the next run.
    pg.query("INSERT INTO events VALUES (48, 'after the plan');");
    for s in ["0/2", "1/2"] {
        let o = run_in(dir, &["run", jp, "--plan", "plan", "--shard", s]);
        assert_eq!(code(&o), 0, "shard {s}: {}", stderr(&o));
    }
    let st = |dir: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/events.json")).unwrap())
            .unwrap()
    };
    assert_eq!(st(dir)["values"]["events"], "35", "moved before the commit");
    let o = run_in(dir, &["commit", "plan"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(st(dir)["values"]["events"], "47");
    let o = run_here(dir, "events", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        report(dir)["records_read"],
        1,
        "only the row after the plan"
    );
    let lines: usize = visible_files(&dir.join("out"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert_eq!(lines, 48, "each row once");
    let bad = job(
        "{}",
        &reader("").replace("file:state/events.json", "s3://bucket/state.json"),
        writer,
    );
    let o = run_in(
        dir,
        &["check", write_job(dir, "bad", &bad).to_str().unwrap()],
    );
    assert_eq!(code(&o), 2);
    assert_stderr_has(&o, "incremental.state");
    let query = job(
        "{}",
        &reader("").replace(
            r#""table": ["events"]"#,
            r#""querySql": ["SELECT id, payload FROM events"]"#,
        ),
        writer,
    );
    let o = run_in(
        dir,
        &["check", write_job(dir, "q", &query).to_str().unwrap()],
    );
    assert_eq!(code(&o), 2);
    assert_stderr_has(&o, "not querySql");
    // A state table in PostgreSQL (made on first use, one row per key).
    let tabled = job(
        "{}",
        &reader("").replace("file:state/events.json", "table:public.ds_watermarks"),
        r#"{"name": "streamwriter", "parameter": {"print": false}}"#,
    );
    let o = run_here(dir, "tabled", &tabled, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        pg.query(&format!(
            "SELECT state_key = 'postgres://{}/{}.public.events:id', state::json->'values'->>'events' FROM ds_watermarks",
            pg_server().addr(),
            pg.name
        )),
        "t|48"
    );
    let o = run_here(dir, "tabled", &tabled, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 0);
    // A job without incremental has no state to show.
    let plain = job(
        "{}",
        &reader("").replace(
            r#""incremental": {"column": "id", "state": "file:state/events.json"} "#,
            "",
        ),
        writer,
    );
    let o = run_in(
        dir,
        &[
            "state",
            "show",
            write_job(dir, "plain", &plain).to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_state_table_in_the_source_database_keeps_the_watermark() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, v VARCHAR(20)); INSERT INTO orders SELECT seq, 'a' FROM seq_1_to_20;");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let text = job(
        r#"{"speed": {"channel": 2}}"#,
        &format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "v"], "splitPk": "id",
                "incremental": {{"column": "id", "state": "table:ds_watermarks"}},
                "connection": [{{"jdbcUrl": ["{}"], "table": ["orders"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
        r#"{"name": "txtfilewriter", "parameter": {"path": "out", "fileName": "o", "writeMode": "append", "fileFormat": "csv"}}"#,
    );
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 20);
    // One row, keyed by server, database, table and column.
    let row = |db: &MariaDb| {
        db.query(&format!(
            "SELECT state_key = 'mysql://{}/{}.orders:id', JSON_VALUE(state, '$.values.orders') FROM ds_watermarks",
            mysql_server().addr(),
            db.name
        ))
    };
    assert_eq!(row(&db), "1\t20");
    db.exec("INSERT INTO orders SELECT seq, 'b' FROM seq_21_to_26;");
    let o = run_here(dir, "orders", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 6);
    assert_eq!(row(&db), "1\t26");
    let jp = write_job(dir, "orders", &text);
    let o = run_in(dir, &["state", "show", jp.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["values"]["orders"], "26");
    let o = run_in(dir, &["state", "reset", jp.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(db.query("SELECT COUNT(*) FROM ds_watermarks"), "0");
}

#[test]
fn file_reader_modified_since_reads_new_and_changed_files_once() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let put = |name: &str, text: &str, ago_secs: i64| {
        let p = dir.join("in").join(name);
        std::fs::write(&p, text).unwrap();
        let when = if ago_secs >= 0 {
            std::time::SystemTime::now() - std::time::Duration::from_secs(ago_secs as u64)
        } else {
            std::time::SystemTime::now() + std::time::Duration::from_secs((-ago_secs) as u64)
        };
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(when)
            .unwrap();
    };
    put("a.csv", "1\n2\n", 100);
    put("b.csv", "3\n", 50);
    let text = job(
        "{}",
        r#"{"name": "txtfilereader", "parameter": {"path": ["in/*.csv"], "fileFormat": "csv",
            "column": [{"index": 0, "type": "long"}], "modifiedSince": {"state": "file:state/files.json"}}}"#,
        r#"{"name": "txtfilewriter", "parameter": {"path": "out", "fileName": "o", "writeMode": "append", "fileFormat": "csv"}}"#,
    );
    let o = run_here(dir, "files", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 3);
    let mark = |dir: &Path| -> String {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("state/files.json")).unwrap())
                .unwrap();
        v["values"]["files"].as_str().unwrap().to_string()
    };
    let first = mark(dir);
    // A new file, a file rewritten (read whole again), one copied in with an old time (not
    // read: its time is before the mark) and one dated in the future (left for later).
    put("c.csv", "4\n5\n", 10);
    put("a.csv", "1\n2\n6\n", 5);
    put("old.csv", "7\n", 1000);
    put("future.csv", "8\n", -86_400);
    let o = run_here(dir, "files", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 5, "c.csv and the new a.csv");
    assert_stderr_has(&o, "modified in the future");
    let second = mark(dir);
    assert!(second > first, "{first} -> {second}");
    // Nothing new: nothing read, the mark stays.
    let o = run_here(dir, "files", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 0);
    assert_eq!(mark(dir), second);
    // A failed run (the writer cannot write) leaves the mark.
    put("d.csv", "9\n", 5);
    std::fs::write(
        dir.join("blocked"),
        "a file where the writer wants a directory",
    )
    .unwrap();
    let failing = text.replace(r#""path": "out""#, r#""path": "blocked/out""#);
    let o = run_here(dir, "files", &failing, &[]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(mark(dir), second);
    let o = run_here(dir, "files", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 1, "d.csv, once");
    // --full reads every file not in the future.
    let o = run_here(dir, "files", &text, &["--full"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        report(dir)["records_read"],
        8,
        "a, b, c, old and d; not future"
    );
    // hdfsreader's text path takes the same key, and the same state goes on.
    let hdfs = text
        .replace(r#""txtfilereader""#, r#""hdfsreader""#)
        .replace(
            r#"["in/*.csv"], "fileFormat": "csv""#,
            r#"["in/*.csv"], "fileType": "csv""#,
        );
    let o = run_here(dir, "files", &hdfs, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 0, "nothing new");
    put("e.csv", "10\n", 5);
    let o = run_here(dir, "files", &hdfs, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 1, "e.csv");
    // `state set` takes only a modification time for a file reader's mark.
    let before = mark(dir);
    let p = write_job(dir, "files", &text);
    let o = run_in(dir, &["state", "set", p.to_str().unwrap(), "garbage"]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "is not a modification time");
    assert_eq!(mark(dir), before);
    // Nor one in the future: no file would be read until then.
    let o = run_in(
        dir,
        &["state", "set", p.to_str().unwrap(), "2999-01-01T00:00:00Z"],
    );
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "is in the future");
    assert_eq!(mark(dir), before);
    let o = run_in(
        dir,
        &["state", "set", p.to_str().unwrap(), "2026-01-31T00:00:00Z"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(mark(dir), "2026-01-31T00:00:00Z");
    // A path added to the job: its files older than the mark would never be read, so the run
    // is refused, naming both path lists; `state set` with the new job settles it.
    std::fs::create_dir_all(dir.join("more")).unwrap();
    let older = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_748_736_000); // 2025-06-01
    std::fs::write(dir.join("more/x.csv"), "11\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(dir.join("more/x.csv"))
        .unwrap()
        .set_modified(older)
        .unwrap();
    let wider = text.replace(r#"["in/*.csv"]"#, r#"["in/*.csv", "more/*.csv"]"#);
    let o = run_here(dir, "wider", &wider, &[]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        &format!(
            "holds a mark for the inputs [{d}/in/*.csv], and this job reads [{d}/in/*.csv, \
             {d}/more/*.csv]",
            d = dir.display()
        ),
    );
    assert_eq!(mark(dir), "2026-01-31T00:00:00Z");
    let pw = write_job(dir, "wider", &wider);
    let o = run_in(
        dir,
        &["state", "set", pw.to_str().unwrap(), "2025-01-01T00:00:00Z"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_here(dir, "wider", &wider, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        report(dir)["records_read"],
        10,
        "every file of in/ but the future one, and more/x.csv"
    );
    // Back to fewer paths: nothing new to miss.
    let o = run_here(dir, "files", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 0);
    // `check --connect` looks at the state file too, writing nothing.
    let o = run_in(dir, &["check", "--connect", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "holds the committed watermark");
    let blocked = write_job(
        dir,
        "blocked_state",
        &text.replace("file:state/files.json", "file:blocked/files.json"),
    );
    let o = run_in(dir, &["check", "--connect", blocked.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "is not a directory");
}

/// A MySQL -> stream job reading `table` incrementally on `column`, state in `state`.
fn mysql_job(db: &MariaDb, tables: &str, columns: &str, column: &str, state: &str) -> String {
    job(
        "{}",
        &format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": {columns},
                "incremental": {{"column": "{column}", "state": "{state}"}},
                "connection": [{{"jdbcUrl": ["{}"], "table": {tables}}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
        r#"{"name": "streamwriter", "parameter": {"print": false}}"#,
    )
}

#[test]
fn the_server_orders_watermarks_each_table_keeps_its_own_and_nulls_are_read_once() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE dec_t (id INT PRIMARY KEY, n DECIMAL(25,2));
         INSERT INTO dec_t VALUES (1, 9.50), (2, 99999999999999.50);
         CREATE TABLE ci_t (k VARCHAR(10) COLLATE utf8mb4_general_ci);
         INSERT INTO ci_t VALUES ('a'), ('b'), (NULL);
         CREATE TABLE f_t (f FLOAT); INSERT INTO f_t VALUES (0.1);
         CREATE TABLE s_0 (id INT PRIMARY KEY); INSERT INTO s_0 VALUES (1), (2), (3);
         CREATE TABLE s_1 (id INT PRIMARY KEY); INSERT INTO s_1 VALUES (1);",
    );
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let read = |text: &str| -> i64 {
        let o = run_here(dir, "j", text, &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        report(dir)["records_read"].as_i64().unwrap()
    };
    // Decimals compare as numbers, past a power of ten too.
    let dec = mysql_job(
        &db,
        r#"["dec_t"]"#,
        r#"["id", "n"]"#,
        "n",
        "file:state/dec.json",
    );
    assert_eq!(read(&dec), 2);
    db.exec("INSERT INTO dec_t VALUES (3, 100000000000000.25);");
    assert_eq!(
        read(&dec),
        2,
        "the new row and the one at the mark (n is not unique)"
    );
    // A case-insensitive collation orders as the server orders; a NULL is read by the
    // first run only.
    let ci = mysql_job(&db, r#"["ci_t"]"#, r#"["k"]"#, "k", "file:state/ci.json");
    assert_eq!(read(&ci), 3, "a, b and the NULL");
    db.exec("INSERT INTO ci_t VALUES ('C'), ('D'), (NULL);");
    assert_eq!(read(&ci), 3, "b (at the mark), C and D; not the new NULL");
    // Digits in a text column stay text: "9" is above "10".
    db.exec("CREATE TABLE v_t (k VARCHAR(5)); INSERT INTO v_t VALUES ('9'), ('10');");
    let v = mysql_job(&db, r#"["v_t"]"#, r#"["k"]"#, "k", "file:state/v.json");
    assert_eq!(read(&v), 2);
    db.exec("INSERT INTO v_t VALUES ('95'), ('100');");
    assert_eq!(
        read(&v),
        2,
        "9 (at the mark) and 95; not 100, which sorts before 9"
    );
    // A column of NULLs only is read once, not by every run.
    db.exec("CREATE TABLE n_t (u INT); INSERT INTO n_t VALUES (NULL), (NULL);");
    let n = mysql_job(&db, r#"["n_t"]"#, r#"["u"]"#, "u", "file:state/n.json");
    assert_eq!(read(&n), 2);
    assert_eq!(read(&n), 0);
    db.exec("INSERT INTO n_t VALUES (7);");
    assert_eq!(read(&n), 1);
    // Floating point cannot be a watermark.
    let f = mysql_job(&db, r#"["f_t"]"#, r#"["f"]"#, "f", "file:state/f.json");
    let o = run_here(dir, "j", &f, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "floating-point");
    // Sharded tables each keep their own mark (ids are unique: nothing read twice).
    let sh = mysql_job(
        &db,
        r#"["s_[0-1]"]"#,
        r#"["id"]"#,
        "id",
        "file:state/s.json",
    );
    assert_eq!(read(&sh), 4);
    db.exec("INSERT INTO s_1 VALUES (2), (3), (4);");
    assert_eq!(read(&sh), 3);
    let st: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/s.json")).unwrap()).unwrap();
    assert_eq!(st["values"], serde_json::json!({"s_0": "3", "s_1": "4"}));
    // A state that cannot be written stops the run before it reads anything.
    std::fs::write(dir.join("blocked"), "").unwrap();
    let blocked = mysql_job(&db, r#"["s_0"]"#, r#"["id"]"#, "id", "file:blocked/s.json");
    let o = run_here(dir, "j", &blocked, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "cannot be written");
    assert_eq!(report(dir)["records_read"], 0);
    // State-table keys compare exactly (MySQL's default collation ignores case).
    db.exec(
        "CREATE TABLE Ev (id INT PRIMARY KEY); INSERT INTO Ev VALUES (100);
             CREATE TABLE ev (id INT PRIMARY KEY); INSERT INTO ev VALUES (5);",
    );
    let upper = mysql_job(&db, r#"["Ev"]"#, r#"["id"]"#, "id", "table:ds_state");
    let lower = mysql_job(&db, r#"["ev"]"#, r#"["id"]"#, "id", "table:ds_state");
    assert_eq!(read(&upper), 1);
    assert_eq!(read(&lower), 1, "ev has its own key");
    assert_eq!(db.query("SELECT COUNT(*) FROM ds_state"), "2");
}

#[test]
fn timestamptz_marks_compare_as_instants_whatever_the_session_zone() {
    let pg = Pg::new();
    pg.query("CREATE TABLE ev (id int, at timestamptz); INSERT INTO ev VALUES (1, '2024-11-03 05:30:00Z');");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "postgresqlreader", "parameter": {{{}, "column": ["id"],
                "session": ["SET TIME ZONE 'America/New_York'"],
                "incremental": {{"column": "at", "state": "file:state/ev.json", "inclusive": false}},
                "connection": [{{"jdbcUrl": ["{}"], "table": ["ev"]}}]}}}}"#,
            pg_server().login(),
            pg.url()
        ),
        r#"{"name": "streamwriter", "parameter": {"print": false}}"#,
    );
    let o = run_here(dir, "ev", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // NaN would freeze a watermark: refused.
    pg.query("CREATE TABLE nan_t (v numeric); INSERT INTO nan_t VALUES (1), ('NaN');");
    let nan = text
        .replace(r#""table": ["ev"]"#, r#""table": ["nan_t"]"#)
        .replace(r#""column": "at""#, r#""column": "v""#)
        .replace("file:state/ev.json", "file:state/nan.json");
    let o = run_here(dir, "nan", &nan, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "nothing compares above it");
    // 06:10Z prints as 01:10-05, "before" 01:30-04 as text.
    pg.query("INSERT INTO ev VALUES (2, '2024-11-03 06:10:00Z');");
    let o = run_here(dir, "ev", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 1);
}

/// The same through `hdfsreader`, the front that picks the Parquet reader by `fileType`.
#[test]
fn parquet_reader_modified_since_reads_only_new_files() {
    for reader in ["parquet", "hdfsreader"] {
        parquet_modified_since(reader);
    }
}

fn parquet_modified_since(reader: &str) {
    let file_type = match reader {
        "hdfsreader" => r#""fileType": "parquet","#,
        _ => "",
    };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let table = dir.join("tbl");
    std::fs::create_dir_all(&table).unwrap();
    let write = |name: &str, ids: &str| {
        run_python(
            "import os, sys, time, pyarrow as pa, pyarrow.parquet as pq\n\
             pq.write_table(pa.table({'id': [int(x) for x in sys.argv[2].split(',')]}), sys.argv[1])\n\
             t = time.time() - 10\n\
             os.utime(sys.argv[1], (t, t))",
            &[table.join(name).to_str().unwrap(), ids],
        );
    };
    write("a.parquet", "1,2,3");
    write("b.parquet", "4");
    let text = job(
        "{}",
        &format!(
            r#"{{"name": "{reader}", "parameter": {{"path": "{}", "column": ["*"],
                {file_type} "modifiedSince": {{"state": "file:state/tbl.json"}}}}}}"#,
            table.display()
        ),
        r#"{"name": "streamwriter", "parameter": {"print": false}}"#,
    );
    let o = run_here(dir, "tbl", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 4, "{reader}");
    assert!(
        dir.join("state/tbl.json").exists(),
        "{reader}: the watermark is recorded"
    );
    // Nothing new: an empty run, not an error.
    let o = run_here(dir, "tbl", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 0, "{reader}");
    std::thread::sleep(std::time::Duration::from_millis(20));
    write("c.parquet", "5,6");
    let o = run_here(dir, "tbl", &text, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 2);
    // The partition filter is part of what the mark covers: without it (or with other
    // values) older partitions would be skipped, so the run is refused.
    for part in ["dt=1", "dt=2"] {
        std::fs::create_dir_all(dir.join("parted").join(part)).unwrap();
        write(&format!("../parted/{part}/p.parquet"), "7");
    }
    let whole = text
        .replace(
            &table.display().to_string(),
            &dir.join("parted").display().to_string(),
        )
        .replace("tbl.json", "parted.json");
    let parted = whole.replace(
        r#""column": ["*"],"#,
        r#""column": ["*"], "partition": {"dt": "2"},"#,
    );
    let o = run_here(dir, "parted", &parted, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(report(dir)["records_read"], 1, "{reader}: dt=2 only");
    let o = run_here(dir, "parted", &whole, &[]);
    assert_ne!(code(&o), 0, "{reader}: {}", stderr(&o));
    assert_stderr_has(&o, "partition filter: dt=2]");
}
