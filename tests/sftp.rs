//! SFTP against a real OpenSSH sshd that each test starts on a free port of 127.0.0.1, with its
//! own config, host key and authorised client key (and a local account for password logins).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// A CSV file of `rows` rows `i,x` in `dir`: its text, and a reader of it.
fn numbered_input(dir: &Path, rows: usize) -> (String, String) {
    let input = dir.join("in.csv");
    let text: String = (1..=rows).map(|i| format!("{i},x\n")).collect();
    std::fs::write(&input, &text).unwrap();
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}}"#,
        input.display()
    );
    (text, reader)
}

/// Starts a slow job uploading `reader`'s rows to `target` (truncate) and returns once an
/// upload has bytes on the server (stderr piped).
fn start_upload(s: &Sshd, dir: &Path, reader: &str, target: &Path, setting: &str) -> Child {
    let jp = write_job(
        dir,
        "slow",
        &job(setting, reader, &sftp_writer(s, target, "truncate", "")),
    );
    let child = spawn_run(dir, &jp);
    let end = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(target).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".datasync-tmp-")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    }) {
        assert!(Instant::now() < end, "no upload started");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn sftp_reader(s: &Sshd, conn: &str, path: &str, extra: &str) -> String {
    let _ = s;
    format!(
        r#"{{"name": "ftpreader", "parameter": {{{conn}, "path": ["{path}"], "column": ["*"] {extra}}}}}"#
    )
}

fn file_writer(dir: &Path) -> String {
    format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate"}}}}"#,
        dir.display()
    )
}

const SETTING: &str = r#"{"speed": {"channel": 2}, "errorLimit": {"record": 0}}"#;

#[test]
fn sftp_to_file_with_globs_nested_directories_and_gzip() {
    let s = Sshd::start();
    let d = s.data();
    std::fs::create_dir_all(d.join("in/2024/01")).unwrap();
    std::fs::create_dir_all(d.join("in/2024/02")).unwrap();
    std::fs::create_dir_all(d.join("in/.hidden")).unwrap();
    std::fs::create_dir_all(d.join("gz")).unwrap();
    std::fs::write(d.join("in/2024/01/a.csv"), "1,a\n2,b\n").unwrap();
    std::fs::write(d.join("in/2024/02/b.csv"), "3,c\n").unwrap();
    std::fs::write(d.join("in/2024/02/skip.txt"), "9,z\n").unwrap();
    std::fs::write(d.join("in/.hidden/h.csv"), "8,h\n").unwrap();
    // A link back up the tree and a second name of a file: each file is still read once.
    std::os::unix::fs::symlink(d.join("in"), d.join("in/2024/02/up")).unwrap();
    std::os::unix::fs::symlink(d.join("in/2024/01/a.csv"), d.join("in/2024/02/again.csv")).unwrap();
    sh(&format!(
        "printf '4,d\\n5,\"e,f\"\\n' | gzip > {}/gz/c.csv.gz",
        d.display()
    ));
    let t = tempfile::tempdir().unwrap();
    let run = |name: &str, path: String, extra: &str| {
        let out = t.path().join(name);
        let r = sftp_reader(&s, &s.conn(), &path, extra);
        let (o, _d) = run_job(name, &job(SETTING, &r, &file_writer(&out)));
        (o, lines_in(&out))
    };
    // A glob across nested directories.
    let (o, lines) = run("glob", format!("{}/in/*/*/*.csv", d.display()), "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines, vec!["1,a", "2,b", "3,c"]);
    // A directory, walked with hidden entries skipped...
    let (o, lines) = run(
        "dir",
        format!("{}/in", d.display()),
        r#", "maxTraversalLevel": 3"#,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines, vec!["1,a", "2,b", "3,c", "9,z"]);
    assert_stderr_has(&o, "skipped 1 hidden entry");
    assert_stderr_has(&o, "/in/.hidden");
    assert_stderr_has(&o, "not walked again (a symbolic link led back to it)");
    // ...no deeper than maxTraversalLevel: a directory below it fails the job (DataX does the
    // same) before the writer prepares anything.
    let shallow = t.path().join("shallow");
    let r = sftp_reader(
        &s,
        &s.conn(),
        &format!("{}/in", d.display()),
        r#", "maxTraversalLevel": 2"#,
    );
    let (o, _d) = run_job("shallow", &job(SETTING, &r, &file_writer(&shallow)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "more than maxTraversalLevel 2 directories below the path",
    );
    assert!(!shallow.exists(), "the writer prepared nothing");
    // gzip input.
    let (o, lines) = run(
        "gz",
        format!("{}/gz/*.gz", d.display()),
        r#", "compress": "gzip""#,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines, vec!["4,d", "5,\"e,f\""]);
    let out = t.path().join("none");
    // Nothing matches: a clear error.
    let r = sftp_reader(&s, &s.conn(), &format!("{}/in/*/*.none", d.display()), "");
    let (o, _d) = run_job("none", &job(SETTING, &r, &file_writer(&out)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "no file on 127.0.0.1:");
}

#[test]
fn password_fingerprint_and_refusals() {
    let s = Sshd::start();
    let d = s.data();
    std::fs::write(d.join("p.csv"), "1,x\n").unwrap();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let pw_conn = |pw: &str, fp: &str| {
        format!(
            r#""protocol": "sftp", "host": "127.0.0.1", "port": {}, "username": "{PW_USER}",
               "password": "{pw}", "hostKeyFingerprint": "{fp}""#,
            s.port
        )
    };
    let path = format!("{}/p.csv", d.display());
    // Reads p.csv over the connection keys `conn` into `out`.
    let read = |name: &str, conn: &str| {
        run_job(
            name,
            &job(
                SETTING,
                &sftp_reader(&s, conn, &path, ""),
                &file_writer(&out),
            ),
        )
    };
    let (o, _d) = read("pw", &pw_conn(PW_PASS, &s.fingerprint()));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines_in(&out), vec!["1,x"]);
    // Wrong password: exit 1, says authentication failed, never prints the password.
    let (o, _d) = read("badpw", &pw_conn("not-it-123", &s.fingerprint()));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, &format!("authentication of user \"{PW_USER}\""));
    assert!(!stderr(&o).contains("not-it-123"));
    // Wrong fingerprint: refused before authenticating.
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (o, _d) = read("badfp", &pw_conn(PW_PASS, wrong));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "host key of 127.0.0.1:");
    assert_stderr_has(&o, &s.fingerprint());
    // A known_hosts file with another key for this host: refused as changed.
    let other = std::fs::read_to_string(s.path("other_key.pub")).unwrap();
    let other_key: Vec<&str> = other.split_whitespace().take(2).collect();
    let kh = s.path("wrong_known_hosts");
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", s.port, other_key.join(" ")),
    )
    .unwrap();
    let conn = s.conn().replace(
        &s.path("known_hosts").display().to_string(),
        &kh.display().to_string(),
    );
    let (o, _d) = read("changed", &conn);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "does not match the key in");
    // Opting out of host key checking works, with a warning.
    let unchecked = format!(
        r#""protocol": "sftp", "host": "127.0.0.1", "port": {}, "username": "root",
           "privateKey": "{}", "strictHostKeyChecking": false"#,
        s.port,
        s.path("client_key").display()
    );
    let (o, _d) = read("unchecked", &unchecked);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "strictHostKeyChecking is false");
    // Plain FTP logs in with a password: a private key with protocol ftp is refused by
    // `check`, before any connection.
    let (o, _d) = read("ftp", &s.conn().replace("\"sftp\"", "\"ftp\""));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "plain FTP");
}

/// A DataX template has no host-key option: the user's ~/.ssh/known_hosts is used, and an
/// unknown host fails at connect (not at `check`) naming the options to set.
#[test]
fn host_key_from_the_users_known_hosts() {
    let s = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let path = file_in(s.data(), "one.csv", "1,x\n");
    let path = path.display().to_string();
    let conn = s.conn().replace(
        &format!(
            r#", "knownHostsFile": "{}""#,
            s.path("known_hosts").display()
        ),
        "",
    );
    assert!(!conn.contains("knownHostsFile"), "{conn}");
    let home = t.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let text = job(
        SETTING,
        &sftp_reader(&s, &conn, &path, ""),
        &file_writer(&out),
    );
    let jobfile = write_job(t.path(), "datax", &text);
    let run = |args: &[&str]| {
        std::process::Command::new(bin())
            .current_dir(t.path())
            .env("HOME", &home)
            .args(args)
            .output()
            .unwrap()
    };
    let jobpath = jobfile.to_str().unwrap();
    let o = run(&["check", jobpath]);
    assert_eq!(code(&o), 0, "check stays offline: {}", stderr(&o));
    let o = run(&["run", jobpath, "--no-progress"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "known_hosts does not exist");
    assert_stderr_has(&o, "set knownHostsFile or hostKeyFingerprint");
    assert_stderr_has(&o, &s.fingerprint());
    std::fs::copy(s.path("known_hosts"), home.join(".ssh/known_hosts")).unwrap();
    let o = run(&["run", jobpath, "--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines_in(&out), vec!["1,x"]);
}

fn sftp_writer(s: &Sshd, dir: &Path, mode: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "ftpwriter", "parameter": {{{}, "path": "{}", "fileName": "up.csv", "writeMode": "{mode}" {extra}}}}}"#,
        s.conn(),
        dir.display()
    )
}

fn csv_input(dir: &Path, rows: usize) -> String {
    let p = dir.join("in.csv");
    let mut text = String::new();
    for i in 1..=rows {
        text.push_str(&format!("{i},name {i},{}.{:02}\n", i * 3, i % 100));
    }
    std::fs::write(&p, text).unwrap();
    format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}, {{"index": 2, "type": "decimal(12,2)"}}]}}}}"#,
        p.display()
    )
}

#[test]
fn file_to_sftp_write_modes_and_upload_names() {
    let s = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let target = s.data().join("out/deep");
    let reader = csv_input(t.path(), 1000);
    let (_, _d) = run_job_ok(
        "up",
        &job(
            SETTING,
            &reader,
            &sftp_writer(
                &s,
                &target,
                "truncate",
                r#", "header": ["id", "name", "amount"], "compress": "gzip""#,
            ),
        ),
    );
    let files = all_entries(&target);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with("up__") && files[0].ends_with(".csv.gz"),
        "{files:?}"
    );
    // Checked on the server's disk with the system's gzip.
    let text = sh(&format!("gzip -dc {}/{}", target.display(), files[0]));
    // Every row, byte for byte: the input is written in the writer's own canonical form.
    let input = std::fs::read_to_string(t.path().join("in.csv")).unwrap();
    assert_eq!(text, format!("id,name,amount\n{input}"));
    // truncate replaces; nonConflict refuses; append adds.
    let (_, _d) = run_job_ok(
        "up2",
        &job(SETTING, &reader, &sftp_writer(&s, &target, "truncate", "")),
    );
    let files = all_entries(&target);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".csv"), "{files:?}");
    assert_eq!(
        std::fs::read_to_string(target.join(&files[0])).unwrap(),
        input
    );
    let (o, _d) = run_job(
        "up3",
        &job(
            SETTING,
            &reader,
            &sftp_writer(&s, &target, "nonConflict", ""),
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "nonConflict");
    assert_eq!(all_entries(&target), files);
    let (_, _d) = run_job_ok(
        "up4",
        &job(SETTING, &reader, &sftp_writer(&s, &target, "append", "")),
    );
    let files = all_entries(&target);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert_eq!(
            std::fs::read_to_string(target.join(f)).unwrap(),
            input,
            "{f}"
        );
    }
}

#[test]
fn aborted_upload_leaves_no_file_under_a_final_name() {
    let s = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let target = s.data().join("abort");
    // Error limit: the bad row stops the job after some rows were uploaded.
    let p = t.path().join("bad.csv");
    let mut text = String::new();
    for i in 1..=50_000 {
        text.push_str(&format!("{i},x\n"));
    }
    text.push_str("oops,x\n");
    std::fs::write(&p, text).unwrap();
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}}"#,
        p.display()
    );
    let (o, _d) = run_job(
        "limit",
        &job(SETTING, &reader, &sftp_writer(&s, &target, "truncate", "")),
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(
        all_entries(&target),
        Vec::<String>::new(),
        "no final and no temporary file"
    );
    // SIGTERM mid-upload.
    let stream = format!(
        r#"{{"job": {{"setting": {{"speed": {{"channel": 1, "record": 50000}}}},
            "content": [{{"reader": {{"name": "streamreader", "parameter": {{"column": [{{"type": "long", "incr": "1,1"}}],
                "sliceRecordCount": 100000000}}}},
            "writer": {}}}]}}}}"#,
        sftp_writer(&s, &target, "truncate", "")
    );
    let jp = write_job(t.path(), "killed", &stream);
    let o = terminate_when(
        t.path(),
        &jp,
        || {
            all_entries(&target)
                .iter()
                .any(|e| e.starts_with(".datasync-tmp-"))
        },
        Duration::from_millis(1000),
    );
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert_eq!(all_entries(&target), Vec::<String>::new());
}

#[test]
fn sftp_to_mysql() {
    let s = Sshd::start();
    let mut csv = String::from("id,name,amount\n");
    for i in 1..=500 {
        csv.push_str(&format!("{i},n{i},{}.{:02}\n", i, i % 100));
    }
    std::fs::write(s.data().join("m.csv"), csv).unwrap();
    let db = MariaDb::new();
    db.exec("CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(10,2))");
    let reader = format!(
        r#"{{"name": "ftpreader", "parameter": {{{}, "path": ["{}/m.csv"], "skipHeader": true,
            "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}, {{"index": 2, "type": "decimal(10,2)"}}]}}}}"#,
        s.conn(),
        s.data().display()
    );
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name", "amount"],
            "connection": [{{"jdbcUrl": "{}", "table": ["t"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let (_, _d) = run_job_ok("s2m", &job(SETTING, &reader, &writer));
    assert_eq!(
        db.query("SELECT COUNT(*), SUM(id), SUM(amount), SUM(name = CONCAT('n', id)) FROM t"),
        "500\t125250\t125497.50".to_string() + "\t500"
    );
}

#[test]
fn uploads_of_a_killed_run_are_removed_by_the_next_run() {
    let s = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let target = s.data().join("killed");
    let (text, reader) = numbered_input(t.path(), 300_000);
    let child = start_upload(
        &s,
        t.path(),
        &reader,
        &target,
        r#"{"speed": {"record": 50000}}"#,
    );
    send_signal(child.id(), "KILL");
    let mut child = child;
    child.wait().unwrap();
    let left = all_entries(&target);
    assert!(
        left.iter().any(|e| e.starts_with(".datasync-tmp-"))
            && left.iter().any(|e| e.starts_with(".datasync-owner-"))
            && !left.iter().any(|e| !e.starts_with('.')),
        "a killed run leaves its upload and owner marker, nothing under a final name: {left:?}"
    );
    // The next run removes them and publishes exactly the rows.
    let fast = job("{}", &reader, &sftp_writer(&s, &target, "truncate", ""));
    let (o, _d) = run_job_ok("fast", &fast);
    assert_stderr_has(&o, "temporary upload(s) of killed run");
    let files = all_entries(&target);
    assert_eq!(files.len(), 1, "only the published file: {files:?}");
    assert_eq!(
        std::fs::read_to_string(target.join(&files[0])).unwrap(),
        text
    );
}

#[test]
fn sftp_server_killed_mid_upload_fails_the_job_and_the_next_run_cleans_up() {
    let mut s = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let target = s.data().join("server_killed");
    let (text, reader) = numbered_input(t.path(), 300_000);
    let child = start_upload(
        &s,
        t.path(),
        &reader,
        &target,
        r#"{"speed": {"record": 50000}, "retry": {"count": 1, "backoff": "100ms"}}"#,
    );
    s.kill_all();
    let o = wait_or_hang(child, Duration::from_secs(120));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{}", s.port)),
        "the error names the server: {}",
        stderr(&o)
    );
    let left = all_entries(&target);
    assert!(
        !left.iter().any(|e| !e.starts_with('.')),
        "nothing under a final name: {left:?}"
    );
    // The server is back: the next run removes the dead run's upload and publishes the rows.
    s.restart();
    let (_, _d) = run_job_ok(
        "again",
        &job("{}", &reader, &sftp_writer(&s, &target, "truncate", "")),
    );
    let files = all_entries(&target);
    assert_eq!(files.len(), 1, "only the published file: {files:?}");
    assert_eq!(
        std::fs::read_to_string(target.join(&files[0])).unwrap(),
        text
    );
}
