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

/// Starts shard `shard` and stops it with `signal` once it has staged a file of one of its
/// tasks; returns its output.
fn stop_mid_write(
    dir: &Path,
    job: &str,
    plan: &Path,
    shard: &str,
    signal: &str,
    out: &Path,
) -> Output {
    let i: u64 = shard.split('/').next().unwrap().parse().unwrap();
    let marks: Vec<String> = tasks_of(plan, i)
        .iter()
        .map(|t| format!("_{t:05}_"))
        .collect();
    let child = Command::new(bin())
        .current_dir(dir)
        .args(shard_args(job, plan.to_str().unwrap(), shard))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all_files(out)
        .iter()
        .any(|f| marks.iter().any(|m| f.contains(m)))
    {
        assert!(
            Instant::now() < deadline,
            "shard {shard} never staged a file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let st = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    child.wait_with_output().unwrap()
}

#[test]
fn four_shards_mysql_to_hive_parquet_survive_failure_kill_and_term_and_publish_once() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE t (id BIGINT PRIMARY KEY, region VARCHAR(8) NOT NULL, amount DECIMAL(12,2), name VARCHAR(20));
         SET SESSION max_recursive_iterations = 100000;
         INSERT INTO t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20000)
           SELECT n, CONCAT('r', n % 4), n * 1.25, IF(n % 7 = 0, NULL, CONCAT('n', n)) FROM s;",
    );
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    let plan = t.path().join("plan");
    let job = write_job(
        t.path(),
        "orders",
        &format!(
            r#"{{"job": {{"setting": {{"speed": {{"channel": 2, "record": 6000}}}},
              "content": [{{
                "reader": {{"name": "mysqlreader", "parameter": {{"username": "root", "password": "",
                  "column": ["id", "amount", "name", "region"], "splitPk": "id",
                  "connection": [{{"table": ["t"], "jdbcUrl": ["{}"]}}]}}}},
                "writer": {{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "parquet",
                  "path": "{}", "fileName": "part", "writeMode": "truncate",
                  "column": [{{"name": "id", "type": "BIGINT"}}, {{"name": "amount", "type": "DECIMAL(12,2)"}},
                             {{"name": "name", "type": "STRING"}}],
                  "partitionColumns": ["region"]}}}}
              }}]}}}}"#,
            db.url(),
            out.display()
        ),
    );
    let (j, p) = (job.to_str().unwrap(), plan.to_str().unwrap());
    let o = ds(t.path(), &["plan", j, "--shards", "4", "--out", p], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "in 4 shard(s)");
    for i in 0..4 {
        assert!(!tasks_of(&plan, i).is_empty(), "shard {i} got no task");
    }

    // Shard 0 fails once at the worst moment (all staged, no report): exit 75, retried.
    let marker = t.path().join("failed-once");
    let hook = format!("0:{}", marker.display());
    let o = ds(
        t.path(),
        &shard_args(j, p, "0/4"),
        &[("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook)],
    );
    assert_eq!(code(&o), 75, "{}", stderr(&o));
    assert!(!plan.join("shards/0.json").exists());
    let o = ds(
        t.path(),
        &shard_args(j, p, "0/4"),
        &[("DATASYNC_TEST_FAIL_SHARD_ONCE", &hook)],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "STAGED (not published yet)");

    // Shard 1 is killed with SIGKILL mid-write, then run again.
    let o = stop_mid_write(t.path(), j, &plan, "1/4", "-KILL", &out);
    assert!(
        o.status.code().is_none(),
        "shard 1 was not killed: {}",
        stderr(&o)
    );
    assert!(!plan.join("shards/1.json").exists());
    // Shard 2 stops on SIGTERM at a batch boundary: exit 143, no report.
    let o = stop_mid_write(t.path(), j, &plan, "2/4", "-TERM", &out);
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    assert!(!plan.join("shards/2.json").exists());

    // Shard 3 through the scheduler's environment (a Slurm array with ids 10..13).
    let o = ds(
        t.path(),
        &["run", j, "--plan", p, "--no-progress"],
        &[
            ("SLURM_ARRAY_TASK_ID", "13"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Commit before every shard reported: nothing published, the missing shards listed.
    let o = ds(t.path(), &["commit", p], &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "shard(s) 1, 2");
    for s in ["1/4", "2/4"] {
        let o = ds(t.path(), &shard_args(j, p, s), &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    // A retried shard whose report exists exits 0 at once.
    let o = ds(t.path(), &shard_args(j, p, "3/4"), &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "was done already");
    assert_eq!(
        published(&out),
        Vec::<String>::new(),
        "visible before commit"
    );

    let o = ds(t.path(), &["commit", p], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "20000 record(s) written by 4 shard(s)");
    let files = published(&out);
    assert!(!files.is_empty());
    let o = ds(t.path(), &["commit", p], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "committed already");
    assert_eq!(published(&out), files, "a second commit changed the table");
    assert!(
        all_files(&out)
            .iter()
            .all(|f| !f.contains(".datasync-staging")),
        "staging left after commit"
    );

    // Every row exact and once: MariaDB's rows against DuckDB's reading of the table.
    let want = db.query(
        "SELECT CONCAT(id, '|', amount, '|', COALESCE(name, 'NULL'), '|', region) FROM t ORDER BY id",
    );
    let got = run_python(
        r#"
import sys, duckdb
rows = duckdb.sql(f"""SELECT id || '|' || CAST(amount AS VARCHAR) || '|' || coalesce(name, 'NULL') || '|' || region
  FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true) ORDER BY id""").fetchall()
print("\n".join(r[0] for r in rows))
"#,
        &[out.to_str().unwrap()],
    );
    assert_eq!(got.trim_end().lines().count(), 20000);
    assert!(got.trim_end() == want, "the table differs from the source");
    // The partitions carry their success markers.
    for r in 0..4 {
        assert!(out.join(format!("region=r{r}/_SUCCESS")).exists());
    }
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
    let inputs = t.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    for f in 0..3 {
        // One bad row (not a number) per file: 3 dirty in all.
        let mut csv = String::new();
        for i in 0..100 {
            csv.push_str(&format!("{},v{f}-{i}\n", f * 1000 + i));
        }
        csv.push_str("oops,bad\n");
        std::fs::write(inputs.join(format!("f{f}.csv")), csv).unwrap();
    }
    let out = t.path().join("out");
    let job = file_job(t.path(), &inputs, &out, "2");
    let j = job.to_str().unwrap();

    // Same job, same shard count: same hash and the same tasks, whatever the run id.
    let plan_of = |name: &str, id: &str| {
        let p = t.path().join(name);
        let o = ds(
            t.path(),
            &[
                "plan",
                j,
                "--shards",
                "3",
                "--out",
                p.to_str().unwrap(),
                "--run-id",
                id,
            ],
            &[],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
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
    let o = ds(
        t.path(),
        &[
            "plan",
            j,
            "--shards",
            "3",
            "--out",
            t.path().join("pc").to_str().unwrap(),
            "--run-id",
            "run-a",
        ],
        &[],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "planned already");
    // A plan directory holds one plan.
    let o = ds(
        t.path(),
        &["plan", j, "--shards", "3", "--out", pa.to_str().unwrap()],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // Abort b: its staging goes, its shards then refuse to run (do not retry: 42).
    let o = ds(t.path(), &["abort", pb.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = ds(t.path(), &shard_args(j, pb.to_str().unwrap(), "0/3"), &[]);
    assert_eq!(code(&o), 42, "{}", stderr(&o));
    assert!(
        all_files(&out).iter().all(|f| !f.contains("run-b")),
        "{:?}",
        all_files(&out)
    );

    let p = pa.to_str().unwrap();
    // A shard count or a job that does not fit the plan: exit 2, nothing run.
    let o = ds(t.path(), &shard_args(j, p, "0/4"), &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let other = file_job(
        &t.path().join("in"),
        &inputs,
        &t.path().join("elsewhere"),
        "2",
    );
    let o = ds(
        t.path(),
        &shard_args(other.to_str().unwrap(), p, "0/3"),
        &[],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "is not the one planned");
    let o = ds(t.path(), &["run", j, "--plan", p, "--no-progress"], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "no shard given");

    // Each shard has one dirty record: under the limit of 2 alone, over it together.
    for s in ["0/3", "1/3", "2/3"] {
        let o = ds(t.path(), &shard_args(j, p, s), &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let o = ds(t.path(), &["commit", p], &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
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
    let o = ds(t.path(), &["abort", p], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(all_files(&out).is_empty(), "{:?}", all_files(&out));
    let o = ds(t.path(), &["commit", p], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "aborted");
}
