//! Helpers for running the `datasync` binary in tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod hms;
pub mod sshd;
#[allow(unused_imports)]
pub use hms::*;
#[allow(unused_imports)]
pub use sshd::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `cmd`; panics with `what`, its stdout and its stderr unless it exits 0. Returns
/// stdout.
pub fn stdout_of(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Waits until a server started as `child` accepts connections on 127.0.0.1:`port`; after
/// `secs` seconds kills it and panics naming `what`.
pub fn wait_for_port(child: &mut std::process::Child, port: u16, secs: u64, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not accept connections on port {port} within {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Writes `text` into `dir/name` and returns its path.
pub fn file_in(dir: impl AsRef<Path>, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.as_ref().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A `txtfilereader` (csv, `column: ["*"]`: every field as text) of `text`, written to
/// `dir/in.csv`.
pub fn csv_star_reader(dir: impl AsRef<Path>, text: &str) -> String {
    let input = file_in(dir, "in.csv", text);
    format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "fileFormat": "csv", "column": ["*"]}}}}"#,
        input.display()
    )
}

/// Each line of `text` as JSON (JSON Lines).
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

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

/// Runs `datasync run JOB EXTRA...` in `dir`.
pub fn run_file(dir: &Path, job: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", job.to_str().expect("a UTF-8 job path")];
    args.extend_from_slice(extra);
    run_in(dir, &args)
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

/// Asserts that standard error holds `needle`, printing it whole when not.
#[track_caller]
pub fn assert_stderr_has(o: &Output, needle: &str) {
    let e = stderr(o);
    assert!(e.contains(needle), "expected {needle:?} in stderr:\n{e}");
}

/// Files (not directories, not hidden) directly in `dir`, sorted. Panics when `dir` does not
/// exist: an empty listing must mean "nothing there", not "looked in the wrong place".
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let rd =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
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

/// Starts `datasync run JOB --no-progress` in `dir`, stdout and stderr captured.
pub fn spawn_run(dir: &Path, job: &Path) -> std::process::Child {
    Command::new(bin())
        .current_dir(dir)
        .args(["run", job.to_str().unwrap(), "--no-progress"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `datasync run JOB` in `dir` (stderr captured), waits until `started` holds, lets it
/// run `grace` longer, sends SIGTERM and returns its output.
pub fn terminate_when(
    dir: &Path,
    job: &Path,
    started: impl Fn() -> bool,
    grace: std::time::Duration,
) -> Output {
    let child = spawn_run(dir, job);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !started() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never reached the expected state"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(grace);
    send_signal(child.id(), "TERM");
    child.wait_with_output().unwrap()
}

/// Starts `datasync ARGS` in `dir` with extra environment; stderr captured, stdout dropped.
pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

/// Sends signal `sig` (`TERM`, `KILL`, `INT`) to process `pid`.
pub fn send_signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Asserts that the dirty file `path` holds a record of each `(first value, part of the
/// reason)` row; returns the file's text.
pub fn assert_dirty_rows(path: &Path, rows: &[(&str, &str)]) -> String {
    let dirty = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    for (id, why) in rows {
        assert!(
            dirty
                .lines()
                .any(|l| l.contains(&format!("[\"{id}\"")) && l.contains(why)),
            "row {id} ({why}) in {dirty}"
        );
    }
    dirty
}

/// Every entry (hidden too) directly in `dir`. Panics when `dir` does not exist (see
/// [`visible_files`]).
pub fn all_entries(dir: &Path) -> Vec<String> {
    let rd =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
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

/// A txtfilereader of `path`'s first column as long (a line that is not a number is dirty).
pub fn longs_reader(path: &Path) -> String {
    format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [{{"index": 0, "type": "long"}}]}}}}"#,
        path.display()
    )
}

/// Writes `dir/failing.json`: a job over `dir/in.csv` holding `lines`, read as longs into
/// nowhere with errorLimit 0, so a line that is not a number fails it (exit 3).
pub fn failing_job(dir: &Path, lines: &str) -> PathBuf {
    let input = file_in(dir, "in.csv", lines);
    let text = job(
        r#"{"errorLimit": {"record": 0}}"#,
        &longs_reader(&input),
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    write_job(dir, "failing", &text)
}

/// The `written` figure of a run's summary.
pub fn written_of(o: &Output) -> String {
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("records "))
        .unwrap_or_else(|| panic!("no records line in {err}"));
    let (_, rest) = line.split_once("written ").unwrap();
    rest.split_whitespace().next().unwrap().to_string()
}

/// A CSV line `id,ab,qty` for target `(id int, code varchar(3), qty int)`; a `bad` one has
/// the qty `x`, which no integer column takes.
pub fn id_code_qty(id: u32, bad: bool) -> String {
    let qty = if bad { "x".to_string() } else { id.to_string() };
    format!("{id},ab,{qty}\n")
}

/// A txtfilereader of every column of the files in `dir`.
pub fn all_columns_reader(dir: &Path) -> String {
    format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": ["*"]}}}}"#,
        dir.display()
    )
}

/// Runs 200,000 `id_code_qty` rows (every 50th bad) through `writer` in one task, in `dir`,
/// and sends SIGTERM 300 ms after `landing` says rows land (the writer is then isolating
/// bad rows of a unit). Returns the run's output.
pub fn stopped_while_isolating(dir: &Path, writer: &str, landing: impl Fn() -> bool) -> Output {
    let big = dir.join("big");
    std::fs::create_dir_all(&big).unwrap();
    let rows: String = (1..=200_000)
        .map(|id| id_code_qty(id, id % 50 == 0))
        .collect();
    file_in(&big, "b.csv", rows);
    let setting = r#"{"speed": {"channel": 1}, "errorLimit": {"record": 1000000}}"#;
    let p = write_job(
        dir,
        "stop",
        &job(setting, &all_columns_reader(&big), writer),
    );
    let o = terminate_when(dir, &p, landing, std::time::Duration::from_millis(300));
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    o
}

/// Writes `text` as `<name>.json` in a fresh temporary directory and runs it there.
pub fn run_job(name: &str, text: &str) -> (Output, tempfile::TempDir) {
    let t = tempfile::tempdir().unwrap();
    let p = write_job(t.path(), name, text);
    let o = run_in(t.path(), &["run", p.to_str().unwrap(), "--no-progress"]);
    (o, t)
}

/// [`run_job`] of a job that must succeed (its stderr in the failure otherwise).
#[track_caller]
pub fn run_job_ok(name: &str, text: &str) -> (Output, tempfile::TempDir) {
    let (o, t) = run_job(name, text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    (o, t)
}

/// A database server the tests use: `scheme://user[:password]@host:port` from an environment
/// variable (README, Tests), with today's loopback default.
#[derive(Debug, Clone)]
pub struct Server {
    /// Login user.
    pub user: String,
    /// Password ("" for none).
    pub password: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Server {
    /// Parses `var` (or `default` when unset).
    fn from_env(var: &str, default: &str) -> Server {
        let url = std::env::var(var).unwrap_or_else(|_| default.to_string());
        let parse = || -> Option<Server> {
            let rest = url.split_once("://")?.1;
            let (cred, hostport) = rest.rsplit_once('@')?;
            let hostport = hostport.split('/').next()?;
            let (user, password) = cred.split_once(':').unwrap_or((cred, ""));
            let (host, port) = hostport.rsplit_once(':')?;
            Some(Server {
                user: user.to_string(),
                password: password.to_string(),
                host: host.to_string(),
                port: port.parse().ok()?,
            })
        };
        parse().unwrap_or_else(|| panic!("{var}: expected scheme://user[:password]@host:port"))
    }
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
    /// The `"username": .., "password": ..` members of a plugin's parameters.
    pub fn login(&self) -> String {
        format!(
            r#""username": {}, "password": {}"#,
            serde_json::Value::from(self.user.as_str()),
            serde_json::Value::from(self.password.as_str())
        )
    }
}

/// The MySQL/MariaDB server of the tests: `DATASYNC_TEST_MYSQL`, default
/// `mysql://root@127.0.0.1:3306`.
pub fn mysql_server() -> &'static Server {
    static S: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
    S.get_or_init(|| Server::from_env("DATASYNC_TEST_MYSQL", "mysql://root@127.0.0.1:3306"))
}

/// The PostgreSQL server of the tests: `DATASYNC_TEST_POSTGRES`, default
/// `postgres://postgres@127.0.0.1:5432`.
pub fn pg_server() -> &'static Server {
    static S: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        Server::from_env(
            "DATASYNC_TEST_POSTGRES",
            "postgres://postgres@127.0.0.1:5432",
        )
    })
}

/// Runs `q` with the `mariadb` client against [`mysql_server`], in database `db` if given;
/// returns tab-separated rows without headers.
pub fn mariadb(db: &str, q: &str) -> String {
    let s = mysql_server();
    mariadb_at(&s.host, s.port, &s.user, &s.password, db, q)
}

/// Runs `q` with the `mariadb` client (no option files) as `user` on `host:port`, in database
/// `db` if given; panics with the client's error unless it succeeds. Tab-separated rows.
pub fn mariadb_at(host: &str, port: u16, user: &str, password: &str, db: &str, q: &str) -> String {
    let mut c = Command::new("mariadb");
    c.env("MYSQL_PWD", password).args([
        "--no-defaults",
        "--protocol=tcp",
        "-h",
        host,
        "-P",
        &port.to_string(),
        "-u",
        user,
        "--default-character-set=utf8mb4",
        "-N",
        "-B",
        "-e",
        q,
    ]);
    if !db.is_empty() {
        c.arg(db);
    }
    stdout_of(&mut c, q)
}

/// Runs `q` with `psql` against [`pg_server`] in database `db`; rows unaligned, `|`-separated.
pub fn psql(db: &str, q: &str) -> String {
    let s = pg_server();
    stdout_of(
        Command::new("psql").env("PGPASSWORD", &s.password).args([
            "-h",
            &s.host,
            "-p",
            &s.port.to_string(),
            "-U",
            &s.user,
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAtX",
            "-c",
            q,
        ]),
        q,
    )
}

/// A scratch PostgreSQL database with a unique name, dropped on drop.
pub struct Pg {
    /// The database name.
    pub name: String,
}

impl Pg {
    /// Creates the database.
    pub fn new() -> Pg {
        let name = unique("dspg");
        psql("postgres", &format!("CREATE DATABASE {name}"));
        Pg { name }
    }
    /// Runs a query in it; trailing newline removed.
    pub fn query(&self, q: &str) -> String {
        psql(&self.name, q).trim_end().to_string()
    }
    /// Its JDBC URL.
    pub fn url(&self) -> String {
        format!("jdbc:postgresql://{}/{}", pg_server().addr(), self.name)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
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
        format!("jdbc:mysql://{}/{}", mysql_server().addr(), self.name)
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
    stdout_of(
        Command::new(python()).arg("-c").arg(script).args(args),
        "python",
    )
}

/// Runs `cmd` with `sh -c` in `dir`; panics with its stderr unless it succeeds.
pub fn sh_in(cmd: &str, dir: &Path) {
    stdout_of(Command::new("sh").arg("-c").arg(cmd).current_dir(dir), cmd);
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after) that no
/// other test of this process has been given: the kernel may hand the same ephemeral port to
/// two tests that ask at the same moment, and then one test talks to the other's server.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A throwaway MariaDB server of the test's own: its own data directory and a free loopback
/// port, root without a password, so a test may count its statements, stop it or kill it.
/// Needs the `mariadb-install-db` and `mariadbd` of Debian's mariadb-server (tests/setup.sh).
pub struct ScratchMariaDb {
    /// Holds the data directory, the socket and the logs.
    pub dir: tempfile::TempDir,
    /// The loopback port it listens on.
    pub port: u16,
    extra: String,
}

impl ScratchMariaDb {
    /// Initialises a data directory and starts the server with `extra` mariadbd options.
    pub fn start(extra: &str) -> ScratchMariaDb {
        Self::start_in(tempfile::tempdir().unwrap(), extra)
    }

    /// As [`ScratchMariaDb::start`], in `dir` (which may already hold files `extra` names).
    pub fn start_in(dir: tempfile::TempDir, extra: &str) -> ScratchMariaDb {
        let dd = dir.path().display().to_string();
        sh_in(
            &format!("mariadb-install-db --no-defaults --datadir={dd}/data --tmpdir={dd} --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null"),
            dir.path(),
        );
        let s = ScratchMariaDb {
            dir,
            port: free_port(),
            extra: extra.to_string(),
        };
        s.launch();
        s
    }

    /// Starts the server process (again) on the same port and data directory.
    pub fn launch(&self) {
        let dd = self.dir.path().display();
        sh_in(
            &format!(
                "mariadbd --no-defaults --datadir={dd}/data --port={} --bind-address=127.0.0.1 --socket={dd}/sock \
                 --user=root --pid-file={dd}/pid --log-error={dd}/err.log --tmpdir={dd} --innodb-buffer-pool-size=16M \
                 --local-infile=1 {} >/dev/null 2>&1 &",
                self.port, self.extra
            ),
            self.dir.path(),
        );
        let up = (0..120).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(250));
            self.ping()
        });
        assert!(
            up,
            "scratch MariaDB did not start: {}",
            std::fs::read_to_string(self.dir.path().join("err.log")).unwrap_or_default()
        );
    }

    /// Whether it answers.
    pub fn ping(&self) -> bool {
        Command::new("mariadb-admin")
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "-u",
                "root",
                "ping",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Runs `q` as root (in database `db` if not empty); rows tab-separated, trimmed.
    pub fn query(&self, db: &str, q: &str) -> String {
        mariadb_at("127.0.0.1", self.port, "root", "", db, q)
            .trim_end()
            .to_string()
    }

    /// The JDBC URL of database `db` on it.
    pub fn url(&self, db: &str) -> String {
        format!("jdbc:mysql://127.0.0.1:{}/{db}", self.port)
    }

    /// A global status counter (e.g. `Com_load`).
    pub fn status(&self, name: &str) -> u64 {
        let v = self.query("", &format!("SHOW GLOBAL STATUS LIKE '{name}'"));
        v.split('\t')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("status {name}: {v:?}"))
    }

    /// Kills the server at once (SIGKILL: no clean shutdown) and waits until it is gone.
    pub fn kill(&self) {
        sh_in(
            "kill -9 $(cat pid) 2>/dev/null; for i in $(seq 1 100); do kill -0 $(cat pid) 2>/dev/null || break; sleep 0.1; done; rm -f pid",
            self.dir.path(),
        );
    }
}

impl Drop for ScratchMariaDb {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg("[ -e pid ] && kill $(cat pid) 2>/dev/null; for i in $(seq 1 50); do [ -e pid ] || break; sleep 0.1; done")
            .current_dir(self.dir.path())
            .status();
    }
}

/// Waits for `child` and returns its output; a hang guard, not a speed check: if it has not
/// ended after `limit` (generous), it is killed and the test fails saying it hung.
pub fn wait_or_hang(child: std::process::Child, limit: std::time::Duration) -> Output {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let fired = Arc::new(AtomicBool::new(false));
    let (d, f) = (done.clone(), fired.clone());
    let guard = std::thread::spawn(move || {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            if d.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if !d.load(Ordering::SeqCst) {
            f.store(true, Ordering::SeqCst);
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let o = child.wait_with_output().unwrap();
    done.store(true, Ordering::SeqCst);
    guard.join().unwrap();
    assert!(
        !fired.load(Ordering::SeqCst),
        "datasync hung: still running after {limit:?}; stderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The `columns ...` debug line a reader logs: (name, Arrow type) pairs.
pub fn logged_columns(stderr: &str) -> Vec<(String, String)> {
    let line = stderr
        .lines()
        .find_map(|l| l.split_once("columns ").map(|(_, c)| c.to_string()))
        .unwrap_or_else(|| panic!("no columns line in {stderr}"));
    // Types may hold ", " (decimal(12, 2) never: type_name writes "decimal(12,2)").
    line.split(", ")
        .map(|c| {
            let (n, t) = c.split_once(' ').unwrap();
            (n.to_string(), t.to_string())
        })
        .collect()
}

/// A throwaway PostgreSQL cluster of the test's own (initdb as the `postgres` user into a temp
/// directory, a free loopback port, trust auth), so a test may stop it hard and start it again.
/// Needs Debian's postgresql binaries (tests/setup.sh) and root (to run them as `postgres`).
pub struct ScratchPg {
    /// Holds the data directory, the socket and the log.
    pub dir: tempfile::TempDir,
    /// The loopback port it listens on.
    pub port: u16,
    bin: PathBuf,
}

impl ScratchPg {
    /// Initialises and starts a cluster.
    pub fn start() -> ScratchPg {
        Self::start_with(|_| {})
    }

    /// Initialises a cluster, lets `setup` change its data directory (as root; files it adds
    /// are handed to `postgres`), then starts it.
    pub fn start_with(setup: impl FnOnce(&Path)) -> ScratchPg {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("/usr/lib/postgresql (Debian's postgresql; tests/setup.sh installs it)")
            .map(|e| e.unwrap().path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        sh_in(
            &format!("chown postgres {}", dir.path().display()),
            dir.path(),
        );
        let s = ScratchPg {
            dir,
            port: free_port(),
            bin,
        };
        s.as_postgres(&format!(
            "{}/initdb -D data -A trust -U postgres >/dev/null",
            s.bin.display()
        ));
        let data = s.dir.path().join("data");
        setup(&data);
        sh_in(
            &format!("chown -R postgres {}", data.display()),
            s.dir.path(),
        );
        s.launch();
        s
    }

    fn as_postgres(&self, cmd: &str) {
        sh_in(
            &format!(
                "runuser -u postgres -- sh -c 'cd {} && {cmd}'",
                self.dir.path().display()
            ),
            self.dir.path(),
        );
    }

    /// Starts the server (again) on the same port and data directory, and waits until it
    /// accepts connections.
    pub fn launch(&self) {
        self.as_postgres(&format!(
            "{}/pg_ctl -D data -l log -w -o \"-p {} -k {} -c listen_addresses=127.0.0.1\" start >/dev/null",
            self.bin.display(),
            self.port,
            self.dir.path().display()
        ));
    }

    /// Stops it the hard way (`pg_ctl -m immediate`: no checkpoint, clients cut off).
    pub fn crash(&self) {
        self.as_postgres(&format!(
            "{}/pg_ctl -D data -m immediate stop >/dev/null",
            self.bin.display()
        ));
    }

    /// Runs `q` in database `db`; rows unaligned, `|`-separated, trimmed.
    pub fn query(&self, db: &str, q: &str) -> String {
        self.try_query(db, q)
            .unwrap_or_else(|| panic!("{q}: failed on the scratch PostgreSQL"))
    }

    /// As [`ScratchPg::query`], `None` when the server does not answer or refuses.
    pub fn try_query(&self, db: &str, q: &str) -> Option<String> {
        let o = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-qAtX", "-c", q])
            .output()
            .expect("psql");
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim_end().to_string())
    }

    /// The JDBC URL of database `db` on it.
    pub fn url(&self, db: &str) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for ScratchPg {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "runuser -u postgres -- {}/pg_ctl -D {}/data -m immediate stop >/dev/null 2>&1",
                self.bin.display(),
                self.dir.path().display()
            ))
            .status();
    }
}

/// `c0 T0, c1 T1, ...`: one column per row of a type table (system type, Arrow type, DDL).
pub fn type_table_columns(table: &[(&str, &str, &str)]) -> String {
    table
        .iter()
        .enumerate()
        .map(|(i, (t, _, _))| format!("c{i} {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `job_text` with `DATASYNC_LOG=debug` in a fresh directory; it must succeed. Returns the
/// (name, Arrow type) pairs its reader logged.
pub fn run_logging_columns(job_text: &str) -> Vec<(String, String)> {
    let t = tempfile::tempdir().unwrap();
    let p = write_job(t.path(), "types", job_text);
    let o = run_debug(t.path(), &p);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    logged_columns(&stderr(&o))
}

/// Runs `datasync run JOB --no-progress` in `dir` with `DATASYNC_LOG=debug`.
pub fn run_debug(dir: &Path, job: &Path) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .env("DATASYNC_LOG", "debug")
        .args(["run", job.to_str().unwrap(), "--no-progress"])
        .output()
        .unwrap()
}

/// A TCP proxy on a free loopback port in front of `127.0.0.1:target`, for network faults:
/// `stall` stops every byte (connections stay open, like a peer that hangs), `reset` cuts every
/// open connection, `resume` lets bytes flow again. New connections are always accepted.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    cut: std::sync::Arc<std::sync::Mutex<Option<Cut>>>,
}

/// See [`Proxy::cut_at`].
struct Cut {
    arm: Vec<Vec<u8>>,
    on: Vec<u8>,
    armed: bool,
}

fn holds(chunk: &[u8], part: &[u8]) -> bool {
    !part.is_empty() && chunk.windows(part.len()).any(|w| w == part)
}

impl Proxy {
    /// Starts forwarding to `127.0.0.1:target`.
    pub fn start(target: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let cut: Arc<Mutex<Option<Cut>>> = Arc::new(Mutex::new(None));
        let (st, op, dl, ct) = (stalled.clone(), open.clone(), delay_ms.clone(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                {
                    let mut o = op.lock().unwrap();
                    o.push(client.try_clone().unwrap());
                    o.push(server.try_clone().unwrap());
                }
                for (mut from, mut to, upstream) in [
                    (
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        true,
                    ),
                    (server, client, false),
                ] {
                    let st = st.clone();
                    let dl = dl.clone();
                    let (ct, op) = (ct.clone(), op.clone());
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        from.set_read_timeout(Some(std::time::Duration::from_millis(50)))
                            .unwrap();
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            if st.load(Ordering::SeqCst) {
                                std::thread::sleep(std::time::Duration::from_millis(20));
                                continue;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    let chunk = &buf[..n];
                                    let mut cut = ct.lock().unwrap();
                                    let fire = match cut.as_mut() {
                                        Some(c) if upstream && c.armed => holds(chunk, &c.on),
                                        Some(c) if upstream => {
                                            c.armed = c.arm.iter().all(|a| holds(chunk, a));
                                            false
                                        }
                                        _ => false,
                                    };
                                    if fire {
                                        *cut = None;
                                        drop(cut);
                                        for s in op.lock().unwrap().drain(..) {
                                            let _ = s.shutdown(std::net::Shutdown::Both);
                                        }
                                        break;
                                    }
                                    drop(cut);
                                    let delay = dl.load(Ordering::SeqCst);
                                    if delay > 0 {
                                        std::thread::sleep(std::time::Duration::from_millis(delay));
                                    }
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            port,
            stalled,
            delay_ms,
            open,
            cut,
        }
    }

    /// Cuts every open connection, instead of passing it on, at the first chunk a client
    /// sends that holds `on` after one that held every part of `arm` (a statement cut off
    /// before the server sees it: a COMMIT after a given query). Once.
    pub fn cut_at(&self, arm: &[&str], on: &str) {
        *self.cut.lock().unwrap() = Some(Cut {
            arm: arm.iter().map(|a| a.as_bytes().to_vec()).collect(),
            on: on.as_bytes().to_vec(),
            armed: false,
        });
    }

    /// Holds every chunk `ms` milliseconds before passing it on (each direction).
    pub fn latency(&self, ms: u64) {
        self.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops forwarding; connections stay open.
    pub fn stall(&self) {
        self.stalled
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Cuts every connection open now (both sides see them closed).
    pub fn reset(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
