//! Faults against the staged writers, through the binary: SIGKILL in the middle of a write and
//! in the middle of a commit, a dirty-record file that cannot be written, a full disk (a small
//! tmpfs the test mounts; root needed). Each case ends with the whole result compared row by
//! row (files by their lines, Parquet by DuckDB): nothing lost, nothing twice, never a mix of
//! an old and a new run.

#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `files` CSV files of `rows` rows each: `id,tag` with ids unique over all files.
fn inputs(dir: &Path, files: usize, rows: usize, tag: &str) -> PathBuf {
    let d = dir.join(format!("in_{tag}"));
    std::fs::create_dir_all(&d).unwrap();
    for f in 0..files {
        let text: String = (0..rows)
            .map(|r| format!("{},{tag}\n", f * rows + r + 1))
            .collect();
        std::fs::write(d.join(format!("part{f:02}.csv")), text).unwrap();
    }
    d
}

/// The lines every file of run `tag` holds, sorted.
fn want_lines(files: usize, rows: usize, tag: &str) -> Vec<String> {
    let mut v: Vec<String> = (1..=files * rows).map(|i| format!("{i},{tag}")).collect();
    v.sort();
    v
}

const COLS: &str = r#"[{"index": 0, "type": "long"}, {"index": 1, "type": "string"}]"#;

/// Starts `datasync ARGS` in `dir` with extra environment; stderr captured.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

/// Runs job `p` in `t`, does `fault` 1.5 s in, and returns the job's output (a hang fails).
fn run_with_fault(t: &Path, p: &Path, fault: impl FnOnce()) -> std::process::Output {
    let child = spawn(t, &["run", p.to_str().unwrap(), "--no-progress"], &[]);
    std::thread::sleep(Duration::from_millis(1500));
    fault();
    wait_or_hang(child, Duration::from_secs(180))
}

/// Writes `text` as a job in `dir` and starts it (no progress).
fn start_job(dir: &Path, text: &str) -> Child {
    let p = write_job(dir, "started", text);
    spawn(dir, &["run", p.to_str().unwrap(), "--no-progress"], &[])
}

/// Runs job `p` in `dir` (no progress) with `extra` arguments.
fn run_with(dir: &Path, p: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", p.to_str().unwrap(), "--no-progress"];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

/// Waits (bounded) until `cond` holds; panics naming `what` otherwise.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < end, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL, and reap it.
fn kill9(mut child: Child) {
    let st = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let st = child.wait().unwrap();
    assert_eq!(st.code(), None, "it was still running when killed");
}

/// Staging directories (hidden) directly in `dir`.
fn stagings(dir: &Path) -> Vec<PathBuf> {
    all_entries(dir)
        .into_iter()
        .filter(|n| n.starts_with(".datasync-staging-"))
        .map(|n| dir.join(n))
        .collect()
}

fn journal_in(dir: &Path) -> bool {
    stagings(dir)
        .iter()
        .any(|s| s.join("_commit.json").exists())
}

/// How many of `files` (the published ones) exist.
fn published_count(dir: &Path) -> usize {
    visible_files(dir).len()
}

#[test]
fn sigkill_mid_commit_of_the_file_writer_rolls_forward_never_a_mix() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (files, rows) = (8, 500);
    let old = inputs(t.path(), files, rows, "old");
    let new = inputs(t.path(), files, rows, "new");
    let setting = r#"{"speed": {"channel": 4}}"#;
    let job_old = write_job(
        t.path(),
        "old",
        &file_to_file(&old, COLS, &out, "", "", setting),
    );
    let job_new = write_job(
        t.path(),
        "new",
        &file_to_file(&new, COLS, &out, "", "", setting),
    );
    let o = run_with(t.path(), &job_old, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines_in(&out), want_lines(files, rows, "old"));

    // Two kills at two moments: between the moves, and after every move (old files not yet
    // removed); the first recovered by `datasync recover`, the second by the next run.
    for (moment, recover_by_run) in [(3usize, false), (files, true)] {
        let child = spawn(
            t.path(),
            &["run", job_new.to_str().unwrap(), "--no-progress"],
            &[("DATASYNC_TEST_COMMIT_STEP_DELAY_MS", "400")],
        );
        wait_for("the commit journal", || journal_in(&out));
        // The old files and `moment` of the new ones are visible now.
        wait_for("the moves", || published_count(&out) >= files + moment);
        kill9(child);
        assert!(journal_in(&out), "the decided commit is still recorded");
        if recover_by_run {
            let o = run_with(t.path(), &job_new, &[]);
            assert_eq!(code(&o), 0, "{}", stderr(&o));
            assert_stderr_has(&o, "finished the interrupted commit");
        } else {
            let o = run_in(t.path(), &["recover", job_new.to_str().unwrap()]);
            assert_eq!(code(&o), 0, "{}", stderr(&o));
            assert_stderr_has(&o, "finished the interrupted commit");
            let again = run_in(t.path(), &["recover", job_new.to_str().unwrap()]);
            assert_stderr_has(&again, "nothing to recover");
        }
        // Exactly the new run's rows, each once: no old file left beside the new ones.
        assert_eq!(lines_in(&out), want_lines(files, rows, "new"));
        assert_eq!(published_count(&out), files);
        assert_eq!(stagings(&out), Vec::<PathBuf>::new());
    }
}

#[test]
fn sigkill_mid_write_leaves_staging_that_the_next_run_removes() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let input = inputs(t.path(), 2, 200_000, "x");
    // Throttled, so the kill surely lands mid-write.
    let job = write_job(
        t.path(),
        "slow",
        &file_to_file(
            &input,
            COLS,
            &out,
            "",
            "",
            r#"{"speed": {"record": 100000}}"#,
        ),
    );
    let child = spawn(
        t.path(),
        &["run", job.to_str().unwrap(), "--no-progress"],
        &[],
    );
    wait_for("a staged file", || {
        stagings(&out).iter().any(|s| {
            visible_files(s)
                .iter()
                .any(|f| f.metadata().is_ok_and(|m| m.len() > 0))
        })
    });
    kill9(child);
    let left = stagings(&out);
    assert_eq!(left.len(), 1, "the killed run's staging: {left:?}");
    assert_eq!(
        published_count(&out),
        0,
        "nothing published by a killed run"
    );
    let fast = write_job(
        t.path(),
        "fast",
        &file_to_file(&input, COLS, &out, "", "", "{}"),
    );
    let o = run_with(t.path(), &fast, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "removed staging directory");
    assert!(!left[0].exists(), "stale staging removed");
    assert_eq!(lines_in(&out), want_lines(2, 200_000, "x"));
}

#[test]
fn sigkill_mid_commit_of_a_partitioned_parquet_table_rolls_forward() {
    let t = tempfile::tempdir().unwrap();
    let table = t.path().join("table");
    let rows = 3000;
    let input = |tag: &str| {
        let p = t.path().join(format!("{tag}.csv"));
        let text: String = (1..=rows)
            .map(|i| format!("{i},{tag},2024-01-{:02}\n", i % 10 + 1))
            .collect();
        std::fs::write(&p, text).unwrap();
        p
    };
    let job_for = |tag: &str| {
        let reader = format!(
            r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}, {{"index": 2, "type": "string"}}]}}}}"#,
            input(tag).display()
        );
        let writer = format!(
            r#"{{"name": "hdfswriter", "parameter": {{"path": "{}", "fileType": "parquet", "fileName": "t", "writeMode": "truncate",
                "column": [{{"name": "id", "type": "BIGINT"}}, {{"name": "tag", "type": "STRING"}}], "partitionColumns": ["dt"]}}}}"#,
            table.display()
        );
        write_job(t.path(), tag, &job("{}", &reader, &writer))
    };
    let (old, new) = (job_for("old"), job_for("new"));
    let o = run_with(t.path(), &old, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let child = spawn(
        t.path(),
        &["run", new.to_str().unwrap(), "--no-progress"],
        &[("DATASYNC_TEST_COMMIT_STEP_DELAY_MS", "300")],
    );
    wait_for("the commit journal", || journal_in(&table));
    std::thread::sleep(Duration::from_millis(1500));
    kill9(child);
    assert!(journal_in(&table));
    // No partition with a _SUCCESS marker holds a mix of old and new files.
    for part in all_entries(&table).iter().filter(|p| p.starts_with("dt=")) {
        let dir = table.join(part);
        if dir.join("_SUCCESS").exists() {
            let names = all_entries(&dir);
            let runs: std::collections::BTreeSet<String> = names
                .iter()
                .filter(|n| n.ends_with(".parquet"))
                // t__<run id>_<task>_<n>.parquet
                .map(|n| {
                    n.split("__")
                        .nth(1)
                        .unwrap()
                        .rsplitn(3, '_')
                        .nth(2)
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert!(
                runs.len() <= 1,
                "{part} has _SUCCESS and files of runs {runs:?}"
            );
        }
    }
    let o = run_in(t.path(), &["recover", new.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "finished the interrupted commit");
    // DuckDB reads the table: every id once, all of the new run, every partition marked.
    let check = run_python(
        r#"
import sys, duckdb
d = sys.argv[1]
r = duckdb.sql(f"SELECT count(*), count(DISTINCT id), sum(id), min(tag), max(tag), count(DISTINCT dt) FROM read_parquet('{d}/*/*.parquet', hive_partitioning=true)").fetchall()[0]
print(r)
"#,
        &[table.to_str().unwrap()],
    );
    assert_eq!(
        check.trim(),
        format!(
            "({rows}, {rows}, {}, 'new', 'new', 10)",
            rows * (rows + 1) / 2
        )
    );
    for d in 1..=10 {
        assert!(table.join(format!("dt=2024-01-{d:02}/_SUCCESS")).exists());
    }
    assert_eq!(stagings(&table), Vec::<PathBuf>::new());
}

/// A job over `input` with one bad row (a non-number id) into `out` (truncate).
fn job_with_a_dirty_row(t: &Path, out: &Path) -> PathBuf {
    let input = t.join("dirty.csv");
    std::fs::write(&input, "1,a\n2,b\nnot-a-number,c\n4,d\n").unwrap();
    write_job(
        t,
        "dirtyjob",
        &file_to_file(&input, COLS, out, "", "", "{}"),
    )
}

#[test]
fn a_dirty_file_that_cannot_be_written_fails_the_job_and_keeps_the_old_output() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let before = "100,kept\n";
    std::fs::write(out.join("out__earlier_00000"), before).unwrap();
    let job = job_with_a_dirty_row(t.path(), &out);
    let a_dir = t.path().join("i-am-a-directory");
    std::fs::create_dir_all(&a_dir).unwrap();
    for dirty in ["/dev/full", a_dir.to_str().unwrap()] {
        let o = run_in(
            t.path(),
            &[
                "run",
                job.to_str().unwrap(),
                "--dirty-file",
                dirty,
                "--no-progress",
                "--report",
                "r.json",
            ],
        );
        assert_eq!(code(&o), 1, "{dirty}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cannot write the dirty-record file")
                && stderr(&o).contains("FAILED"),
            "{dirty}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("SUCCEEDED"), "{}", stderr(&o));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap())
                .unwrap();
        assert_eq!(r["dirty_records"], 0, "the file holds no dirty row: {r}");
        // truncate did not replace the earlier output with a partial one.
        assert_eq!(all_entries(&out), ["out__earlier_00000"]);
        assert_eq!(
            std::fs::read_to_string(out.join("out__earlier_00000")).unwrap(),
            before
        );
    }
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let d = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(d.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs (the disk-full tests need root)");
        Tmpfs(d)
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_under_the_file_and_parquet_writers_publishes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let input = inputs(t.path(), 2, 100_000, "fill-the-disk-with-this-text");
    for parquet in [false, true] {
        let disk = Tmpfs::mount("512k");
        let out = disk.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let writer = if parquet {
            format!(
                r#"{{"name": "parquet", "parameter": {{"path": "{}", "fileName": "t", "writeMode": "truncate", "compress": "none",
                    "column": [{{"name": "id", "type": "BIGINT"}}, {{"name": "tag", "type": "STRING"}}]}}}}"#,
                out.display()
            )
        } else {
            format!(
                r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "t", "writeMode": "truncate"}}}}"#,
                out.display()
            )
        };
        let reader = format!(
            r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": {COLS}}}}}"#,
            input.display()
        );
        let (o, _d) = run_job("full", &job(r#"{"retry": {"count": 0}}"#, &reader, &writer));
        assert_eq!(code(&o), 1, "parquet={parquet}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("No space left on device"),
            "parquet={parquet}: {}",
            stderr(&o)
        );
        assert_eq!(all_entries(&out), Vec::<String>::new(), "parquet={parquet}");
    }
}

#[test]
fn a_full_disk_under_the_dirty_file_keeps_whole_lines_and_fails() {
    let t = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount("16k");
    let input = t.path().join("bad.csv");
    // Every row is dirty; far more than 16 KiB of dirty lines.
    let text: String = (0..5000)
        .map(|i| format!("bad{i},{}\n", "v".repeat(50)))
        .collect();
    std::fs::write(&input, text).unwrap();
    let out = t.path().join("out");
    let job = write_job(
        t.path(),
        "alldirty",
        &file_to_file(&input, COLS, &out, "", "", "{}"),
    );
    let dirty = disk.path().join("d.jsonl");
    let o = run_in(
        t.path(),
        &[
            "run",
            job.to_str().unwrap(),
            "--dirty-file",
            dirty.to_str().unwrap(),
            "--no-progress",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "No space left on device");
    let held = std::fs::read_to_string(&dirty).unwrap();
    assert!(held.ends_with('\n') && !held.is_empty(), "whole lines only");
    for l in held.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["values"][0].as_str().unwrap().starts_with("bad"), "{l}");
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(
        r["dirty_records"].as_u64().unwrap(),
        held.lines().count() as u64,
        "the report counts exactly what the file holds"
    );
    assert_eq!(all_entries(&out), Vec::<String>::new(), "nothing published");
}

/// `rows` CSV rows `id,name` in one file.
fn id_rows(dir: &Path, rows: usize) -> PathBuf {
    let p = dir.join("ids.csv");
    let text: String = (1..=rows).map(|i| format!("{i},n{i}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

fn id_reader(input: &Path) -> String {
    format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}",
            "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}}"#,
        input.display()
    )
}

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

#[test]
fn mysql_source_restarting_mid_read_is_retried_into_staged_files() {
    let srv = ScratchMariaDb::start("");
    let rows = 200_000;
    srv.query(
        "",
        &format!(
            "CREATE DATABASE d; USE d; CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(300)); \
             INSERT INTO src SELECT seq, CONCAT('n', seq, REPEAT('x', 250)) FROM seq_1_to_{rows}"
        ),
    );
    // No splitPk: the read cannot go on after a key, so the task is retried.
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{"username": "root", "password": "", "column": ["id", "name"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        srv.url("d")
    );
    source_restart_case(&reader, rows, srv.port, &|| srv.kill(), &|| srv.launch());
}

#[test]
fn postgres_source_crashing_mid_read_is_retried_into_staged_files() {
    let srv = ScratchPg::start();
    srv.query("postgres", "CREATE DATABASE d");
    let rows = 200_000;
    srv.query(
        "d",
        &format!(
            "CREATE TABLE src (id bigint PRIMARY KEY, name text); \
             INSERT INTO src SELECT g, 'n' || g || repeat('x', 250) FROM generate_series(1, {rows}) g"
        ),
    );
    let reader = format!(
        r#"{{"name": "postgresqlreader", "parameter": {{"username": "postgres", "column": ["id", "name"],
            "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        srv.url("d")
    );
    // `pg_ctl -m immediate`: the server crashes.
    source_restart_case(&reader, rows, srv.port, &|| srv.crash(), &|| srv.launch());
}

#[test]
fn a_split_cut_by_a_source_restart_goes_on_after_its_last_key_into_an_insert_target() {
    let srv = ScratchMariaDb::start("");
    let rows = 200_000;
    srv.query(
        "",
        &format!(
            "CREATE DATABASE d; USE d; CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(300)); \
             INSERT INTO src SELECT seq, CONCAT('n', seq, REPEAT('x', 250)) FROM seq_1_to_{rows}"
        ),
    );
    let db = MariaDb::new();
    db.exec("CREATE TABLE dst (id BIGINT, name VARCHAR(300))");
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{"username": "root", "password": "", "column": ["id", "name"],
            "splitPk": "id", "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        srv.url("d")
    );
    // Plain inserts into the target cannot be retried: the read itself must go on.
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name"], "writeMode": "insert",
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let setting = r#"{"speed": {"channel": 2, "record": 40000}, "retry": {"count": 0}}"#;
    let t = tempfile::tempdir().unwrap();
    let p = write_job(t.path(), "keyed", &job(setting, &reader, &writer));
    let o = run_with_fault(t.path(), &p, || {
        srv.kill();
        std::thread::sleep(Duration::from_secs(2));
        srv.launch();
    });
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "reconnecting to read on after key");
    assert_eq!(
        db.query("SELECT COUNT(*), COUNT(DISTINCT id), SUM(id), SUM(name = CONCAT('n', id, REPEAT('x', 250))) FROM dst"),
        format!("{rows}\t{rows}\t{}\t{rows}", rows as u64 * (rows as u64 + 1) / 2)
    );
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
    let (o, _d) = run_job("paced", &job(setting, &reader, &writer));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
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
    let finished = || {
        std::fs::read_to_string(&state)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .map(|v| v["tasks"].as_object().map(|m| m.len()).unwrap_or(0))
            .unwrap_or(0)
    };
    // Killed after two of four tasks finished.
    let child = spawn(
        t.path(),
        &[
            "run",
            jp.to_str().unwrap(),
            "--no-progress",
            "--run-id",
            "k1",
        ],
        &[],
    );
    wait_for("two finished tasks", || finished() >= 2);
    kill9(child);
    let before = finished();
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
    let o = run_in(t.path(), &["run", p.to_str().unwrap(), "--resume"]);
    assert_eq!(code(&o), 2, "--resume needs --run-id: {}", stderr(&o));
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
