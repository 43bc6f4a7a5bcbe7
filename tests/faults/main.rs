//! Faults against the staged writers, through the binary: SIGKILL in the middle of a write and
//! in the middle of a commit, a dirty-record file that cannot be written, a full disk (a small
//! tmpfs the test mounts; root needed). Each case ends with the whole result compared row by
//! row (files by their lines, Parquet by DuckDB): nothing lost, nothing twice, never a mix of
//! an old and a new run.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
use common::*;

mod files;
mod restarts;
mod staging;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
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
    run_file(dir, p, &[&["--no-progress"], extra].concat())
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
    send_signal(child.id(), "KILL");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), None, "it was still running when killed");
}

/// How many tasks of run `run` of the file writer's `out` (fileName `out`) finished, as its run
/// state in the staging directory records them.
fn finished_tasks(out: &Path, run: &str) -> usize {
    let state = out
        .join(format!(".datasync-staging-out-{run}"))
        .join("_run_state.json");
    std::fs::read_to_string(state)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .map_or(0, |v| v["tasks"].as_object().map_or(0, |m| m.len()))
}

/// Starts `datasync run JOB --no-progress --run-id RUN EXTRA...` in `dir`, kills it (-9) once
/// `n` of its tasks finished (see [`finished_tasks`]) and returns how many had.
fn kill_after_finished(
    dir: &Path,
    job: &Path,
    out: &Path,
    run: &str,
    extra: &[&str],
    n: usize,
) -> usize {
    let mut args = vec![
        "run",
        job.to_str().unwrap(),
        "--no-progress",
        "--run-id",
        run,
    ];
    args.extend_from_slice(extra);
    let child = spawn(dir, &args, &[]);
    wait_for("finished tasks", || finished_tasks(out, run) >= n);
    kill9(child);
    finished_tasks(out, run)
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
