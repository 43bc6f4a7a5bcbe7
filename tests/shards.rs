//! Container-task mode: `plan`, shards run as separate processes (one failing once, one
//! killed with SIGKILL, one stopped with SIGTERM, each run again as a scheduler would), one
//! `commit` (run twice), checked row by row with MariaDB and DuckDB.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `datasync ARGS` in `dir` with extra environment.
fn ds(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.current_dir(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn shard_args<'a>(job: &'a str, plan: &'a str, shard: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        job,
        "--plan",
        plan,
        "--shard",
        shard,
        "--no-progress",
    ]
}

/// `datasync plan <job> --shards <n> --out <out> [--run-id <id>]` in `dir`.
fn plan_job(dir: &Path, job: &str, shards: &str, out: &str, run_id: Option<&str>) -> Output {
    let mut args = vec!["plan", job, "--shards", shards, "--out", out];
    if let Some(id) = run_id {
        args.extend(["--run-id", id]);
    }
    ds(dir, &args, &[])
}

/// Asserts `o` exited `want` and (unless empty) that its stderr holds `needle`; returns it.
#[track_caller]
fn expect(o: Output, want: i32, needle: &str) -> Output {
    assert_eq!(code(&o), want, "{}", stderr(&o));
    if !needle.is_empty() {
        assert_stderr_has(&o, needle);
    }
    o
}

/// The plan's task numbers of shard `i`.
fn tasks_of(plan: &Path, i: u64) -> Vec<u64> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plan.join("plan.json")).unwrap()).unwrap();
    v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["shard"].as_u64() == Some(i))
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

/// Every file name anywhere below `dir` (hidden ones too).
fn all_files(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, &mut v);
    v.sort();
    v
}

/// Data files visible to a reader of the table (no hidden path component).
fn published(dir: &Path) -> Vec<String> {
    all_files(dir)
        .into_iter()
        .filter(|f| {
            !Path::new(f)
                .strip_prefix(dir)
                .unwrap()
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with(['.', '_']))
        })
        .collect()
}

/// Whether a file of one of shard `i`'s tasks is staged below `out`.
fn staged_file_of(plan: &Path, i: u64, out: &Path) -> bool {
    let marks: Vec<String> = tasks_of(plan, i)
        .iter()
        .map(|t| format!("_{t:05}_"))
        .collect();
    all_files(out)
        .iter()
        .any(|f| marks.iter().any(|m| f.contains(m)))
}

/// Starts shard `shard` and stops it with `signal` once `started` holds (it is writing);
/// returns its output.
fn stop_mid_write(
    dir: &Path,
    job: &str,
    plan: &Path,
    shard: &str,
    signal: &str,
    started: impl Fn() -> bool,
) -> Output {
    let child = Command::new(bin())
        .current_dir(dir)
        .args(shard_args(job, plan.to_str().unwrap(), shard))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started() {
        assert!(
            Instant::now() < deadline,
            "shard {shard} never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    send_signal(child.id(), signal);
    child.wait_with_output().unwrap()
}

/// A source table of `n` rows: id, region (r0..r3), amount, name (NULL every 7th).
fn source_table(n: u32) -> MariaDb {
    let db = MariaDb::new();
    db.exec(&format!(
        "CREATE TABLE t (id BIGINT PRIMARY KEY, region VARCHAR(8) NOT NULL, amount DECIMAL(12,2), name VARCHAR(20));
         SET SESSION max_recursive_iterations = 1000000;
         INSERT INTO t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n})
           SELECT n, CONCAT('r', n % 4), n * 1.25, IF(n % 7 = 0, NULL, CONCAT('n', n)) FROM s;"
    ));
    db
}

/// The source rows as `id|amount|name|region` lines, in id order.
fn source_rows(db: &MariaDb) -> String {
    db.query(
        "SELECT CONCAT(id, '|', amount, '|', COALESCE(name, 'NULL'), '|', region) FROM t ORDER BY id",
    )
}

/// A job `name` copying [`source_table`] into a Hive Parquet table at `out` partitioned by
/// region, with `speed` settings.
fn hive_job(dir: &Path, name: &str, speed: &str, db: &MariaDb, out: &Path) -> PathBuf {
    write_job(
        dir,
        name,
        &format!(
            r#"{{"job": {{"setting": {{"speed": {speed}}},
              "content": [{{
                "reader": {},
                "writer": {{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "parquet",
                  "path": "{}", "fileName": "part", "writeMode": "truncate",
                  "column": [{{"name": "id", "type": "BIGINT"}}, {{"name": "amount", "type": "DECIMAL(12,2)"}},
                             {{"name": "name", "type": "STRING"}}],
                  "partitionColumns": ["region"]}}}}
              }}]}}}}"#,
            source_reader(db),
            out.display()
        ),
    )
}

/// The Hive table in `out` as DuckDB reads it, as [`source_rows`] gives the source.
fn duckdb_rows(out: &Path) -> String {
    run_python(
        r#"
import sys, duckdb
rows = duckdb.sql(f"""SELECT id || '|' || CAST(amount AS VARCHAR) || '|' || coalesce(name, 'NULL') || '|' || region
  FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true) ORDER BY id""").fetchall()
print("\n".join(r[0] for r in rows))
"#,
        &[out.to_str().unwrap()],
    )
}

/// The MySQL reader of [`source_table`] (split on id).
fn source_reader(db: &MariaDb) -> String {
    format!(
        r#"{{"name": "mysqlreader", "parameter": {{"username": "root", "password": "",
          "column": ["id", "amount", "name", "region"], "splitPk": "id",
          "connection": [{{"table": ["t"], "jdbcUrl": ["{}"]}}]}}}}"#,
        db.url()
    )
}

#[test]
fn four_shards_mysql_to_hive_parquet_survive_failure_kill_and_term_and_publish_once() {
    let db = source_table(20000);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    let plan = t.path().join("plan");
    let job = hive_job(
        t.path(),
        "orders",
        r#"{"channel": 2, "record": 6000}"#,
        &db,
        &out,
    );
    let (j, p) = (job.to_str().unwrap(), plan.to_str().unwrap());
    expect(plan_job(t.path(), j, "4", p, None), 0, "in 4 shard(s)");
    for i in 0..4 {
        assert!(!tasks_of(&plan, i).is_empty(), "shard {i} got no task");
    }

    // Shard 0 fails once at the worst moment (all staged, no report): exit 75, retried.
    let marker = t.path().join("failed-once");
    let hook = format!("0:{}", marker.display());
    expect(
        ds(
            t.path(),
            &shard_args(j, p, "0/4"),
            &[("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook)],
        ),
        75,
        "",
    );
    assert!(!plan.join("shards/0.json").exists());
    expect(
        ds(
            t.path(),
            &shard_args(j, p, "0/4"),
            &[("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook)],
        ),
        0,
        "STAGED (not published yet)",
    );

    // Shard 1 is killed with SIGKILL mid-write, then run again.
    let o = stop_mid_write(t.path(), j, &plan, "1/4", "KILL", || {
        staged_file_of(&plan, 1, &out)
    });
    assert!(
        o.status.code().is_none(),
        "shard 1 was not killed: {}",
        stderr(&o)
    );
    assert!(!plan.join("shards/1.json").exists());
    // Shard 2 stops on SIGTERM at a batch boundary: exit 143, no report.
    expect(
        stop_mid_write(t.path(), j, &plan, "2/4", "TERM", || {
            staged_file_of(&plan, 2, &out)
        }),
        143,
        "",
    );
    assert!(!plan.join("shards/2.json").exists());

    // Shard 3 through the scheduler's environment (a Slurm array with ids 10..13).
    expect(
        ds(
            t.path(),
            &["run", j, "--plan", p, "--no-progress"],
            &[
                ("SLURM_ARRAY_TASK_ID", "13"),
                ("SLURM_ARRAY_TASK_MIN", "10"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
        ),
        0,
        "",
    );
    // Commit before every shard reported: nothing published, the missing shards listed.
    expect(ds(t.path(), &["commit", p], &[]), 1, "shard(s) 1, 2");
    for s in ["1/4", "2/4"] {
        expect(ds(t.path(), &shard_args(j, p, s), &[]), 0, "");
    }
    // A retried shard whose report exists exits 0 at once.
    expect(
        ds(t.path(), &shard_args(j, p, "3/4"), &[]),
        0,
        "was done already",
    );
    assert_eq!(
        published(&out),
        Vec::<String>::new(),
        "visible before commit"
    );

    expect(
        ds(t.path(), &["commit", p], &[]),
        0,
        "20000 record(s) written by 4 shard(s)",
    );
    let files = published(&out);
    assert!(!files.is_empty());
    expect(ds(t.path(), &["commit", p], &[]), 0, "committed already");
    assert_eq!(published(&out), files, "a second commit changed the table");
    assert!(
        all_files(&out)
            .iter()
            .all(|f| !f.contains(".datasync-staging")),
        "staging left after commit"
    );

    // Every row exact and once: MariaDB's rows against DuckDB's reading of the table.
    let want = source_rows(&db);
    let got = duckdb_rows(&out);
    assert_eq!(got.trim_end().lines().count(), 20000);
    assert!(got.trim_end() == want, "the table differs from the source");
    // The partitions carry their success markers.
    for r in 0..4 {
        assert!(out.join(format!("region=r{r}/_SUCCESS")).exists());
    }
}

/// `files` CSV files of `rows` rows (`id,v<file>`) in `dir/in`; returns the folder and every
/// row, sorted.
fn numbered_csvs(dir: &Path, files: usize, rows: usize) -> (PathBuf, Vec<String>) {
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let mut want = Vec::new();
    for f in 0..files {
        let mut csv = String::new();
        for i in 0..rows {
            csv.push_str(&format!("{},v{f}\n", f * 1000 + i));
            want.push(format!("{},v{f}", f * 1000 + i));
        }
        std::fs::write(inputs.join(format!("f{f}.csv")), csv).unwrap();
    }
    want.sort();
    (inputs, want)
}

/// A file -> file job over `files` CSV files (one task each) with `shards` shards.
fn file_job(dir: &Path, inputs: &Path, out: &Path, limit: &str) -> PathBuf {
    write_job(
        dir,
        "files",
        &format!(
            r#"{{"job": {{"setting": {{"errorLimit": {{"record": {limit}}}}},
              "content": [{{
                "reader": {{"name": "txtfilereader", "parameter": {{"path": "{}/*.csv", "fileFormat": "csv",
                  "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}},
                "writer": {{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "out.csv",
                  "writeMode": "truncate", "fileFormat": "csv"}}}}
              }}]}}}}"#,
            inputs.display(),
            out.display()
        ),
    )
}

#[test]
fn plans_are_deterministic_and_commit_checks_hash_shards_and_the_summed_error_limit() {
    let t = tempfile::tempdir().unwrap();
    let (inputs, _) = numbered_csvs(t.path(), 3, 100);
    for f in 0..3 {
        // One bad row (not a number) per file: 3 dirty in all.
        let path = inputs.join(format!("f{f}.csv"));
        let csv = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, csv + "oops,bad\n").unwrap();
    }
    let out = t.path().join("out");
    let job = file_job(t.path(), &inputs, &out, "2");
    let j = job.to_str().unwrap();

    // Same job, same shard count: same hash and the same tasks, whatever the run id.
    let plan_of = |name: &str, id: &str| {
        let p = t.path().join(name);
        expect(
            plan_job(t.path(), j, "3", p.to_str().unwrap(), Some(id)),
            0,
            "",
        );
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.join("plan.json")).unwrap()).unwrap();
        (p, v)
    };
    let (pa, a) = plan_of("pa", "run-a");
    let (pb, b) = plan_of("pb", "run-b");
    assert_eq!(a["planHash"], b["planHash"]);
    assert_eq!(a["tasks"], b["tasks"]);
    assert_eq!(a["tasks"].as_array().unwrap().len(), 3);
    // The same run id cannot be planned twice (its staging exists).
    expect(
        plan_job(
            t.path(),
            j,
            "3",
            t.path().join("pc").to_str().unwrap(),
            Some("run-a"),
        ),
        1,
        "planned already",
    );
    // A plan directory holds one plan.
    expect(
        plan_job(t.path(), j, "3", pa.to_str().unwrap(), None),
        2,
        "",
    );
    // Abort b: its staging goes, its shards then refuse to run (do not retry: 42).
    expect(ds(t.path(), &["abort", pb.to_str().unwrap()], &[]), 0, "");
    expect(
        ds(t.path(), &shard_args(j, pb.to_str().unwrap(), "0/3"), &[]),
        42,
        "",
    );
    assert!(
        all_files(&out).iter().all(|f| !f.contains("run-b")),
        "{:?}",
        all_files(&out)
    );

    let p = pa.to_str().unwrap();
    // A shard count or a job that does not fit the plan: exit 2, nothing run.
    expect(ds(t.path(), &shard_args(j, p, "0/4"), &[]), 2, "");
    let other = file_job(
        &t.path().join("in"),
        &inputs,
        &t.path().join("elsewhere"),
        "2",
    );
    expect(
        ds(
            t.path(),
            &shard_args(other.to_str().unwrap(), p, "0/3"),
            &[],
        ),
        2,
        "is not the one planned",
    );
    expect(
        ds(t.path(), &["run", j, "--plan", p, "--no-progress"], &[]),
        2,
        "no shard given",
    );

    // Each shard has one dirty record: under the limit of 2 alone, over it together.
    for s in ["0/3", "1/3", "2/3"] {
        expect(ds(t.path(), &shard_args(j, p, s), &[]), 0, "");
    }
    let o = expect(ds(t.path(), &["commit", p], &[]), 3, "");
    assert_stderr_has(
        &o,
        "3 dirty record(s) over all shards, more than errorLimit.record = 2",
    );
    assert_eq!(published(&out), Vec::<String>::new());
    // The per-shard dirty files hold the bad rows.
    let dirty: usize = (0..3)
        .map(|i| {
            std::fs::read_to_string(pa.join(format!("dirty/shard-{i}.jsonl")))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(dirty, 3);
    expect(ds(t.path(), &["abort", p], &[]), 0, "");
    assert!(all_files(&out).is_empty(), "{:?}", all_files(&out));
    expect(ds(t.path(), &["commit", p], &[]), 2, "aborted");
}

#[test]
fn four_shards_mysql_to_postgres_through_staging_tables_publish_once() {
    let db = source_table(20000);
    let pg = Pg::new();
    pg.query(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount NUMERIC(12,2), name TEXT, region TEXT NOT NULL);
         INSERT INTO orders VALUES (-1, 0, 'old', 'r9')",
    );
    let t = tempfile::tempdir().unwrap();
    let plan = t.path().join("plan");
    let job = write_job(
        t.path(),
        "to_pg",
        &format!(
            r#"{{"job": {{"setting": {{"speed": {{"channel": 2, "record": 6000}}}},
              "content": [{{
                "reader": {},
                "writer": {{"name": "postgresqlwriter", "parameter": {{{}, "column": ["id", "amount", "name", "region"],
                  "stagingMode": "table", "preSql": ["DELETE FROM @table"], "postSql": ["ANALYZE orders"],
                  "connection": [{{"jdbcUrl": "{}", "table": ["orders"]}}]}}}}
              }}]}}}}"#,
            source_reader(&db),
            pg_server().login(),
            pg.url()
        ),
    );
    let (j, p) = (job.to_str().unwrap(), plan.to_str().unwrap());
    expect(plan_job(t.path(), j, "4", p, None), 0, "");
    let run_id = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(plan.join("plan.json")).unwrap(),
    )
    .unwrap()["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let stages = |i: u64| -> u64 {
        let names: Vec<String> = tasks_of(&plan, i)
            .iter()
            .map(|id| format!("'datasync_stg_{}_{id}'", run_id.to_lowercase()))
            .collect();
        pg.query(&format!(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ({})",
            names.join(", ")
        ))
        .parse()
        .unwrap()
    };
    let marker = t.path().join("failed-once");
    let hook = format!("3:{}", marker.display());
    let env = [("DATASYNC_TEST_FAIL_SHARD_ONCE", hook.as_str())];
    expect(ds(t.path(), &shard_args(j, p, "3/4"), &env), 75, "");
    let o = stop_mid_write(t.path(), j, &plan, "0/4", "KILL", || stages(0) > 0);
    assert!(
        o.status.code().is_none(),
        "shard 0 was not killed: {}",
        stderr(&o)
    );
    for s in ["0/4", "1/4", "2/4", "3/4"] {
        expect(ds(t.path(), &shard_args(j, p, s), &env), 0, "");
    }
    // Nothing visible before the commit: the target still holds its old row only.
    assert_eq!(
        pg.query("SELECT string_agg(id::text, ',') FROM orders"),
        "-1"
    );
    expect(ds(t.path(), &["commit", p], &[]), 0, "");
    expect(ds(t.path(), &["commit", p], &[]), 0, "committed already");
    // The destructive preSql ran in the publishing transaction; every row exact, once; the
    // staging tables are gone.
    let got = pg.query(
        "SELECT string_agg(id || '|' || amount || '|' || coalesce(name, 'NULL') || '|' || region, E'\\n' ORDER BY id) FROM orders",
    );
    assert_eq!(got.lines().count(), 20000);
    assert!(
        got == source_rows(&db),
        "the target differs from the source"
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'datasync_stg%'"),
        "0"
    );
}

#[test]
fn commit_refuses_staged_output_changed_after_its_shard_reported() {
    let t = tempfile::tempdir().unwrap();
    let (inputs, want) = numbered_csvs(t.path(), 2, 2);
    let out = t.path().join("out");
    let job = file_job(t.path(), &inputs, &out, "0");
    let (j, plan) = (job.to_str().unwrap(), t.path().join("plan"));
    let p = plan.to_str().unwrap();
    expect(plan_job(t.path(), j, "2", p, None), 0, "");
    for s in ["0/2", "1/2"] {
        expect(ds(t.path(), &shard_args(j, p, s), &[]), 0, "");
    }
    // A zombie of an earlier attempt writes on after the shard reported.
    let staged = all_files(&out)
        .into_iter()
        .find(|f| f.contains("_00001"))
        .expect("task 1's staged file");
    std::fs::write(&staged, "9,zombie\n9,zombie\n9,zombie\n").unwrap();
    let o = expect(ds(t.path(), &["commit", p], &[]), 2, "");
    assert_stderr_has(
        &o,
        "task 1: its staged output changed after its shard reported it",
    );
    assert_eq!(published(&out), Vec::<String>::new());
    // The shard run again (its report removed) stages it afresh; then the commit goes through.
    std::fs::remove_file(plan.join("shards/1.json")).unwrap();
    let mut args = shard_args(j, p, "1/2");
    args.extend(["--log-format", "json"]);
    let o = expect(ds(t.path(), &args, &[]), 0, "");
    // --log-format json: every line one JSON object naming the run and the shard; the last
    // one carries the report.
    let run_id = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(plan.join("plan.json")).unwrap(),
    )
    .unwrap()["runId"]
        .clone();
    let lines: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 2);
    for l in &lines {
        assert_eq!(l["runId"], run_id, "{l}");
        assert_eq!(l["shard"], "1/2", "{l}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["report"]["records_written"], 2, "{last}");
    assert!(
        last["message"].as_str().unwrap().contains("STAGED"),
        "{last}"
    );
    let o = expect(ds(t.path(), &["commit", p], &[]), 0, "");
    // The first attempt's file (another name: staged names carry the attempt) is not
    // published: the commit removes what no report lists.
    assert_stderr_has(&o, "removed 1 staged file(s) no shard report lists");
    assert_eq!(visible_files(&out).len(), 2);
    let rows = lines_in(&out);
    assert_eq!(rows, want);
}

/// The PySpark driver in `launchers/spark` with `args`, Spark's local mode; returns its output.
fn spark_driver(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("launchers/spark/datasync_spark.py");
    let mut c = Command::new(python());
    c.current_dir(dir)
        .arg(script)
        .args(args)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env("PYSPARK_PYTHON", python());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn spark_local_runs_the_shards_retries_a_failed_one_and_commits_once() {
    let db = source_table(8000);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    let job = hive_job(t.path(), "spark", r#"{"channel": 1}"#, &db, &out);
    let marker = t.path().join("failed-once");
    let hook = format!("1:{}", marker.display());
    let o = spark_driver(
        t.path(),
        &[
            "--master",
            "local[2,3]",
            "--shards",
            "3",
            "--plan-dir",
            t.path().join("plan").to_str().unwrap(),
            "--binary",
            bin().to_str().unwrap(),
            job.to_str().unwrap(),
        ],
        &[("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook)],
    );
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{log}");
    assert!(marker.exists(), "shard 1 did not fail once:\n{log}");
    assert!(log.contains("Spark retries it"), "{log}");
    assert!(
        log.contains("8000 record(s) written by 3 shard(s)"),
        "{log}"
    );
    let got = duckdb_rows(&out);
    assert!(
        got.trim_end() == source_rows(&db),
        "the table differs from the source"
    );
}

/// A Spark standalone master and one worker on loopback (from the test venv's pyspark),
/// stopped on drop.
struct SparkStandalone {
    procs: Vec<std::process::Child>,
    url: String,
}

impl SparkStandalone {
    fn start(dir: &Path, worker_env: &[(&str, &str)]) -> SparkStandalone {
        let class = python().with_file_name("spark-class");
        let (port, ui, wui) = (free_port(), free_port(), free_port());
        let url = format!("spark://127.0.0.1:{port}");
        let spawn = |args: &[String], env: &[(&str, &str)], log: &str| {
            let mut c = Command::new(&class);
            c.args(args)
                .env("SPARK_LOCAL_IP", "127.0.0.1")
                .env("SPARK_LOG_DIR", dir)
                .env("PYSPARK_PYTHON", python())
                .stdout(std::fs::File::create(dir.join(format!("{log}.out"))).unwrap())
                .stderr(std::fs::File::create(dir.join(format!("{log}.err"))).unwrap());
            for (k, v) in env {
                c.env(k, v);
            }
            c.spawn().unwrap()
        };
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let master = spawn(
            &s(&[
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--webui-port",
                &ui.to_string(),
            ]),
            &[],
            "master",
        );
        let mut me = SparkStandalone {
            procs: vec![master],
            url: url.clone(),
        };
        let worker = spawn(
            &s(&[
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                "2",
                "--memory",
                "1g",
                "--webui-port",
                &wui.to_string(),
                &url,
            ]),
            worker_env,
            "worker",
        );
        me.procs.push(worker);
        // Ready when the master has registered the worker.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let log = std::fs::read_to_string(dir.join("master.err")).unwrap_or_default();
            if log.contains("Registering worker") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Spark standalone did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        me
    }
}

impl Drop for SparkStandalone {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

#[test]
fn spark_standalone_runs_the_shards_on_its_worker_and_retries_a_failed_one() {
    let t = tempfile::tempdir().unwrap();
    let (inputs, want) = numbered_csvs(t.path(), 4, 250);
    let out = t.path().join("out");
    let job = file_job(t.path(), &inputs, &out, "0");
    let marker = t.path().join("failed-once");
    let hook = format!("2:{}", marker.display());
    let spark = SparkStandalone::start(t.path(), &[("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook)]);
    let o = spark_driver(
        t.path(),
        &[
            "--master",
            &spark.url,
            "--shards",
            "4",
            "--plan-dir",
            t.path().join("plan").to_str().unwrap(),
            "--binary",
            bin().to_str().unwrap(),
            job.to_str().unwrap(),
        ],
        &[],
    );
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{log}");
    assert!(marker.exists(), "shard 2 did not fail once:\n{log}");
    assert!(
        log.contains("1000 record(s) written by 4 shard(s)"),
        "{log}"
    );
    let rows = lines_in(&out);
    assert_eq!(rows, want);
}

/// Compares `got` with the golden file `tests/golden/submit/NAME` (`DATASYNC_BLESS=1`
/// rewrites it).
fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/submit")
        .join(name);
    if std::env::var("DATASYNC_BLESS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (DATASYNC_BLESS=1 writes it)", path.display()));
    assert!(
        got == want,
        "{name} differs from {}:\n{got}",
        path.display()
    );
}

#[test]
fn submit_writes_slurm_scripts_and_prints_k8s_and_yarn_specs() {
    let t = tempfile::tempdir().unwrap();
    let (inputs, _) = numbered_csvs(t.path(), 3, 1);
    let job = file_job(t.path(), &inputs, &t.path().join("out"), "0");
    let (j, plan) = (job.to_str().unwrap(), t.path().join("plan"));
    let p = plan.to_str().unwrap();
    expect(plan_job(t.path(), j, "3", p, Some("golden-1")), 0, "");
    let tmp = t.path().to_str().unwrap();
    let common = [
        j,
        "--shards",
        "3",
        "--plan-dir",
        p,
        "--binary",
        "/opt/datasync/bin/datasync",
        "-p",
        "region=eu",
        "-p",
        "db_password=Sup3r-Secret-77",
    ];
    // A secret -p value never lands in a script or manifest (nor on stderr).
    let submit = |kind: &str, extra: &[&str]| {
        let mut args = vec!["submit", kind];
        args.extend(common);
        args.extend(extra);
        let o = expect(ds(t.path(), &args, &[]), 0, "");
        let out = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(
            !out.contains("Secret-77") && !stderr(&o).contains("Secret-77"),
            "{out}"
        );
        out.replace(tmp, "<TMP>")
    };
    submit(
        "slurm",
        &[
            "--max-parallel",
            "2",
            "--dry-run",
            "--sbatch-option",
            "--partition=etl",
        ],
    );
    for f in ["shards.sbatch", "commit.sbatch"] {
        let path = plan.join("slurm").join(f);
        assert!(!std::fs::read_to_string(&path)
            .unwrap()
            .contains("Secret-77"));
        let st = Command::new("bash").arg("-n").arg(&path).status().unwrap();
        assert!(st.success(), "{f} is not valid bash");
        golden(
            f,
            &std::fs::read_to_string(&path)
                .unwrap()
                .replace(tmp, "<TMP>"),
        );
    }
    let k8s = submit(
        "k8s",
        &[
            "--image",
            "registry.example/datasync:1.0",
            "--claim",
            "etl-shared",
        ],
    );
    golden("k8s.json", &k8s);
    let yarn = submit("yarn", &[]);
    golden("yarn.json", &yarn);
    // A plan for another shard count is not taken over.
    expect(
        ds(
            t.path(),
            &["submit", "yarn", j, "--shards", "4", "--plan-dir", p],
            &[],
        ),
        2,
        "",
    );
    // The Kubernetes objects are valid batch/v1 Jobs by the official client's models: every
    // field is known to them (a round trip keeps it) and the required ones are there.
    run_python(
        r#"
import json, sys
from kubernetes import client
api = client.ApiClient()
doc = json.loads(sys.argv[1])
assert doc["kind"] == "List" and len(doc["items"]) == 2
for item in doc["items"]:
    job = api.deserialize(json.dumps(item), "V1Job", "application/json")
    back = api.sanitize_for_serialization(job)
    assert back == item, (back, item)
    assert job.spec.template.spec.containers[0].command[0] == "/opt/datasync/bin/datasync"
shards = doc["items"][0]["spec"]
assert shards["completionMode"] == "Indexed" and shards["completions"] == 3
assert shards["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"][0] == 42
env = shards["template"]["spec"]["containers"][0]["env"]
ref = [e for e in env if e["name"] == "DATASYNC_PARAM_db_password"][0]
assert ref["valueFrom"]["secretKeyRef"]["key"] == "db_password", env
"#,
        &[&k8s],
    );
}

/// A single-node Slurm (munged, slurmctld, slurmd as root) in `dir`, its listeners bound to
/// 127.0.0.1 by a preloaded shim (`tests/slurm/bindlo.c`: Slurm has no listen-address
/// setting), stopped on drop.
struct Slurm {
    dir: PathBuf,
    conf: PathBuf,
}

impl Slurm {
    fn start(dir: &Path) -> Slurm {
        for cmd in ["munged", "slurmctld", "slurmd", "sbatch", "gcc"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {cmd}")])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{cmd} is missing: run tests/setup.sh (it installs slurm-wlm, munge and gcc)"
            );
        }
        let dir = dir.to_path_buf();
        let shim = dir.join("bindlo.so");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/bindlo.c");
        sh_in(
            &format!(
                "gcc -shared -fPIC -O2 -o {} {} -ldl",
                shim.display(),
                src.display()
            ),
            &dir,
        );
        for d in ["state", "spool", "munge"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        sh_in(
            "chmod 700 munge && head -c 1024 /dev/urandom > munge/key && chmod 600 munge/key",
            &dir,
        );
        let host = String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        let d = dir.display();
        let conf = file_in(&dir, "slurm.conf", format!(
                "ClusterName=dstest\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={}\nSlurmdPort={}\n\
                 AuthType=auth/munge\nAuthInfo=socket={d}/munge/sock\nCryptoType=crypto/munge\n\
                 MpiDefault=none\nProctrackType=proctrack/linuxproc\nReturnToService=2\n\
                 SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
                 SlurmdSpoolDir={d}/spool\nStateSaveLocation={d}/state\nSlurmUser=root\nSlurmdUser=root\n\
                 SwitchType=switch/none\nTaskPlugin=task/none\nSchedulerType=sched/backfill\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nJobCompType=jobcomp/none\n\
                 JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
                 SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN\n\
                 PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
                free_port(),
                free_port()
            ));
        let me = Slurm {
            dir: dir.clone(),
            conf: conf.clone(),
        };
        sh_in(
            &format!(
                "munged --force --key-file={d}/munge/key --socket={d}/munge/sock \
                 --pid-file={d}/munge/pid --log-file={d}/munge/log --seed-file={d}/munge/seed"
            ),
            &dir,
        );
        for daemon in ["slurmctld -c", "slurmd"] {
            sh_in(
                &format!(
                    "LD_PRELOAD={} {daemon} -f {}",
                    shim.display(),
                    conf.display()
                ),
                &dir,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = me.cmd("sinfo", &["-h", "-o", "%T"]);
            if String::from_utf8_lossy(&o.stdout).trim() == "idle" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Slurm did not come up: {}\n{}",
                String::from_utf8_lossy(&o.stderr),
                std::fs::read_to_string(dir.join("slurmctld.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        me
    }

    /// A Slurm client command against this cluster.
    fn cmd(&self, prog: &str, args: &[&str]) -> Output {
        Command::new(prog)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .unwrap()
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        for pid in ["slurmd.pid", "slurmctld.pid", "munge/pid"] {
            if let Ok(p) = std::fs::read_to_string(self.dir.join(pid)) {
                let _ = Command::new("kill").arg(p.trim()).status();
            }
        }
    }
}

#[test]
fn slurm_runs_the_array_requeues_a_failed_shard_and_the_commit_job_publishes_once() {
    let t = tempfile::tempdir().unwrap();
    let slurm = Slurm::start(t.path());
    let (inputs, want) = numbered_csvs(t.path(), 3, 100);
    let out = t.path().join("out");
    let job = file_job(t.path(), &inputs, &out, "0");
    let plan = t.path().join("plan");
    let marker = t.path().join("failed-once");
    let hook = format!("1:{}", marker.display());
    let conf = slurm.conf.to_str().unwrap().to_string();
    let o = expect(
        ds(
            t.path(),
            &[
                "submit",
                "slurm",
                job.to_str().unwrap(),
                "--shards",
                "3",
                "--plan-dir",
                plan.to_str().unwrap(),
                "--max-parallel",
                "2",
                "--binary",
                bin().to_str().unwrap(),
            ],
            &[
                ("SLURM_CONF", &conf),
                ("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook),
            ],
        ),
        0,
        "",
    );
    let ids = String::from_utf8(o.stdout).unwrap();
    let array = ids.split_whitespace().next().unwrap().to_string();
    // Shard 1 fails once (exit 75) and requeues itself; Slurm holds a requeued task back for
    // two minutes, which the test shortens once it has seen the requeue.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !plan.join("_COMMITTED").exists() {
        assert!(
            Instant::now() < deadline,
            "the run was not committed: {}",
            all_files(&plan.join("slurm"))
                .iter()
                .map(|f| format!("{f}:\n{}", std::fs::read_to_string(f).unwrap_or_default()))
                .collect::<String>()
        );
        if marker.exists() {
            let _ = slurm.cmd(
                "scontrol",
                &["update", &format!("JobId={array}_1"), "StartTime=now"],
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(marker.exists(), "shard 1 never failed");
    let show = slurm.cmd("scontrol", &["show", "job", &format!("{array}_1")]);
    let show = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(
        show.contains("Restarts=1"),
        "shard 1 was not requeued:\n{show}"
    );
    let rows = lines_in(&out);
    assert_eq!(rows, want);
    // The shard logs are JSON lines naming their shard.
    let log = std::fs::read_to_string(plan.join(format!("slurm/shard-0-{array}.log"))).unwrap();
    for l in log.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert_eq!(v["shard"], "0/3", "{l}");
    }
}

#[test]
fn sftp_shards_upload_under_temporary_names_and_the_commit_renames_them_once() {
    let s = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let (inputs, want) = numbered_csvs(t.path(), 3, 50);
    let remote = s.data().join("up");
    std::fs::create_dir_all(&remote).unwrap();
    // An older run's file of the same fileName: truncate replaces it at commit.
    std::fs::write(remote.join("up__old_00000.csv"), "1,old\n").unwrap();
    let job = write_job(
        t.path(),
        "to_sftp",
        &format!(
            r#"{{"job": {{"setting": {{}}, "content": [{{
                "reader": {{"name": "txtfilereader", "parameter": {{"path": "{}/*.csv", "fileFormat": "csv",
                  "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}},
                "writer": {{"name": "ftpwriter", "parameter": {{{}, "path": "{}", "fileName": "up.csv",
                  "writeMode": "truncate", "fileFormat": "csv"}}}}}}]}}}}"#,
            inputs.display(),
            s.conn(),
            remote.display()
        ),
    );
    let (j, plan) = (job.to_str().unwrap(), t.path().join("plan"));
    let p = plan.to_str().unwrap();
    expect(
        ds(t.path(), &["plan", j, "--shards", "3", "--out", p], &[]),
        0,
        "",
    );
    for sh in ["0/3", "1/3", "2/3"] {
        expect(ds(t.path(), &shard_args(j, p, sh), &[]), 0, "");
    }
    // Only the old file is visible before the commit.
    assert_eq!(
        published(&remote),
        vec![remote.join("up__old_00000.csv").display().to_string()]
    );
    // An upload that changed after its shard reported is refused.
    let temp = all_files(&remote)
        .into_iter()
        .find(|f| f.contains(".datasync-tmp-") && f.contains("_00002"))
        .expect("task 2's upload");
    let before = std::fs::read(&temp).unwrap();
    std::fs::write(&temp, [before.as_slice(), b"9,zombie\n"].concat()).unwrap();
    expect(ds(t.path(), &["commit", p], &[]), 2, "task 2: its upload");
    std::fs::remove_file(plan.join("shards/2.json")).unwrap();
    expect(ds(t.path(), &shard_args(j, p, "2/3"), &[]), 0, "");
    expect(ds(t.path(), &["commit", p], &[]), 0, "");
    expect(ds(t.path(), &["commit", p], &[]), 0, "committed already");
    let files = published(&remote);
    assert_eq!(files.len(), 3, "{files:?}");
    let rows = lines_in(&remote);
    assert_eq!(rows, want);
    assert!(
        all_files(&remote).iter().all(|f| !f.contains(".datasync-")),
        "{:?}",
        all_files(&remote)
    );
}

/// Plans `job` into `dir/name` with `extra` arguments; returns the output.
fn plan_into(dir: &Path, job: &str, name: &str, shards: &str, extra: &[&str]) -> Output {
    let out = dir.join(name);
    let mut args = vec![
        "plan",
        job,
        "--shards",
        shards,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    ds(dir, &args, &[])
}

#[test]
fn a_plan_guards_against_edits_changed_inputs_reused_run_ids_and_concurrent_commits() {
    let t = tempfile::tempdir().unwrap();
    let (inputs, _) = numbered_csvs(t.path(), 2, 20);
    let out = t.path().join("out");
    let job = file_job(t.path(), &inputs, &out, "0");
    let j = job.to_str().unwrap();
    let shard = |plan: &str, s: &str| ds(t.path(), &shard_args(j, plan, s), &[]);
    let run = |verb: &str, plan: &Path| ds(t.path(), &[verb, plan.to_str().unwrap()], &[]);
    // A plan of two shards under `name`, made with `extra` arguments.
    let planned = |name: &str, extra: &[&str]| {
        expect(plan_into(t.path(), j, name, "2", extra), 0, "");
        t.path().join(name)
    };

    // An edited plan (a task copied into another shard) no longer matches its hash.
    let edited = planned("edited", &[]);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(edited.join("plan.json")).unwrap()).unwrap();
    let mut copy = v["tasks"][0].clone();
    copy["id"] = 2.into();
    copy["shard"] = 1.into();
    v["tasks"].as_array_mut().unwrap().push(copy);
    std::fs::write(edited.join("plan.json"), v.to_string()).unwrap();
    expect(
        shard(edited.to_str().unwrap(), "1/2"),
        2,
        "is not the one planned",
    );
    expect(run("abort", &edited), 2, "");

    // A planned input file that changed is refused for good (42): the plan holds its size.
    let changed = planned("changed", &["--run-id", "changed-1"]);
    std::fs::write(inputs.join("f0.csv"), "0,v0\n1,v0\n2,v0\n3,v0 and more\n").unwrap();
    let why = "its input changed since the plan was made";
    expect(shard(changed.to_str().unwrap(), "0/2"), 42, why);
    expect(run("abort", &changed), 0, "");

    // A run id whose files are published already is refused at plan.
    let first = planned("first", &["--run-id", "daily-1"]);
    let f = first.to_str().unwrap();
    for s in ["0/2", "1/2"] {
        expect(shard(f, s), 0, "");
    }
    // Two commits at once: the second says so and leaves the first alone.
    let slow = spawn(
        t.path(),
        &["commit", f],
        &[("DATASYNC_TEST_COMMIT_STEP_DELAY_MS", "1500")],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !first.join("_COMMITTING").exists() {
        assert!(Instant::now() < deadline, "the first commit never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let why = "another commit or abort of run daily-1 is running";
    expect(run("commit", &first), 1, why);
    expect(slow.wait_with_output().unwrap(), 0, "");
    let published_first = lines_in(&out);
    assert_eq!(
        published_first.len(),
        24,
        "f1 whole and f0 as changed before this plan"
    );
    expect(
        plan_into(t.path(), j, "again", "2", &["--run-id", "daily-1"]),
        1,
        "run id daily-1 was used before",
    );

    // A commit that fails before it is decided publishes nothing, and the run may be
    // aborted: here a file of the same name appears in the target (nonConflict).
    let nc = write_job(
        t.path(),
        "nc",
        &std::fs::read_to_string(&job)
            .unwrap()
            .replace("\"truncate\"", "\"nonConflict\"")
            .replace(
                out.to_str().unwrap(),
                t.path().join("nc_out").to_str().unwrap(),
            ),
    );
    let ncj = nc.to_str().unwrap();
    expect(plan_into(t.path(), ncj, "nc_plan", "1", &[]), 0, "");
    let ncp = t.path().join("nc_plan");
    let args = shard_args(ncj, ncp.to_str().unwrap(), "0/1");
    expect(ds(t.path(), &args, &[]), 0, "");
    std::fs::write(t.path().join("nc_out/out__late_00000.csv"), "late\n").unwrap();
    expect(run("commit", &ncp), 1, "");
    assert_eq!(lines_in(&t.path().join("nc_out")), vec!["late"]);
    expect(run("abort", &ncp), 0, "");
    assert!(
        all_files(&t.path().join("nc_out"))
            .iter()
            .all(|f| !f.contains(".datasync")),
        "{:?}",
        all_files(&t.path().join("nc_out"))
    );
}

/// `job.verify` in container-task mode: each shard reports its tasks' reader-side figures,
/// `datasync commit` sums them and compares them with the staged output before publishing.
#[test]
fn commit_verifies_the_shards_summed_figures_before_publishing() {
    let db = source_table(2000);
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let out = dir.join("table");
    let rules = r#""verify": {"rules": [{"rule": "count"}, {"rule": "sum", "column": "amount"},
        {"rule": "max", "column": "name"}, {"rule": "checksum"}]}, "content": ["#;
    let job = hive_job(dir, "v", r#"{"channel": 2}"#, &db, &out);
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replacen(r#""content": ["#, rules, 1);
    std::fs::write(&job, &text).unwrap();
    let j = job.to_str().unwrap();
    expect(
        ds(dir, &["plan", j, "--shards", "2", "--out", "p1"], &[]),
        0,
        "",
    );
    expect(ds(dir, &shard_args(j, "p1", "0/2"), &[]), 0, "");
    // Other rules are another job: its shards would report other figures.
    let edited = write_job(dir, "v", &text.replacen(r#"{"rule": "count"}, "#, "", 1));
    expect(
        ds(dir, &shard_args(edited.to_str().unwrap(), "p1", "1/2"), &[]),
        2,
        "is not the one planned",
    );
    let job = write_job(dir, "v", &text);
    let j = job.to_str().unwrap();
    expect(ds(dir, &shard_args(j, "p1", "1/2"), &[]), 0, "");
    let o = expect(ds(dir, &["commit", "p1"], &[]), 0, "committed run");
    assert_stderr_has(&o, "verify    count [strong]: read 2000, target 2000: ok");
    assert_stderr_has(&o, "verify    checksum [strong]");
    assert!(
        duckdb_rows(&out).trim_end() == source_rows(&db),
        "the table differs from the source"
    );

    // name as VARCHAR(3): most rows are dirty under the error limit; the staged output holds
    // fewer rows than were read, the commit refuses with exit 4 and publishes nothing.
    let before = published(&out);
    let short = text
        .replace(r#""type": "STRING""#, r#""type": "VARCHAR(3)""#)
        .replacen(
            r#""speed""#,
            r#""errorLimit": {"record": 5000}, "speed""#,
            1,
        );
    let job2 = write_job(dir, "short", &short);
    let j2 = job2.to_str().unwrap();
    expect(
        ds(dir, &["plan", j2, "--shards", "2", "--out", "p2"], &[]),
        0,
        "",
    );
    for s in ["0/2", "1/2"] {
        expect(ds(dir, &shard_args(j2, "p2", s), &[]), 0, "");
    }
    let o = expect(ds(dir, &["commit", "p2"], &[]), 4, "nothing was published");
    assert_stderr_has(&o, "count [strong]: read 2000, target");
    assert_stderr_has(&o, "MISMATCH");
    assert_eq!(published(&out), before);
    expect(ds(dir, &["abort", "p2"], &[]), 0, "");
    assert!(
        !all_files(&out).iter().any(|f| f.contains("staging")),
        "{:?}",
        all_files(&out)
    );
}
