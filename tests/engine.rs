//! The engine through the binary: throttle, bad jobs, signals, stall watchdog, CLI commands,
//! the shipped job templates.

#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn stream_job(rows: u64, columns: &str, setting: &str, writer: &str) -> String {
    format!(
        r#"{{"job": {{"setting": {setting}, "content": [{{
            "reader": {{"name": "streamreader", "parameter": {{"column": {columns}, "sliceRecordCount": {rows}, "seed": 1}}}},
            "writer": {writer}}}]}}}}"#
    )
}

const DISCARD: &str = r#"{"name": "streamwriter", "parameter": {"print": false}}"#;
const ONE_LONG: &str = r#"[{"type": "long", "incr": "1,1"}]"#;

/// Runs a job of `rows` generated longs a channel into nowhere with `setting` and `args`:
/// what it printed and how long it took.
fn run_longs(
    dir: &Path,
    name: &str,
    rows: u64,
    setting: &str,
    args: &[&str],
) -> (std::process::Output, Duration) {
    let job = write_job(dir, name, &stream_job(rows, ONE_LONG, setting, DISCARD));
    let start = Instant::now();
    let o = run_file(dir, &job, args);
    (o, start.elapsed())
}

#[test]
fn record_throttle_limits_the_job() {
    let t = tempfile::tempdir().unwrap();
    let setting = r#"{"speed": {"channel": 2, "record": 10000}, "batch": {"rows": 1000}}"#;
    // 2 channels x 15,000 rows = 30,000 rows at 10,000/s for the whole job.
    let (o, took) = run_longs(
        t.path(),
        "thr",
        15_000,
        setting,
        &["--report", "r.json", "--progress-interval", "1"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Without a terminal: plain progress lines with a real percentage from the known total.
    assert_stderr_has(&o, "datasync: progress ");
    assert_stderr_has(&o, "%, ETA");
    assert!(took >= Duration::from_millis(2500), "took {took:?}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["records_written"], 30_000);
    assert!(r["throttle_wait_seconds"].as_f64().unwrap() > 1.0, "{r}");
    assert_stderr_has(&o, "bottleneck: the speed limit");
}

#[test]
fn byte_throttle_limits_the_job() {
    let t = tempfile::tempdir().unwrap();
    // One int64 column: 8 bytes a row; 30,000 rows = 240,000 bytes at 80,000 B/s.
    let setting = r#"{"speed": {"channel": 1, "byte": 80000}, "batch": {"rows": 1000}}"#;
    let (o, took) = run_longs(t.path(), "thb", 30_000, setting, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(took >= Duration::from_millis(2500), "took {took:?}");
}

#[test]
fn channels_multiply_stream_slices_and_default_is_reported() {
    let t = tempfile::tempdir().unwrap();
    let (o, _) = run_longs(t.path(), "ch", 1000, r#"{"speed": {"channel": 3}}"#, &[]);
    assert_eq!(code(&o), 0);
    assert_stderr_has(&o, "written 3000");
    let (o, _) = run_longs(t.path(), "def", 10, "{}", &[]);
    assert_stderr_has(
        &o,
        "1 channel(s) (default: job.setting.speed.channel unset)",
    );
}

#[test]
fn stream_writer_prints_rows_to_stdout_only() {
    let t = tempfile::tempdir().unwrap();
    let cols = r#"[{"type": "long", "incr": "1,1"}, {"type": "string", "value": "a\tb"}, {"type": "string", "value": null}, {"type": "decimal(5,2)", "value": "1.5"}]"#;
    let writer = r#"{"name": "stream", "parameter": {"print": true}}"#;
    let job = write_job(t.path(), "pr", &stream_job(2, cols, "{}", writer));
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1\t\"a\tb\"\tNULL\t1.50\n2\t\"a\tb\"\tNULL\t1.50\n"
    );
}

fn bad(dir: &Path, name: &str, job: &str, args: &[&str], want: &str) {
    let p = write_job(dir, name, job);
    let mut all = vec!["check", p.to_str().unwrap()];
    all.extend_from_slice(args);
    for cmd in ["check", "run"] {
        all[0] = cmd;
        let o = run_in(dir, &all);
        assert_eq!(code(&o), 2, "{cmd} {name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{cmd} {name}: want {want:?} in {}",
            stderr(&o)
        );
    }
}

/// Job files may start with a byte-order mark and hold comments; a `/*` never closed is an
/// error pointing where it opens.
#[test]
fn commented_job_files_with_a_bom_load_and_unclosed_comments_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let text = format!(
        "\u{feff}// a job\n{}",
        stream_job(3, ONE_LONG, "{} /* setting */", DISCARD)
    );
    let p = write_job(t.path(), "bom", &text);
    let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    bad(
        t.path(),
        "unclosed",
        &format!("{}\n/* trailing", stream_job(3, ONE_LONG, "{}", DISCARD)),
        &[],
        "a /* comment opened here is never closed",
    );
}

#[test]
fn bad_jobs_exit_2_with_clear_messages_and_touch_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let out = d.join("must-not-exist");
    let good = |reader_params: &str| {
        format!(
            r#"{{"job": {{"content": [{{"reader": {{"name": "txtfilereader", "parameter": {reader_params}}},
               "writer": {{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "x", "writeMode": "truncate"}}}}}}]}}}}"#,
            out.display()
        )
    };
    bad(
        d,
        "malformed",
        "{\n  \"job\": {\n    \"content\": [,]\n  }\n}",
        &[],
        "malformed.json:3:17: malformed JSON",
    );
    bad(
        d,
        "unknown_plugin",
        &good(r#"{"path": "a"}"#).replace("txtfilereader", "mysqlreaderr"),
        &[],
        "job.content[0].reader.name: unknown reader plugin \"mysqlreaderr\"",
    );
    bad(
        d,
        "misspelled",
        &good(r#"{"path": "a", "colum": ["*"]}"#),
        &[],
        "job.content[0].reader.parameter.colum: unknown key; did you mean \"column\"?",
    );
    bad(
        d,
        "missing",
        &good(r#"{"column": ["*"]}"#),
        &[],
        "job.content[0].reader.parameter: missing required key \"path\"",
    );
    bad(
        d,
        "unfilled",
        &good(r#"{"path": "${in_path}"}"#),
        &[],
        "placeholder ${in_path} is not filled; pass -p in_path=VALUE",
    );
    bad(
        d,
        "wrong_type",
        &good(r#"{"path": "a", "skipHeader": "yes"}"#),
        &[],
        "job.content[0].reader.parameter.skipHeader: wrong type: found string \"yes\", expected a boolean",
    );
    bad(
        d,
        "bad_type_name",
        &good(r#"{"path": "a", "column": [{"index": 0, "type": "varchar"}]}"#),
        &[],
        "job.content[0].reader.parameter.column[0].type: unknown type \"varchar\"",
    );
    bad(
        d,
        "setting",
        &good(r#"{"path": "a"}"#).replace(
            "\"content\"",
            "\"setting\": {\"speed\": {\"channel\": \"x\"}}, \"content\"",
        ),
        &[],
        "job.setting.speed.channel",
    );
    bad(
        d,
        "bad_param",
        &good(r#"{"path": "a"}"#),
        &["-p", "novalue"],
        "\"novalue\" is not NAME=VALUE",
    );
    assert!(!out.exists(), "a bad job must touch nothing");
}

#[test]
fn dash_d_params_fill_placeholders() {
    let t = tempfile::tempdir().unwrap();
    let job = write_job(
        t.path(),
        "p",
        &stream_job(
            1,
            r#"[{"type": "string", "value": "${a}-${b}"}]"#,
            r#"{"speed": {"channel": "${ch}"}}"#,
            r#"{"name": "stream", "parameter": {"print": true}}"#,
        ),
    );
    let o = run_file(t.path(), &job, &["-p", "-Da=x -Db=y", "-p", "ch=2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "x-y\nx-y\n");
}

fn signal_mid_job(sig: &str, want: i32) {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let writer = format!(
        r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "big.csv", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    // Throttled so that it is surely mid-job when the signal arrives.
    let cols = r#"[{"type": "long", "incr": "1,1"}, {"type": "string", "random": "10,30"}]"#;
    let job = write_job(
        t.path(),
        "sig",
        &stream_job(
            10_000_000,
            cols,
            r#"{"speed": {"record": 200000}}"#,
            &writer,
        ),
    );
    let child = spawn(
        t.path(),
        &["run", job.to_str().unwrap(), "--report", "r.json"],
        &[],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let staging: Vec<String> = all_entries(&out);
    assert_eq!(
        staging.len(),
        1,
        "a staging directory while running: {staging:?}"
    );
    send_signal(child.id(), sig);
    let o = wait_or_hang(child, Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(want), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("INTERRUPTED"),
        "report printed: {}",
        stderr(&o)
    );
    assert!(
        all_entries(&out).is_empty(),
        "nothing published, staging removed: {:?}",
        all_entries(&out)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["status"], "interrupted");
    assert!(r["records_read"].as_u64().unwrap() > 0);
}

#[test]
fn sigterm_mid_job_exits_143_and_publishes_nothing() {
    signal_mid_job("TERM", 143);
}

#[test]
fn sigint_mid_job_exits_130() {
    signal_mid_job("INT", 130);
}

#[test]
fn stall_watchdog_names_the_stuck_side_and_fails_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("feed.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    // Hold the FIFO's write end open without writing until the job has ended: the reader waits
    // on its source forever, so only the watchdog's `stallAction: fail` can end the job.
    let f2 = fifo.clone();
    let (ended_tx, ended_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let w = std::fs::OpenOptions::new().write(true).open(&f2).unwrap();
        let _ = ended_rx.recv();
        drop(w);
    });
    let out = t.path().join("out");
    let job = write_job(
        t.path(),
        "stall",
        &file_to_file(
            &fifo,
            r#"[{"index":0,"type":"long"}]"#,
            &out,
            "",
            "",
            r#"{"stallTimeout": "1s", "stallAction": "fail"}"#,
        ),
    );
    let child = spawn(t.path(), &["run", job.to_str().unwrap()], &[]);
    let o = wait_or_hang(child, Duration::from_secs(120));
    ended_tx.send(()).unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the reader is stuck waiting on its source");
    assert!(visible_files(&out).is_empty());
    holder.join().unwrap();
}

#[test]
fn plugins_lists_names_and_aliases() {
    let t = tempfile::tempdir().unwrap();
    let o = run_in(t.path(), &["plugins"]);
    assert_eq!(code(&o), 0);
    let s = String::from_utf8_lossy(&o.stdout);
    for want in [
        "readers:",
        "writers:",
        "streamreader",
        "streamwriter",
        "txtfilereader",
        "txtfilewriter",
    ] {
        assert!(s.contains(want), "{want} in {s}");
    }
}

/// The plugin names `datasync plugins` lists under `section` (`readers:` or `writers:`).
fn plugin_names(dir: &Path, section: &str) -> Vec<String> {
    let o = run_in(dir, &["plugins"]);
    String::from_utf8_lossy(&o.stdout)
        .split(section)
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// `datasync check JOB -p k=v...` in `dir`.
fn check_with(dir: &Path, job: &Path, params: &[String]) -> std::process::Output {
    let mut args = vec!["check".to_string(), job.display().to_string()];
    for p in params {
        args.push("-p".into());
        args.push(p.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(dir, &args)
}

/// Sample values for every placeholder the templates and shipped jobs use.
fn sample_params(dir: &Path) -> Vec<String> {
    let input = file_in(dir, "sample.csv", "1,a\n");
    vec![
        format!("input_path={}", input.display()),
        format!("output_dir={}", dir.join("out").display()),
        format!("out_dir={}", dir.join("out").display()),
        "file_name=sample".into(),
        "rows=10".into(),
        "mysql_host=127.0.0.1".into(),
        "mysql_port=3306".into(),
        "mysql_db=shop".into(),
        "mysql_user=etl".into(),
        "mysql_password=secret".into(),
        "mysql_table=orders".into(),
        "pg_host=127.0.0.1".into(),
        "pg_port=5432".into(),
        "pg_db=warehouse".into(),
        "pg_user=etl".into(),
        "pg_password=secret".into(),
        "pg_table=orders".into(),
        "biz_date=2024-01-01".into(),
        "sftp_host=127.0.0.1".into(),
        "sftp_user=etl".into(),
        "sftp_key=/home/etl/.ssh/id_ed25519".into(),
        "known_hosts=/home/etl/.ssh/known_hosts".into(),
        "oracle_host=127.0.0.1".into(),
        "oracle_service=FREEPDB1".into(),
        "oracle_user=etl".into(),
        "oracle_password=secret".into(),
        "oracle_table=orders".into(),
        "hbase_thrift=127.0.0.1:9090".into(),
        "hbase_table=orders".into(),
        "hbase_target_table=orders_copy".into(),
    ]
}

#[test]
fn every_template_pair_passes_check_once_filled() {
    let t = tempfile::tempdir().unwrap();
    let names = |section: &str| plugin_names(t.path(), section);
    let (readers, writers) = (names("readers:"), names("writers:"));
    assert!(
        readers.len() >= 2 && writers.len() >= 2,
        "{readers:?} {writers:?}"
    );
    let params = sample_params(t.path());
    for r in &readers {
        for w in &writers {
            let o = run_in(t.path(), &["template", r, w]);
            assert_eq!(code(&o), 0);
            let job = write_job(
                t.path(),
                &format!("tpl_{r}_{w}"),
                &String::from_utf8_lossy(&o.stdout),
            );
            let o = check_with(t.path(), &job, &params);
            assert_eq!(code(&o), 0, "template {r} -> {w}: {}", stderr(&o));
        }
    }
    let o = run_in(t.path(), &["template", "nosuch", "file"]);
    assert_eq!(code(&o), 2);
}

/// Keys a plugin accepts only to ignore them with a warning (DataX tuning keys with no meaning
/// here), which its template need not show.
const IGNORED_KEYS: &[(&str, &str)] = &[
    ("writer mysql", "blocksCount bufferSize concurrentWrite costBound directPath failTryCount heartBeatInterval heartBeatTimeout maxActiveConnection maxErrors memstoreCheckIntervalSecond memstoreThreshold obCompatibilityMode obUpdateColumns obVersion ocjCreateResourceTimeout ocjGetConnectTimeout ocjProxyConnectTimeout parallel printCost rpcPort timeout usePartCalculator writerSubTaskCount writerThreadCount"),
    ("writer file", "format"),
    ("writer sftp", "format"),
    ("reader file", "charset"),
    ("reader mysql", "readBatchSize readByPartition timeout"),
    ("writer oracle", "jdbcConfig truncate"),
    ("writer stream", "visible"),
    // DataX's ZooKeeper settings: ignored beside thriftAddress (a warning says so).
    ("reader hbase", "hbaseConfig"),
    ("writer hbase", "autoFlush hbaseConfig truncate"),
];

/// `datasync template` shows every parameter each plugin accepts (the list its unknown-key
/// error gives), each with a comment above it; parameters that stand instead of another are
/// shown commented out, also with a comment.
#[test]
fn templates_show_every_parameter_with_a_comment() {
    let t = tempfile::tempdir().unwrap();
    let names = |section: &str| plugin_names(t.path(), section);
    let params = sample_params(t.path());
    let mut cases: Vec<(&str, String, [String; 2])> = Vec::new();
    for r in names("readers:") {
        cases.push(("reader", r.clone(), [r, "stream".into()]));
    }
    for w in names("writers:") {
        cases.push(("writer", w.clone(), ["stream".into(), w]));
    }
    for (side, name, pair) in &cases {
        let o = run_in(t.path(), &["template", &pair[0], &pair[1]]);
        assert_eq!(code(&o), 0);
        let text = String::from_utf8(o.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The side's parameter object: from its "parameter" line to the brace that closes it.
        let side_at = lines
            .iter()
            .position(|l| l.trim() == format!("\"{side}\": {{"))
            .unwrap();
        let start = side_at
            + lines[side_at..]
                .iter()
                .position(|l| l.contains("\"parameter\": {"))
                .unwrap();
        let indent = lines[start].len() - lines[start].trim_start().len();
        let end = start
            + lines[start..]
                .iter()
                .position(|l| {
                    l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
                })
                .unwrap();
        let member_pad = " ".repeat(indent + 2);
        let mut shown = Vec::new();
        for i in start + 1..end {
            let l = lines[i];
            let Some(rest) = l.strip_prefix(&member_pad) else {
                continue;
            };
            let key_of = |r: &str| {
                r.strip_prefix('"')
                    .and_then(|r| r.split_once('"'))
                    .map(|(k, _)| k.to_string())
            };
            if let Some(k) = rest.strip_prefix("// ").and_then(key_of) {
                assert!(
                    lines[i - 1].trim_start().starts_with("//") && !lines[i - 1].contains("\": "),
                    "{side} {name}: {k} shown commented out without a comment:\n{text}"
                );
                shown.push(k);
            } else if let Some(k) = key_of(rest) {
                assert!(
                    lines[i - 1].trim_start().starts_with("//"),
                    "{side} {name}: {k} has no comment:\n{text}"
                );
                shown.push(k);
            }
        }
        // What the plugin accepts: the list an unknown key gets.
        let mut with_unknown = lines.clone();
        let unknown = format!("{member_pad}\"zzzz\": 1,");
        with_unknown.insert(start + 1, &unknown);
        let job = write_job(t.path(), "tplkeys", &with_unknown.join("\n"));
        let err = stderr(&check_with(t.path(), &job, &params));
        let allowed = err
            .split("unknown key (allowed: ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_else(|| panic!("{side} {name}: no allowed-key list in {err}"));
        let ignored = IGNORED_KEYS
            .iter()
            .find(|(w, _)| *w == format!("{side} {name}"))
            .map(|(_, k)| k.split(' ').collect::<Vec<_>>())
            .unwrap_or_default();
        for key in allowed.split(", ") {
            assert!(
                shown.iter().any(|k| k == key) || ignored.contains(&key),
                "{side} {name}: template lacks {key} (shown: {shown:?})"
            );
        }
    }
}

#[test]
fn shipped_jobs_pass_check() {
    let t = tempfile::tempdir().unwrap();
    let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let params = sample_params(t.path());
    let mut n = 0;
    for e in std::fs::read_dir(&jobs).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        n += 1;
        let o = check_with(t.path(), &p, &params);
        assert_eq!(code(&o), 0, "{}: {}", p.display(), stderr(&o));
    }
    assert!(n >= 1, "no job templates found in {}", jobs.display());
}

#[test]
fn a_report_that_cannot_be_written_and_a_closed_stdout_are_said_once_with_exit_1() {
    let t = tempfile::tempdir().unwrap();
    let (o, _) = run_longs(
        t.path(),
        "rep",
        10,
        "{}",
        &["--report", "/nonexistent/dir/r.json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "(exit 1)");
    assert!(!stderr(&o).contains("(exit 0)"), "{}", stderr(&o));
    assert_stderr_has(&o, "cannot write the report to /nonexistent/dir/r.json");

    let printing = r#"{"name": "stream", "parameter": {"print": true}}"#;
    let job = write_job(
        t.path(),
        "pipe",
        &stream_job(200_000, ONE_LONG, "{}", printing),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_datasync"))
        .current_dir(t.path())
        .args(["run", job.to_str().unwrap(), "--no-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            // Read one line, then close stdout as `| head -1` does.
            let mut out = c.stdout.take().unwrap();
            let mut first = [0u8; 2];
            std::io::Read::read_exact(&mut out, &mut first)?;
            drop(out);
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        stderr(&o)
            .matches("stdout was closed by the program reading it")
            .count(),
        1,
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn run_and_check_help_give_examples_exit_codes_and_the_log_variable() {
    for cmd in ["run", "check"] {
        let o = Command::new(env!("CARGO_BIN_EXE_datasync"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("Examples:") && out.contains("Exit codes:"),
            "{out}"
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_datasync"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("DATASYNC_LOG"));
}

/// Placeholders: every unfilled one is named at once (exit 2); `${env:NAME}`, `${file:PATH}`
/// and `DATASYNC_PARAM_name` fill them, so a password needs neither the command line nor the
/// job file; a value taken from the environment or a file never shows in the output or the
/// report, wherever it ended up.
#[test]
fn placeholders_from_env_and_files_and_secrets_never_printed() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "${{name}}", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let job = write_job(
        t.path(),
        "ph",
        &stream_job(
            "${rows}".parse::<u64>().unwrap_or(0),
            r#"[{"value": "${env:DS_TEST_GREETING}", "type": "string"}]"#,
            r#"{"speed": {"channel": ${channels}}}"#,
            &writer,
        ),
    );
    // Nothing given: all four named in one message.
    let o = Command::new(bin())
        .current_dir(t.path())
        .env_remove("DS_TEST_GREETING")
        .args(["check", job.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("3 placeholders are not filled"), "{err}");
    for name in ["${name}", "${env:DS_TEST_GREETING}", "${channels}"] {
        assert_eq!(err.matches(name).count(), 1, "{name} named once: {err}");
    }
    assert!(
        err.contains("environment variable DS_TEST_GREETING is not set"),
        "{err}"
    );

    // Filled from the environment, a file and DATASYNC_PARAM_*: the job runs.
    let secret = "Gr33ting-from-the-env";
    std::fs::write(t.path().join("channels"), "2\n").unwrap();
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("${channels}", "${file:channels}")
        .replace("\"sliceRecordCount\": 0", "\"sliceRecordCount\": 3");
    std::fs::write(&job, text).unwrap();
    // A secret with a quote and a backslash, which JSON escapes.
    let quoted = r#"Qu"o\te-Pw"#;
    let run_with_env = |job: &Path, report: &str| {
        Command::new(bin())
            .current_dir(t.path())
            .env("DS_TEST_GREETING", secret)
            .env("DATASYNC_PARAM_name", "greetings")
            .env("DS_TEST_QUOTED", quoted)
            .args([
                "run",
                job.to_str().unwrap(),
                "--no-progress",
                "--report",
                report,
            ])
            .output()
            .unwrap()
    };
    let o = run_with_env(&job, "r.json");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        lines_in(&out),
        [secret; 6],
        "2 channels x 3 rows, the value as given"
    );
    assert!(visible_files(&out).iter().all(|f| f
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("greetings__")));

    // The same value in a place that ends up in an error: masked there and in the report.
    let bad = std::fs::read_to_string(&job).unwrap().replace(
        &format!("\"path\": \"{}\"", out.display()),
        "\"path\": \"/proc/${env:DS_TEST_GREETING}/${env:DS_TEST_QUOTED}/out\"",
    );
    let badjob = write_job(t.path(), "bad", &bad);
    let o = run_with_env(&badjob, "bad_report.json");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains(secret), "{}", stderr(&o));
    assert!(stderr(&o).contains("/proc/***/***/out"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("te-Pw"), "{}", stderr(&o));
    let report = std::fs::read_to_string(t.path().join("bad_report.json")).unwrap();
    assert!(!report.contains(secret), "{report}");
    assert!(report.contains("/proc/***/***/out"), "{report}");
    assert!(!report.contains("te-Pw"), "{report}");
}

#[test]
fn a_bad_job_is_an_error_line_in_json_logs() {
    let t = tempfile::tempdir().unwrap();
    let p = write_job(
        t.path(),
        "bad",
        r#"{"job": {"content": [{"reader": {"name": "nosuch"}, "writer": {"name": "streamwriter"}}]}}"#,
    );
    let o = run_in(
        t.path(),
        &["--log-format", "json", "check", p.to_str().unwrap()],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let lines = json_lines(&stderr(&o));
    let bad = lines
        .iter()
        .find(|l| l["message"].as_str().unwrap_or("").contains("bad job"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(bad["level"], "ERROR", "{bad}");
}
