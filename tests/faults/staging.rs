//! Table staging, resume and latency.

use super::*;

#[test]
fn table_staging_publishes_in_one_transaction_and_a_failed_or_killed_job_leaves_the_target_as_it_was(
) {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL, note VARCHAR(10) DEFAULT 'kept');
             INSERT INTO dst (id, name) SELECT seq, 'old' FROM seq_1_to_1000");
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE dst (id bigint PRIMARY KEY, name text NOT NULL, note text DEFAULT 'kept');
              INSERT INTO dst (id, name) SELECT g, 'old' FROM generate_series(1, 1000) g",
    );
    let t = tempfile::tempdir().unwrap();
    let rows = 100_000;
    let input = id_rows(t.path(), rows);
    // The same rows with one the reader cannot parse near the end.
    let bad_input = t.path().join("bad.csv");
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.push_str("x,not-a-number\n");
    std::fs::write(&bad_input, text).unwrap();
    let staged =
        r#""column": ["id", "name"], "stagingMode": "table", "preSql": ["TRUNCATE TABLE @table"],"#;
    let my_writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, {staged}
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let pg_writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, {staged}
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        pg_server().login(),
        pg.url()
    );
    type Probe<'a> = Box<dyn Fn() -> String + 'a>;
    let cases: [(&str, String, Probe, Probe); 2] = [
        (
            "mysql",
            my_writer,
            Box::new(|| {
                db.query("SELECT COUNT(*), SUM(id), SUM(name = CONCAT('n', id)), SUM(note = 'kept') FROM dst")
                    .replace('\t', "|")
            }),
            Box::new(|| {
                db.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'datasync\\_stg\\_%'")
            }),
        ),
        (
            "postgres",
            pg_writer,
            Box::new(|| {
                pg.query("SELECT count(*), sum(id), count(*) FILTER (WHERE name = 'n' || id), count(*) FILTER (WHERE note = 'kept') FROM dst")
            }),
            Box::new(|| {
                pg.query("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'datasync\\_stg\\_%'")
            }),
        ),
    ];
    let old = "1000|500500|0|1000".to_string();
    let new = format!("{rows}|{}|{rows}|{rows}", rows * (rows + 1) / 2);
    for (name, writer, totals, stages) in cases {
        assert_eq!(totals(), old, "{name}");
        // Killed mid-job: the target is untouched (the TRUNCATE did not run yet either).
        let child = start_job(
            t.path(),
            &job(
                r#"{"speed": {"record": 20000}}"#,
                &id_reader(&input),
                &writer,
            ),
        );
        wait_for("a staging table", || stages() != "0");
        std::thread::sleep(Duration::from_millis(1500));
        kill9(child);
        assert_eq!(totals(), old, "{name}: a killed job changed the target");
        assert_eq!(
            stages(),
            "1",
            "{name}: the killed run's staging table stays until the next run"
        );

        // A job that fails (the reader's error limit) rolls nothing in and drops its staging.
        let failing = write_job(
            t.path(),
            "failing",
            &job(
                r#"{"errorLimit": {"record": 0}}"#,
                &id_reader(&bad_input),
                &writer,
            ),
        );
        let o = run_with(t.path(), &failing, &[]);
        assert_eq!(code(&o), 3, "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("dropped staging table"),
            "{name}: {}",
            stderr(&o)
        );
        assert_eq!(totals(), old, "{name}: a failed job changed the target");
        assert_eq!(stages(), "0", "{name}");

        // The job that succeeds empties and fills the target in one transaction.
        let ok = write_job(t.path(), "ok", &job("{}", &id_reader(&input), &writer));
        let o = run_with(t.path(), &ok, &[]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_eq!(totals(), new, "{name}");
        assert_eq!(stages(), "0", "{name}");
    }
}

#[test]
fn resume_skips_the_tasks_a_killed_or_failed_run_finished_and_the_result_is_exact() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (files, rows) = (4, 50_000);
    let input = inputs(t.path(), files, rows, "r");
    let slow = r#"{"speed": {"channel": 1, "record": 60000}, "errorLimit": {"record": 0}}"#;
    let jp = write_job(
        t.path(),
        "resumable",
        &file_to_file(&input, COLS, &out, "", "", slow),
    );
    let state = out.join(".datasync-staging-out-k1").join("_run_state.json");
    let finished = || finished_tasks(&out, "k1");
    // Killed after two of four tasks finished.
    let before = kill_after_finished(t.path(), &jp, &out, "k1", &[], 2);
    assert!(
        before < files,
        "the kill came too late: {before} tasks finished"
    );
    assert!(
        visible_files(&out).is_empty(),
        "nothing published by the killed run"
    );

    // A changed job is not resumed (its tasks would not match the staged output).
    let changed = write_job(
        t.path(),
        "resumable",
        &file_to_file(&input, COLS, &out, "", r#", "fieldDelimiter": ";""#, slow),
    );
    let o = run_with(t.path(), &changed, &["--run-id", "k1", "--resume"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the job is not the one run k1 ran");
    assert_eq!(
        finished(),
        before,
        "the refused resume kept the staged output"
    );
    // Something removes one finished task's staged file: the resume notices and runs it again.
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let first: usize = st["tasks"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    std::fs::remove_file(
        out.join(".datasync-staging-out-k1")
            .join(format!("out__k1_{first:05}")),
    )
    .unwrap();
    // And another finished task's input file is written again (same rows, new mtime): its
    // task runs again too.
    let second: usize = st["tasks"]
        .as_object()
        .unwrap()
        .keys()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let part = input.join(format!("part{second:02}.csv"));
    let same = std::fs::read(&part).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&part, same).unwrap();

    let jp = write_job(
        t.path(),
        "resumable",
        &file_to_file(
            &input,
            COLS,
            &out,
            "",
            "",
            r#"{"speed": {"channel": 1}, "errorLimit": {"record": 0}}"#,
        ),
    );
    let o = run_with(
        t.path(),
        &jp,
        &["--run-id", "k1", "--resume", "--report", "rep.json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        &format!("{} of {files} task(s) of run k1 had finished", before - 2),
    );
    assert_stderr_has(&o, "staged output of task");
    assert_stderr_has(&o, "changed since it finished");
    assert_stderr_has(&o, &format!("the input of task {second}"));
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("rep.json")).unwrap()).unwrap();
    let resumed = rep["task_reports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "resumed")
        .count();
    assert_eq!(resumed, before - 2, "{rep}");
    assert_eq!(rep["records_written"], files * rows, "{rep}");
    assert_eq!(lines_in(&out), want_lines(files, rows, "r"));
    assert_eq!(stagings(&out), Vec::<PathBuf>::new());

    // A run that fails on a dirty row keeps its staging; with the row fixed, the resume runs
    // only the failed task, and the dirty file keeps no record of it.
    let bad = input.join("part03.csv");
    let good_text = std::fs::read_to_string(&bad).unwrap();
    std::fs::write(&bad, format!("{good_text}oops,r\n")).unwrap();
    let o = run_with(
        t.path(),
        &jp,
        &["--run-id", "f1", "--dirty-file", "d.jsonl"],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_stderr_has(&o, "--run-id f1 --resume");
    assert_eq!(
        std::fs::read_to_string(t.path().join("d.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    std::fs::write(&bad, &good_text).unwrap();
    let o = run_with(
        t.path(),
        &jp,
        &["--run-id", "f1", "--resume", "--dirty-file", "d.jsonl"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 0");
    assert_eq!(
        std::fs::read_to_string(t.path().join("d.jsonl")).unwrap(),
        ""
    );
    assert_eq!(lines_in(&out), want_lines(files, rows, "r"));
    assert_eq!(stagings(&out), Vec::<PathBuf>::new());

    // The run finished: a second resume has nothing to take over, and says so.
    let o = run_with(t.path(), &jp, &["--run-id", "f1", "--resume"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "nothing to resume");
    assert_eq!(lines_in(&out), want_lines(files, rows, "r"));

    // Writers whose finished work cannot be told apart refuse, before touching anything.
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id BIGINT, name VARCHAR(20))");
    let my = |mode: &str| {
        format!(
            r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name"], "writeMode": "{mode}",
                "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        )
    };
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": {COLS}}}}}"#,
        input.display()
    );
    let p = write_job(t.path(), "sqlresume", &job("{}", &reader, &my("insert")));
    let o = run_with(t.path(), &p, &["--run-id", "s1", "--resume"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "would write those rows twice");
    assert_eq!(db.query("SELECT COUNT(*) FROM dst"), "0");
    let o = run_file(t.path(), &p, &["--resume"]);
    assert_eq!(code(&o), 2, "--resume needs --run-id: {}", stderr(&o));
}

/// A resume whose --dirty-file is not the earlier run's still counts the finished tasks' dirty
/// records (they are in the other file), in the report and against the error limit.
#[test]
fn a_resume_with_another_dirty_file_counts_the_finished_tasks_dirty_records() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (files, rows) = (2, 50_000);
    let input = inputs(t.path(), files, rows, "d");
    for f in ["part00.csv", "part01.csv"] {
        let p = input.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{text}bad,d\n")).unwrap();
    }
    let slow = r#"{"speed": {"channel": 1, "record": 60000}}"#;
    let jp = write_job(
        t.path(),
        "dirtyresume",
        &file_to_file(&input, COLS, &out, "", "", slow),
    );
    // Killed once one task (one dirty row, in a.jsonl) finished.
    kill_after_finished(t.path(), &jp, &out, "d1", &["--dirty-file", "a.jsonl"], 1);
    let o = run_with(
        t.path(),
        &jp,
        &["--run-id", "d1", "--resume", "--dirty-file", "b.jsonl"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "holds 0 of them");
    assert_stderr_has(&o, "dirty 2");
    assert_eq!(lines_in(&out).len(), files * rows);
}

/// Two fileNames whose staging directories meet (`out` with run id `x-1`, `out-x` with run id
/// `1`): the second run is refused, says nothing of keeping a staging that is not its own, and
/// leaves the first run's kept staging for its resume.
#[test]
fn a_run_refused_another_file_names_staging_leaves_it_and_gives_no_resume_advice() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let input = inputs(t.path(), 1, 100, "c");
    let part = input.join("part00.csv");
    let good = std::fs::read_to_string(&part).unwrap();
    std::fs::write(&part, format!("{good}bad,c\n")).unwrap();
    let strict = r#"{"errorLimit": {"record": 0}}"#;
    let text = file_to_file(&input, COLS, &out, "", "", strict);
    let first = write_job(t.path(), "first", &text);
    let o = run_with(t.path(), &first, &["--run-id", "x-1"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_stderr_has(&o, "goes on");
    assert_eq!(stagings(&out).len(), 1);
    let other = text.replace(r#""fileName": "out""#, r#""fileName": "out-x""#);
    let second = write_job(t.path(), "second", &other);
    let o = run_with(t.path(), &second, &["--run-id", "1"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "it holds the staged output of fileName \"out\"");
    assert!(!stderr(&o).contains("goes on"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("kept for --resume"), "{}", stderr(&o));
    assert_eq!(stagings(&out).len(), 1);
    std::fs::write(&part, good).unwrap();
    let o = run_with(t.path(), &first, &["--run-id", "x-1", "--resume"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines_in(&out).len(), 100);
    assert!(stagings(&out).is_empty());
}

#[test]
fn latency_on_both_connections_still_gives_an_exact_copy_and_every_connection_has_keepalive() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(20));
             INSERT INTO src SELECT seq, CONCAT('n', seq) FROM seq_1_to_20000",
    );
    let pg = Pg::new();
    pg.query("CREATE TABLE dst (id bigint PRIMARY KEY, name text)");
    let my = Proxy::start(mysql_server().port);
    let pgp = Proxy::start(pg_server().port);
    // 20 ms on every chunk both ways, on the source and the target connection.
    my.latency(20);
    pgp.latency(20);
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "name"], "splitPk": "id",
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        mysql_server().login(),
        db.url().replace(
            &format!(":{}/", mysql_server().port),
            &format!(":{}/", my.port)
        )
    );
    let writer = format!(
        r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "name"],
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        pg_server().login(),
        pg.url().replace(
            &format!(":{}/", pg_server().port),
            &format!(":{}/", pgp.port)
        )
    );
    let t = tempfile::tempdir().unwrap();
    let p = write_job(
        t.path(),
        "latency",
        &job(
            r#"{"speed": {"channel": 2, "record": 4000}, "batch": {"rows": 500}}"#,
            &reader,
            &writer,
        ),
    );
    let child = spawn(
        t.path(),
        &["run", p.to_str().unwrap(), "--no-progress"],
        &[],
    );
    // While it runs, the kernel shows a keepalive timer on datasync's sockets to both servers
    // (a peer that vanishes without closing is noticed instead of hanging the job).
    let keepalive = |port: u16| {
        let o = Command::new("ss")
            .args([
                "-tnoH",
                "state",
                "established",
                &format!("( dport = :{port} )"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        (
            text.lines().count(),
            text.matches("timer:(keepalive").count(),
            text,
        )
    };
    // Judged on the same sample that saw connections (short-lived ones come and go).
    let seen = std::cell::RefCell::new(Vec::new());
    wait_for("connections to both servers", || {
        let now = [keepalive(my.port), keepalive(pgp.port)];
        let both = now.iter().all(|(n, _, _)| *n > 0);
        *seen.borrow_mut() = now.to_vec();
        both
    });
    for (n, with_keepalive, text) in seen.into_inner() {
        assert!(
            n > 0 && with_keepalive == n,
            "every connection has keepalive: {text}"
        );
    }
    let o = wait_or_hang(child, Duration::from_secs(180));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        pg.query("SELECT count(*), sum(id), count(*) FILTER (WHERE name = 'n' || id) FROM dst"),
        "20000|200010000|20000"
    );
}

/// The connection cut at the COMMIT that publishes the staging tables (before the server saw
/// it): the job fails saying the outcome is unknown, naming the staging tables it keeps for
/// that check; the target is as it was, and `datasync recover` drops the kept tables.
#[test]
fn a_publishing_commit_cut_off_fails_and_keeps_the_staging_tables_for_the_check() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(20))");
    let pg = Pg::new();
    pg.query("CREATE TABLE dst (id bigint PRIMARY KEY, name text)");
    let t = tempfile::tempdir().unwrap();
    let input = id_rows(t.path(), 1000);
    let (my, pgp) = (
        Proxy::start(mysql_server().port),
        Proxy::start(pg_server().port),
    );
    let through = |url: String, server: u16, proxy: u16| {
        url.replace(&format!(":{server}/"), &format!(":{proxy}/"))
    };
    let staged = r#""column": ["id", "name"], "stagingMode": "table","#;
    type Probe<'a> = Box<dyn Fn() -> String + 'a>;
    let cases: [(&str, &Proxy, String, Probe, Probe); 2] = [
        (
            "mysql",
            &my,
            format!(
                r#"{{"name": "mysqlwriter", "parameter": {{{}, {staged}
                    "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
                mysql_server().login(),
                through(db.url(), mysql_server().port, my.port)
            ),
            Box::new(|| db.query("SELECT COUNT(*) FROM dst")),
            Box::new(|| {
                db.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'datasync\\_stg\\_%'")
            }),
        ),
        (
            "postgres",
            &pgp,
            format!(
                r#"{{"name": "postgresqlwriter", "parameter": {{{}, {staged}
                    "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
                pg_server().login(),
                through(pg.url(), pg_server().port, pgp.port)
            ),
            Box::new(|| pg.query("SELECT count(*) FROM dst")),
            Box::new(|| {
                pg.query("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'datasync\\_stg\\_%'")
            }),
        ),
    ];
    for (name, proxy, writer, rows, stages) in cases {
        // The publishing transaction counts each staging table, then moves it, then commits.
        proxy.cut_at(&["count(*)", "datasync_stg_"], "COMMIT");
        let p = write_job(
            t.path(),
            name,
            &job(r#"{"speed": {"channel": 2}}"#, &id_reader(&input), &writer),
        );
        let o = run_with(t.path(), &p, &[]);
        assert_ne!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_stderr_has(&o, "whether it landed is unknown: check dst");
        assert_stderr_has(&o, "are kept for it; `datasync recover` drops them");
        assert!(!stderr(&o).contains("SUCCEEDED"), "{name}: {}", stderr(&o));
        assert_eq!(rows(), "0", "{name}: the COMMIT never reached the server");
        assert_ne!(stages(), "0", "{name}: the staging tables are kept");
        let o = run_in(t.path(), &["recover", p.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_eq!(stages(), "0", "{name}: recover drops them");
        // Then the job runs whole.
        let o = run_with(t.path(), &p, &[]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_eq!(rows(), "1000", "{name}");
    }
}
