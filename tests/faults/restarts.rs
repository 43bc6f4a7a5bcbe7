//! SQL servers restarting, crashing, cut or slow under the readers and writers; signals.

use super::*;

/// Throttled so the server restart surely lands mid-write; units of 500 rows.
const SLOW: &str = r#"{"speed": {"record": 4000}, "batch": {"rows": 500}, "retry": {"count": 0}}"#;

/// Runs `job` while `restart` kills and restarts the target once `landed()` shows rows
/// arriving; returns the job's output.
fn run_through_a_restart(
    t: &Path,
    job_text: &str,
    landed: impl Fn() -> u64,
    restart: impl FnOnce(),
) -> std::process::Output {
    let p = write_job(t, "restart", job_text);
    let child = spawn(t, &["run", p.to_str().unwrap(), "--no-progress"], &[]);
    wait_for("rows landing before the restart", || landed() > 0);
    restart();
    wait_or_hang(child, Duration::from_secs(180))
}

/// One target-restart case: runs `writer` (into `table` with `mode`) over `rows` rows while
/// `restart` restarts the server once rows land, then judges it with `sql` (a query on the
/// target, `|`-separated, `None` while it does not answer): never a row twice; a success
/// reconnected and holds every row once; a failure is only insert mode refusing to replay a
/// cut-off COMMIT, saying what it had committed. `concat` is the dialect's `'n'` || `id`.
#[allow(clippy::too_many_arguments)]
fn restart_case(
    t: &Path,
    setting: &str,
    writer: &str,
    (table, mode): (&str, &str),
    rows: usize,
    sql: &dyn Fn(&str) -> Option<String>,
    concat: &str,
    restart: &dyn Fn(),
) {
    let input = id_rows(t, rows);
    let o = run_through_a_restart(
        t,
        &job(setting, &id_reader(&input), writer),
        || {
            sql(&format!("SELECT COUNT(*) FROM {table}"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        },
        restart,
    );
    let e = stderr(&o);
    let dupes = sql(&format!(
        "SELECT COUNT(*) FROM (SELECT id FROM {table} GROUP BY id HAVING COUNT(*) > 1) x"
    ));
    assert_eq!(dupes.as_deref(), Some("0"), "{mode}: no row twice; {e}");
    if code(&o) == 0 {
        assert!(e.contains("reconnected after"), "{mode}: {e}");
        assert_eq!(
            sql(&format!(
                "SELECT COUNT(*), SUM(id), SUM(CASE WHEN name = {concat} THEN 1 ELSE 0 END) FROM {table}"
            )),
            Some(format!("{rows}|{}|{rows}", rows * (rows + 1) / 2)),
            "{mode}: every row once"
        );
    } else {
        assert_eq!(mode, "insert", "{e}");
        assert!(
            e.contains("may or may not have landed") && e.contains("committed before"),
            "{e}"
        );
    }
}

#[test]
fn mysql_target_restarting_mid_write_gets_every_row_once() {
    let srv = ScratchMariaDb::start("");
    srv.query(
        "",
        "CREATE DATABASE d; CREATE TABLE d.pk (id BIGINT PRIMARY KEY, name VARCHAR(20)); \
         CREATE TABLE d.nopk (id BIGINT, name VARCHAR(20))",
    );
    let t = tempfile::tempdir().unwrap();
    let sql = |q: &str| srv.ping().then(|| srv.query("d", q).replace('\t', "|"));
    let restart = || {
        srv.kill();
        std::thread::sleep(Duration::from_secs(2));
        srv.launch();
    };
    for (table, mode) in [("pk", "replace"), ("nopk", "insert")] {
        let writer = format!(
            r#"{{"name": "mysqlwriter", "parameter": {{"username": "root", "password": "", "column": ["id", "name"],
                "writeMode": "{mode}", "reconnectTimeout": "60s", "connection": [{{"jdbcUrl": "{}", "table": ["{table}"]}}]}}}}"#,
            srv.url("d")
        );
        let concat = "CONCAT('n', id)";
        restart_case(
            t.path(),
            SLOW,
            &writer,
            (table, mode),
            20_000,
            &sql,
            concat,
            &restart,
        );
    }
}

#[test]
fn postgres_target_restarting_mid_write_gets_every_row_once() {
    let srv = ScratchPg::start();
    srv.query("postgres", "CREATE DATABASE d");
    srv.query(
        "d",
        "CREATE TABLE pk (id bigint PRIMARY KEY, name text); CREATE TABLE nopk (id bigint, name text)",
    );
    let t = tempfile::tempdir().unwrap();
    let sql = |q: &str| srv.try_query("d", q);
    let restart = || {
        srv.crash();
        std::thread::sleep(Duration::from_secs(2));
        srv.launch();
    };
    // Units are 65,536 rows: several of them, so the restart lands between two.
    let slow = r#"{"speed": {"record": 40000}, "retry": {"count": 0}}"#;
    for (table, mode) in [("pk", "update"), ("nopk", "insert")] {
        let writer = format!(
            r#"{{"name": "postgresqlwriter", "parameter": {{"username": "postgres", "column": ["id", "name"],
                "writeMode": "{mode}", "connection": [{{"jdbcUrl": "{}", "table": ["{table}"]}}]}}}}"#,
            srv.url("d")
        );
        restart_case(
            t.path(),
            slow,
            &writer,
            (table, mode),
            240_000,
            &sql,
            "'n' || id",
            &restart,
        );
    }
}

/// One source-restart case: `reader` (200,000 rows `id, 'n' || id || 250 x`) into staged files
/// while `down` stops the server mid-read and `up` brings it back 2 s later: the task is
/// retried (the staged file is discarded) and the output is exact. Then `down` alone: the job
/// fails naming `127.0.0.1:port`, no hang, the earlier output untouched.
fn source_restart_case(reader: &str, rows: usize, port: u16, down: &dyn Fn(), up: &dyn Fn()) {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let writer = format!(
        r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let setting = r#"{"speed": {"record": 40000}, "retry": {"count": 5, "backoff": "1s"}}"#;
    let p = write_job(t.path(), "src", &job(setting, reader, &writer));
    let o = run_with_fault(t.path(), &p, || {
        down();
        std::thread::sleep(Duration::from_secs(2));
        up();
    });
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "retrying in");
    let want: Vec<String> = {
        // 50 MB: more than the socket buffers hold, so the stop cuts the read.
        let pad = "x".repeat(250);
        let mut v: Vec<String> = (1..=rows).map(|i| format!("{i},n{i}{pad}")).collect();
        v.sort();
        v
    };
    assert_eq!(lines_in(&out), want);
    let setting = r#"{"speed": {"record": 40000}, "retry": {"count": 1, "backoff": "1s"}}"#;
    let p = write_job(t.path(), "gone", &job(setting, reader, &writer));
    let o = run_with_fault(t.path(), &p, down);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{port}")),
        "names the server: {}",
        stderr(&o)
    );
    assert_eq!(lines_in(&out), want, "the earlier output is untouched");
}

/// A scratch MariaDB with `d.src` holding `rows` rows `(id, 'n' || id || 250 x)`.
fn mariadb_with_rows(rows: usize) -> ScratchMariaDb {
    let srv = ScratchMariaDb::start("");
    srv.query(
        "",
        &format!(
            "CREATE DATABASE d; USE d; CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(300)); \
             INSERT INTO src SELECT seq, CONCAT('n', seq, REPEAT('x', 250)) FROM seq_1_to_{rows}"
        ),
    );
    srv
}

/// The login and columns of the scratch servers' `src` reads.
const MY_ID_NAME: &str = r#""username": "root", "password": "", "column": ["id", "name"]"#;
const PG_ID_NAME: &str = r#""username": "postgres", "column": ["id", "name"]"#;

/// A `plugin` reader of table `src` at `url`, with these parameter `keys`.
fn src_reader(plugin: &str, url: &str, keys: &str) -> String {
    format!(
        r#"{{"name": "{plugin}", "parameter": {{{keys},
            "connection": [{{"jdbcUrl": ["{url}"], "table": ["src"]}}]}}}}"#
    )
}

#[test]
fn mysql_source_restarting_mid_read_is_retried_into_staged_files() {
    let rows = 200_000;
    let srv = mariadb_with_rows(rows);
    // No splitPk: the read cannot go on after a key, so the task is retried.
    let reader = src_reader("mysqlreader", &srv.url("d"), MY_ID_NAME);
    source_restart_case(&reader, rows, srv.port, &|| srv.kill(), &|| srv.launch());
}

/// A scratch PostgreSQL server with database `d` holding `src` as `mariadb_with_rows` makes it.
fn postgres_with_rows(rows: usize) -> ScratchPg {
    let srv = ScratchPg::start();
    srv.query("postgres", "CREATE DATABASE d");
    srv.query(
        "d",
        &format!(
            "CREATE TABLE src (id bigint PRIMARY KEY, name text); \
             INSERT INTO src SELECT g, 'n' || g || repeat('x', 250) FROM generate_series(1, {rows}) g"
        ),
    );
    srv
}

#[test]
fn postgres_source_crashing_mid_read_is_retried_into_staged_files() {
    let rows = 200_000;
    let srv = postgres_with_rows(rows);
    let reader = src_reader("postgresqlreader", &srv.url("d"), PG_ID_NAME);
    // `pg_ctl -m immediate`: the server crashes.
    source_restart_case(&reader, rows, srv.port, &|| srv.crash(), &|| srv.launch());
}

/// `reader` (splitPk id, on a source that `down` takes down and `up` brings back two seconds
/// later) copies `src` of `rows` rows into a plain-insert target, which cannot be retried:
/// the cut splits must go on after their last key, every row once.
fn keyed_read_through_a_restart(reader: &str, rows: usize, down: &dyn Fn(), up: &dyn Fn()) {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id BIGINT, name VARCHAR(300))");
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name"], "writeMode": "insert",
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let setting = r#"{"speed": {"channel": 2, "record": 40000}, "retry": {"count": 0}}"#;
    let t = tempfile::tempdir().unwrap();
    let p = write_job(t.path(), "keyed", &job(setting, reader, &writer));
    let o = run_with_fault(t.path(), &p, || {
        down();
        std::thread::sleep(Duration::from_secs(2));
        up();
    });
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "reconnecting to read on after key");
    assert_eq!(
        db.query("SELECT COUNT(*), COUNT(DISTINCT id), SUM(id), SUM(name = CONCAT('n', id, REPEAT('x', 250))) FROM dst"),
        format!("{rows}\t{rows}\t{}\t{rows}", rows as u64 * (rows as u64 + 1) / 2)
    );
}

#[test]
fn a_split_cut_by_a_source_restart_goes_on_after_its_last_key_into_an_insert_target() {
    let rows = 200_000;
    let srv = mariadb_with_rows(rows);
    let keys = format!(r#"{MY_ID_NAME}, "splitPk": "id""#);
    let reader = src_reader("mysqlreader", &srv.url("d"), &keys);
    keyed_read_through_a_restart(&reader, rows, &|| srv.kill(), &|| srv.launch());
}

#[test]
fn a_postgres_split_cut_by_a_source_crash_goes_on_after_its_last_key() {
    let rows = 200_000;
    let srv = postgres_with_rows(rows);
    // `*`: the key is not one of the columns named, so it is read as an extra one.
    let keys = r#""username": "postgres", "column": ["*"], "splitPk": "id""#;
    let reader = src_reader("postgresqlreader", &srv.url("d"), keys);
    keyed_read_through_a_restart(&reader, rows, &|| srv.crash(), &|| srv.launch());
}

#[test]
fn sigterm_stops_sql_readers_and_writers_with_143_and_says_what_was_committed() {
    let db = MariaDb::new();
    let rows = 300_000;
    db.exec(&format!(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(20)); \
         INSERT INTO src SELECT seq, CONCAT('n', seq) FROM seq_1_to_{rows}; CREATE TABLE dst LIKE src"
    ));
    let pg = Pg::new();
    pg.query("CREATE TABLE dst (id bigint PRIMARY KEY, name text)");
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "name"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let my_writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name"],
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let pg_writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "name"],
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    let t = tempfile::tempdir().unwrap();
    let slow = r#"{"speed": {"record": 50000}, "batch": {"rows": 1000}}"#;
    for (name, writer, landed) in [
        (
            "my",
            my_writer,
            Box::new(|| db.query("SELECT COUNT(*) FROM dst")) as Box<dyn Fn() -> String>,
        ),
        (
            "pg",
            pg_writer,
            Box::new(|| pg.query("SELECT count(*) FROM dst")),
        ),
    ] {
        let p = write_job(t.path(), name, &job(slow, &reader, &writer));
        let o = terminate_when(t.path(), &p, || landed() != "0", Duration::from_millis(300));
        assert_eq!(o.status.code(), Some(143), "{name}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("INTERRUPTED"), "{name}: {e}");
        // Direct SQL writers keep what they committed; the report's count is that number.
        let written: u64 = e
            .split("written ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no written count in {e}"));
        let there: u64 = landed().parse().unwrap();
        assert_eq!(
            there, written,
            "{name}: rows in the target = rows reported written"
        );
        assert!(there < rows as u64, "{name}: stopped early");
    }
}

#[test]
fn a_row_larger_than_max_allowed_packet_is_dirty_and_the_rest_lands() {
    let srv = ScratchMariaDb::start("--max-allowed-packet=1M");
    srv.query(
        "",
        "CREATE DATABASE d; CREATE TABLE d.t (id BIGINT PRIMARY KEY, v LONGTEXT)",
    );
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("big.csv");
    let big = "b".repeat(2 << 20);
    std::fs::write(&input, format!("1,a\n2,b\n3,{big}\n4,d\n5,e\n")).unwrap();
    for mode in ["insert", "replace"] {
        srv.query("d", "TRUNCATE t");
        let writer = format!(
            r#"{{"name": "mysqlwriter", "parameter": {{"username": "root", "password": "", "column": ["id", "v"],
                "writeMode": "{mode}", "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
            srv.url("d")
        );
        let p = write_job(t.path(), mode, &job("{}", &id_reader(&input), &writer));
        let o = run_with(t.path(), &p, &["--dirty-file", "d.jsonl"]);
        assert_eq!(code(&o), 0, "{mode}: {}", stderr(&o));
        assert_eq!(
            srv.query("d", "SELECT GROUP_CONCAT(id ORDER BY id) FROM t"),
            "1,2,4,5",
            "{mode}"
        );
        let dirty = std::fs::read_to_string(t.path().join("d.jsonl")).unwrap();
        assert_eq!(dirty.lines().count(), 1, "{mode}: {dirty:.300}");
        let d: serde_json::Value = serde_json::from_str(dirty.trim()).unwrap();
        assert!(
            d["error"].as_str().unwrap().contains("max_allowed_packet"),
            "{mode}: {}",
            d["error"]
        );
        assert_eq!(d["values"][0].to_string().trim_matches('"'), "3", "{mode}");
        std::fs::remove_file(t.path().join("d.jsonl")).unwrap();
    }
}

#[test]
fn a_mysql_read_paced_by_a_slow_writer_outlasts_net_write_timeout() {
    // The server gives up on a client that does not take its rows for 2 s.
    let srv = ScratchMariaDb::start("--net-write-timeout=2");
    let rows = 40_000;
    srv.query(
        "",
        &format!(
            "CREATE DATABASE d; USE d; CREATE TABLE src (id BIGINT PRIMARY KEY, v VARCHAR(600)); \
             INSERT INTO src SELECT seq, REPEAT('x', 500) FROM seq_1_to_{rows}"
        ),
    );
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{"username": "root", "password": "", "column": ["id", "v"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        srv.url("d")
    );
    let writer = format!(
        r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    // 20 MB let through 8,000 rows (4 MB) every 4 s: the socket buffers fill, and the
    // server waits on its client far longer than 2 s at a time.
    let setting = r#"{"speed": {"record": 2000}, "batch": {"rows": 8000}, "retry": {"count": 0}}"#;
    let (_, _d) = run_job_ok("paced", &job(setting, &reader, &writer));
    assert_eq!(lines_in(&out).len(), rows);
}

#[test]
fn sigkill_of_an_sql_writer_then_the_same_job_again_is_exact_in_idempotent_modes() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(20))");
    let pg = Pg::new();
    pg.query("CREATE TABLE dst (id bigint PRIMARY KEY, name text)");
    let t = tempfile::tempdir().unwrap();
    let rows = 100_000;
    let input = id_rows(t.path(), rows);
    let my_writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name"], "writeMode": "replace",
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let pg_writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "name"], "writeMode": "update",
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    type Totals<'a> = Box<dyn Fn() -> String + 'a>;
    let cases: [(&str, String, Totals); 2] = [
        (
            "mysql",
            my_writer,
            Box::new(|| {
                db.query("SELECT COUNT(*), COALESCE(SUM(id), 0), COALESCE(SUM(name = CONCAT('n', id)), 0) FROM dst").replace('\t', "|")
            }),
        ),
        (
            "postgres",
            pg_writer,
            Box::new(|| {
                pg.query("SELECT count(*), coalesce(sum(id), 0), count(*) FILTER (WHERE name = 'n' || id) FROM dst")
            }),
        ),
    ];
    for (name, writer, totals) in cases {
        let child = start_job(
            t.path(),
            &job(
                r#"{"speed": {"record": 60000}}"#,
                &id_reader(&input),
                &writer,
            ),
        );
        wait_for("rows committed", || !totals().starts_with("0|"));
        kill9(child);
        let partial = totals();
        let again = write_job(t.path(), "again", &job("{}", &id_reader(&input), &writer));
        let o = run_with(t.path(), &again, &[]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_eq!(
            totals(),
            format!("{rows}|{}|{rows}", rows * (rows + 1) / 2),
            "{name}: after the kill ({partial}) and the rerun, every row once"
        );
    }
}

#[test]
fn a_connection_cut_mid_write_is_reconnected_and_a_stalled_source_is_failed_by_the_watchdog() {
    let srv = ScratchMariaDb::start("");
    let rows = 200_000;
    srv.query(
        "",
        &format!(
            "CREATE DATABASE d; USE d; CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(20)); \
             CREATE TABLE src (id BIGINT PRIMARY KEY, v VARCHAR(300)); \
             INSERT INTO src SELECT seq, REPEAT('v', 250) FROM seq_1_to_{rows}"
        ),
    );
    let t = tempfile::tempdir().unwrap();

    // The writer's connection is cut (both directions closed) mid-write: it reconnects and
    // the result is exact.
    let proxy = Proxy::start(srv.port);
    let input = id_rows(t.path(), 20_000);
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{"username": "root", "password": "", "column": ["id", "name"],
            "writeMode": "replace", "connection": [{{"jdbcUrl": "jdbc:mysql://127.0.0.1:{}/d", "table": ["dst"]}}]}}}}"#,
        proxy.port
    );
    let o = run_through_a_restart(
        t.path(),
        &job(SLOW, &id_reader(&input), &writer),
        || {
            srv.query("d", "SELECT COUNT(*) FROM dst")
                .parse()
                .unwrap_or(0)
        },
        || proxy.reset(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "reconnected after");
    assert_eq!(
        srv.query(
            "d",
            "SELECT COUNT(*), SUM(id), SUM(name = CONCAT('n', id)) FROM dst"
        ),
        "20000\t200010000\t20000"
    );

    // The source stops sending without closing: the watchdog names the stuck side and
    // `stallAction: fail` ends the job; nothing is published.
    let proxy = Proxy::start(srv.port);
    let out = t.path().join("out");
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{"username": "root", "password": "", "column": ["id", "v"],
            "connection": [{{"jdbcUrl": ["jdbc:mysql://127.0.0.1:{}/d"], "table": ["src"]}}]}}}}"#,
        proxy.port
    );
    let writer = format!(
        r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let setting = r#"{"speed": {"record": 20000}, "stallTimeout": "2s", "stallAction": "fail", "retry": {"count": 0}}"#;
    let p = write_job(t.path(), "stall", &job(setting, &reader, &writer));
    let o = run_with_fault(t.path(), &p, || {
        proxy.stall();
    });
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the reader is stuck waiting on its source");
    assert_eq!(published_count(&out), 0, "nothing published");
}
