//! DataX's ftpreader/ftpwriter with `protocol: "ftp"` against a real FTP server on loopback
//! (pyftpdlib, tests/ftpd.py): globbed reads, uploads published at commit in passive and active
//! (`connectPattern: PORT`) mode, a wrong password, and the files checked on the server's disk.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "datax";
const PASSWORD: &str = "ftp-Secret-42";

struct Ftpd {
    child: Child,
    port: u16,
    root: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ftpd {
    fn start() -> Ftpd {
        Ftpd::start_with(&[], None)
    }

    /// A server with extra environment (see tests/ftpd.py) and, with `cert`, explicit FTPS.
    fn start_with(env: &[(&str, &str)], cert: Option<&Path>) -> Ftpd {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let port_file = dir.path().join("port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ftpd.py");
        let child = Command::new(python())
            .arg(script)
            .arg(&root)
            .arg(&port_file)
            .arg(USER)
            .arg(PASSWORD)
            .args(cert)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().parse().unwrap();
            }
            assert!(Instant::now() < deadline, "the FTP server did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Ftpd {
            child,
            port,
            root,
            _dir: dir,
        }
    }

    fn conn(&self, password: &str, extra: &str) -> String {
        format!(
            r#""protocol": "ftp", "host": "127.0.0.1", "port": {}, "username": "{USER}",
               "password": "{password}" {extra}"#,
            self.port
        )
    }
}

impl Drop for Ftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn file_writer(dir: &Path) -> String {
    format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "out.csv", "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
        dir.display()
    )
}

const COLUMNS: &str = r#"[{"index": 0, "type": "long"}, {"index": 1, "type": "string"}]"#;

#[test]
fn ftp_reader_globs_and_writer_publishes_at_commit_in_both_modes() {
    let s = Ftpd::start();
    let data = s.root.join("in/2024");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.csv"), "1,one\n2,two\n").unwrap();
    std::fs::write(data.join("b.csv"), "3,\"three, quoted\"\n").unwrap();
    std::fs::write(data.join("skip.txt"), "not,matched\n").unwrap();
    let big: String = (0..200_000).map(|i| format!("{i},row {i}\n")).collect();
    std::fs::write(data.join("c.csv"), &big).unwrap();

    // Read: a glob over the server's tree, streamed, into local files.
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/in/*/*.csv"], "column": {COLUMNS}}}}}"#,
        s.conn(PASSWORD, "")
    );
    let (o, _d) = run_job_ok("ftp_read", &job("{}", &reader, &file_writer(&out)));
    assert_stderr_has(&o, "unencrypted");
    assert_stderr_has(&o, "plugins   ftp -> file");
    let mut lines = lines_in(&out);
    lines.sort();
    assert_eq!(lines.len(), 200_003);
    assert!(lines.contains(&"3,\"three, quoted\"".to_string()));
    assert!(lines.contains(&"199999,row 199999".to_string()));
    assert!(
        !stderr(&o).contains(PASSWORD),
        "the password is never printed"
    );

    // Write: passive (default) and active mode; files appear under their final names only
    // at commit, and truncate replaces the earlier run's files.
    let src = file_in(t.path(), "src.csv", "10,ten\n11,eleven\n");
    let local_reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": {COLUMNS}}}}}"#,
        src.display()
    );
    for (name, extra) in [
        ("pasv", r#", "connectPattern": "PASV""#),
        ("port", r#", "connectPattern": "PORT""#),
    ] {
        let writer = format!(
            r#"{{"name": "ftpwriter", "parameter": {{{}, "path": "/up/deep", "fileName": "t",
            "writeMode": "truncate", "fileFormat": "csv", "suffix": ".csv"}}}}"#,
            s.conn(PASSWORD, extra)
        );
        let (o, _d) = run_job(
            name,
            &job(r#"{"speed": {"channel": 2}}"#, &local_reader, &writer),
        );
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let dir = s.root.join("up/deep");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("t__") && n.ends_with(".csv")),
            "{name}: only published files remain: {names:?}"
        );
        assert_eq!(
            lines_in(&dir),
            ["10,ten", "11,eleven"],
            "{name}: truncate kept one run's files"
        );
    }

    // A wrong password: exit 1, says the login failed, never prints the password.
    let bad = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/in/2024/a.csv"], "column": {COLUMNS}}}}}"#,
        s.conn("not-the-password-9", "")
    );
    let (o, _d) = run_job("ftp_badpw", &job("{}", &bad, &file_writer(&out)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, &format!("FTP login of user \"{USER}\""));
    assert!(!stderr(&o).contains("not-the-password-9"));
    // A path that matches nothing names the pattern.
    let none = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/in/*/*.parquet"], "column": {COLUMNS}}}}}"#,
        s.conn(PASSWORD, "")
    );
    let (o, _d) = run_job("ftp_none", &job("{}", &none, &file_writer(&out)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "/in/*/*.parquet");
}

/// The server dies in the middle of a download: the job fails (the end of the data connection
/// is not taken for the end of the file) and publishes nothing.
#[test]
fn ftp_server_killed_mid_download_fails_the_job_and_publishes_nothing() {
    let mut s = Ftpd::start();
    let big: String = (0..400_000).map(|i| format!("{i},row {i}\n")).collect();
    std::fs::write(s.root.join("big.csv"), &big).unwrap();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/big.csv"], "column": {COLUMNS}}}}}"#,
        s.conn(PASSWORD, "")
    );
    let text = job(
        r#"{"speed": {"record": 100000}}"#,
        &reader,
        &file_writer(&out),
    );
    let jobfile = write_job(t.path(), "killed", &text);
    let child = spawn_run(t.path(), &jobfile);
    // Killed once rows have reached the writer's staging: the download is under way.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while bytes_under(&out) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no rows staged in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = s.child.kill();
    let _ = s.child.wait();
    let o = wait_or_hang(child, Duration::from_secs(120));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "did not complete the download");
    assert!(visible_files(&out).is_empty(), "nothing published");
}

/// Bytes of every file under `dir`, hidden staging included.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => bytes_under(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `timeout` bounds every wait on the server: one that accepts the connection and never greets,
/// and one that stops sending in the middle of a download, both fail the job in seconds
/// instead of hanging it. A file that arrives whole but does not decode (a wrong `compress`) is
/// not retried: it would read the same again.
#[test]
fn ftp_timeouts_end_silent_and_stalled_servers_and_bad_bytes_are_not_retried() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let no_retry = r#"{"retry": {"count": 0}}"#;
    let run = |name: &str, reader: String, setting: &str| {
        let jobfile = write_job(t.path(), name, &job(setting, &reader, &file_writer(&out)));
        let child = spawn_run(t.path(), &jobfile);
        let start = Instant::now();
        let o = wait_or_hang(child, Duration::from_secs(60));
        (o, start.elapsed())
    };

    // A server that accepts and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(1) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(30));
        drop(conns);
    });
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{"protocol": "ftp", "host": "127.0.0.1",
            "port": {port}, "username": "u", "password": "p", "timeout": 1500,
            "path": ["/a.csv"], "column": {COLUMNS}}}}}"#
    );
    let (o, took) = run("silent", reader, no_retry);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "the server sent no FTP greeting after connecting within 1.5s (timeout)",
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    drop(held);

    // timeout 0 is DataX's "no limit": accepted, with a warning that says what it means.
    let zero = format!(
        r#"{{"name": "ftpreader", "parameter": {{"protocol": "ftp", "host": "127.0.0.1",
            "port": {port}, "username": "u", "password": "p", "timeout": 0,
            "path": ["/a.csv"], "column": {COLUMNS}}}}}"#
    );
    let zero_job = write_job(t.path(), "zero", &job("{}", &zero, &file_writer(&out)));
    let o = run_in(t.path(), &["check", zero_job.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "timeout: 0 means no time limit (as in DataX)");

    // A download that stalls after its first chunk.
    let s = Ftpd::start_with(&[("FTPD_STALL_DOWNLOADS", "1")], None);
    let big: String = (0..100_000).map(|i| format!("{i},row {i}\n")).collect();
    std::fs::write(s.root.join("big.csv"), &big).unwrap();
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/big.csv"], "column": {COLUMNS}}}}}"#,
        s.conn(PASSWORD, r#", "timeout": 1500"#)
    );
    // A failed transfer is retried (once here), then fails the job.
    let (o, took) = run(
        "stalled",
        reader,
        r#"{"retry": {"count": 1, "backoff": "100ms"}}"#,
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "ftp://127.0.0.1:");
    assert_stderr_has(&o, "/big.csv");
    assert_stderr_has(&o, "the server sent no data within 1.5s (timeout)");
    assert_stderr_has(&o, "retrying in 100ms (attempt 2 of 2)");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(visible_files(&out).is_empty(), "nothing published");

    // Plain CSV read as gzip: a final error, not a retry.
    let s = Ftpd::start();
    std::fs::write(s.root.join("plain.csv"), "1,a\n2,b\n3,c\n4,d\n").unwrap();
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/plain.csv"], "compress": "gzip",
            "column": {COLUMNS}}}}}"#,
        s.conn(PASSWORD, "")
    );
    let (o, _) = run("wrong_codec", reader, "{}");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "/plain.csv: I/O error: invalid gzip header");
    assert!(!stderr(&o).contains("retrying"), "{}", stderr(&o));
}

/// Explicit FTPS (AUTH TLS) against a server whose certificate is signed by a CA made here:
/// trusted through `tlsCaFile`, the rows go both ways; without it (the Mozilla roots) the
/// certificate is refused and nothing is read.
#[test]
fn ftps_with_a_private_ca_reads_and_writes_and_an_untrusted_certificate_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // A CA, and a server certificate for 127.0.0.1 signed by it (a self-signed CA certificate
    // cannot serve as the server's own).
    sh_in(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=datasync-test-ca \
           -keyout ca.key -out ca.pem 2>/dev/null && \
         openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr \
           2>/dev/null && \
         printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > ext.cnf && \
         openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
           -extfile ext.cnf -out srv.pem 2>/dev/null && \
         cat srv.pem srv.key > server.pem",
        d,
    );
    let s = Ftpd::start_with(&[], Some(&d.join("server.pem")));
    std::fs::write(s.root.join("in.csv"), "1,one\n2,\"two, quoted\"\n").unwrap();
    let ftps = |extra: &str| {
        format!(
            r#""protocol": "ftps", "host": "127.0.0.1", "port": {}, "username": "{USER}",
               "password": "{PASSWORD}" {extra}"#,
            s.port
        )
    };
    let trusted = format!(r#", "tlsCaFile": "{}""#, d.join("ca.pem").display());

    let out = d.join("out");
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/in.csv"], "column": {COLUMNS}}}}}"#,
        ftps(&trusted)
    );
    let (o, _d) = run_job_ok("ftps_read", &job("{}", &reader, &file_writer(&out)));
    assert_eq!(lines_in(&out), ["1,one", "2,\"two, quoted\""]);
    assert!(
        !stderr(&o).contains("unencrypted"),
        "FTPS is not warned about as plain FTP: {}",
        stderr(&o)
    );

    let src = file_in(d, "src.csv", "10,ten\n");
    let local_reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": {COLUMNS}}}}}"#,
        src.display()
    );
    let writer = format!(
        r#"{{"name": "ftpwriter", "parameter": {{{}, "path": "/up", "fileName": "t",
            "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
        ftps(&trusted)
    );
    let (_, _d) = run_job_ok("ftps_write", &job("{}", &local_reader, &writer));
    let up: Vec<String> = std::fs::read_dir(s.root.join("up"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(up, ["10,ten\n"]);

    // A tlsCaFile that cannot be read is a bad job at `check`.
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/in.csv"], "column": {COLUMNS}}}}}"#,
        ftps(r#", "tlsCaFile": "/nonexistent/ca.pem""#)
    );
    let bad_ca = write_job(d, "bad_ca", &job("{}", &reader, &file_writer(&out)));
    let o = run_in(d, &["check", bad_ca.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "tlsCaFile");
    assert_stderr_has(&o, "/nonexistent/ca.pem");

    // Not trusted: refused at the TLS handshake, nothing read.
    let out2 = d.join("out2");
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["/in.csv"], "column": {COLUMNS}}}}}"#,
        ftps("")
    );
    let (o, _d) = run_job("ftps_untrusted", &job("{}", &reader, &file_writer(&out2)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "certificate rejected");
    assert!(!out2.exists() || visible_files(&out2).is_empty());
}
