//! Helpers for running the `datasync` binary in tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_datasync"))
}

/// Writes `job` (JSON text) into `dir/name.json` and returns its path.
pub fn write_job(dir: &Path, name: &str, job: &str) -> PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, job).expect("write job file");
    p
}

/// Runs `datasync ARGS` in `dir` and returns the output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run datasync")
}

/// Exit code of an output (panics on a signal death).
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {o:?}"))
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Files (not directories, not hidden) directly in `dir`, sorted.
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

/// All lines of the visible files directly in `dir`, sorted.
pub fn lines_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = visible_files(dir)
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

/// Starts `datasync run JOB` in `dir` (stderr captured), waits until `started` holds, lets it
/// run `grace` longer, sends SIGTERM and returns its output.
pub fn terminate_when(
    dir: &Path,
    job: &Path,
    started: impl Fn() -> bool,
    grace: std::time::Duration,
) -> Output {
    let child = Command::new(bin())
        .current_dir(dir)
        .args(["run", job.to_str().unwrap(), "--no-progress"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !started() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never reached the expected state"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(grace);
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    child.wait_with_output().unwrap()
}

/// Every entry (hidden too) directly in `dir`.
pub fn all_entries(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// A file -> file job reading `input` with `columns` (JSON) and writing `out_dir`.
pub fn file_to_file(
    input: &Path,
    columns: &str,
    out_dir: &Path,
    extra_reader: &str,
    extra_writer: &str,
    setting: &str,
) -> String {
    format!(
        r#"{{"job": {{"setting": {setting},
            "content": [{{
              "reader": {{"name": "txtfilereader", "parameter": {{"path": "{}", "column": {columns} {extra_reader}}}}},
              "writer": {{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "out", "writeMode": "truncate" {extra_writer}}}}}
            }}]}}}}"#,
        input.display(),
        out_dir.display()
    )
}

/// A job of one reader and one writer (JSON texts) with `setting`.
pub fn job(setting: &str, reader: &str, writer: &str) -> String {
    format!(
        r#"{{"job": {{"setting": {setting}, "content": [{{"reader": {reader}, "writer": {writer}}}]}}}}"#
    )
}

/// Writes `text` as `<name>.json` in a fresh temporary directory and runs it there.
pub fn run_job(name: &str, text: &str) -> (Output, tempfile::TempDir) {
    let t = tempfile::tempdir().unwrap();
    let p = write_job(t.path(), name, text);
    let o = run_in(t.path(), &["run", p.to_str().unwrap(), "--no-progress"]);
    (o, t)
}

/// Runs `q` with the `mariadb` client (root on 127.0.0.1:3306), in database `db` if given;
/// returns tab-separated rows without headers.
pub fn mariadb(db: &str, q: &str) -> String {
    let mut c = Command::new("mariadb");
    c.args([
        "-h",
        "127.0.0.1",
        "-P",
        "3306",
        "-u",
        "root",
        "--default-character-set=utf8mb4",
        "-N",
        "-B",
        "-e",
        q,
    ]);
    if !db.is_empty() {
        c.arg(db);
    }
    let o = c.output().expect("mariadb client");
    assert!(
        o.status.success(),
        "{q}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A scratch MariaDB database with a unique name, dropped on drop.
pub struct MariaDb {
    /// The database name.
    pub name: String,
}

impl MariaDb {
    /// Creates the database.
    pub fn new() -> MariaDb {
        let name = unique("dstest");
        mariadb("", &format!("CREATE DATABASE {name}"));
        MariaDb { name }
    }
    /// Runs statements in it.
    pub fn exec(&self, q: &str) {
        mariadb(&self.name, q);
    }
    /// Runs a query in it; rows tab-separated, trailing newline removed.
    pub fn query(&self, q: &str) -> String {
        mariadb(&self.name, q).trim_end().to_string()
    }
    /// Its JDBC URL.
    pub fn url(&self) -> String {
        format!("jdbc:mysql://127.0.0.1:3306/{}", self.name)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        mariadb("", &format!("DROP DATABASE IF EXISTS {}", self.name));
    }
}

/// The Python with pyarrow, DuckDB and pyspark that `.ci/run` installs (`target/test-venv`), or
/// `$DATASYNC_TEST_PYTHON`.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("DATASYNC_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run .ci/run once (it creates the test venv with pyarrow, duckdb, pyspark)",
        p.display()
    );
    p
}

/// Runs a Python `script` with `args`; panics with its output unless it exits 0. Returns stdout.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let o = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        o.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}
