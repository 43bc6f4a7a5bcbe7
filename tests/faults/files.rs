//! Kills, a dirty file that cannot be written and full disks under the file and Parquet
//! writers.

use super::*;

/// Writes `files` files of `rows` "old" rows to `dir/out` by a file -> file job run to the
/// end, and returns the job that replaces them with "new" rows (not run yet).
fn old_files_and_the_job_replacing_them(dir: &Path, files: usize, rows: usize) -> PathBuf {
    let out = dir.join("out");
    let setting = r#"{"speed": {"channel": 4}}"#;
    let job_of = |tag: &str| {
        let input = inputs(dir, files, rows, tag);
        write_job(dir, tag, &file_to_file(&input, COLS, &out, "", "", setting))
    };
    let o = run_with(dir, &job_of("old"), &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines_in(&out), want_lines(files, rows, "old"));
    job_of("new")
}

#[test]
fn sigkill_mid_commit_of_the_file_writer_rolls_forward_never_a_mix() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (files, rows) = (8, 500);
    let job_new = old_files_and_the_job_replacing_them(t.path(), files, rows);

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

/// SIGTERM once the commit has begun does not cut it half-way: the commit is finished, the
/// log says so, and the job ends with its outcome (every new file in, no old one left).
#[test]
fn sigterm_during_the_commit_lets_it_finish() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let (files, rows) = (4, 100);
    let job_new = old_files_and_the_job_replacing_them(t.path(), files, rows);
    let child = spawn(
        t.path(),
        &["run", job_new.to_str().unwrap(), "--no-progress"],
        &[("DATASYNC_TEST_COMMIT_STEP_DELAY_MS", "300")],
    );
    wait_for("the commit journal", || journal_in(&out));
    send_signal(child.id(), "TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "while the writer commits: the commit is finished");
    assert_stderr_has(&o, "SUCCEEDED");
    assert_eq!(lines_in(&out), want_lines(files, rows, "new"));
    assert_eq!(published_count(&out), files);
    assert_eq!(stagings(&out), Vec::<PathBuf>::new());
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
    let input = file_in(t, "dirty.csv", "1,a\n2,b\nnot-a-number,c\n4,d\n");
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
        let o = run_file(
            t.path(),
            &job,
            &["--dirty-file", dirty, "--no-progress", "--report", "r.json"],
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
    let o = run_file(
        t.path(),
        &job,
        &[
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
