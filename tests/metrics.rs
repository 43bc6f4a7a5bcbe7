//! Run metrics: `--metrics-file` (Prometheus text format) and `--metrics-push` to a real
//! Prometheus Pushgateway (Debian's `prometheus-pushgateway`) started on a loopback port;
//! what it serves is fetched over HTTP and parsed with the Python `prometheus_client` parser.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::process::{Child, Command, Stdio};

struct Pushgateway {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (tests/setup.sh installs it)");
        wait_for_port(&mut child, port, 20, "the Pushgateway");
        Pushgateway {
            child,
            port,
            _dir: dir,
        }
    }

    /// `{metric name: value}` of the samples labelled with `run_id`, as prometheus_client
    /// parses what the gateway serves.
    fn samples(&self, run_id: &str) -> serde_json::Value {
        let out = run_python(
            r#"
import json, sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
out = {}
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        if s.labels.get("run_id") == sys.argv[2]:
            out[s.name] = s.value
            out["job_label"] = s.labels.get("job")
print(json.dumps(out))
"#,
            &[&self.port.to_string(), run_id],
        );
        serde_json::from_str(out.trim()).unwrap()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same parser over a file.
fn file_samples(path: &std::path::Path) -> serde_json::Value {
    let out = run_python(
        r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        out[s.name] = s.value
        out["labels"] = s.labels
print(json.dumps(out))
"#,
        &[path.to_str().unwrap()],
    );
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn metrics_are_pushed_while_running_and_at_the_end() {
    let g = Pushgateway::start();
    let t = tempfile::tempdir().unwrap();
    // 3,000 rows at 1,000 rows/s: about three seconds, with updates every second.
    let text = job(
        r#"{"speed": {"record": 1000}}, "verify": {"rules": [{"rule": "count"}]}"#,
        r#"{"name": "streamreader", "parameter": {"column": [{"type": "long", "incr": "1,1"}], "sliceRecordCount": 3000}}"#,
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let p = write_job(t.path(), "metered", &text);
    let prom = t.path().join("run.prom");
    let report = t.path().join("r.json");
    let push = format!("http://127.0.0.1:{}", g.port);
    let args = [
        "run",
        p.to_str().unwrap(),
        "--no-progress",
        "--metrics-interval",
        "1",
        "--run-id",
        "metered_1",
        "--metrics-push",
        &push,
        "--metrics-file",
        prom.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let child = spawn(t.path(), &args, &[]);
    // While it runs: a pushed sample that says so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut seen_running = None;
    while std::time::Instant::now() < deadline {
        let s = g.samples("metered_1");
        if s["datasync_running"] == 1.0 {
            seen_running = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let o = wait_or_hang(child, std::time::Duration::from_secs(60));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let live = seen_running.expect("no in-run push seen");
    assert_eq!(live["job_label"], "metered");
    assert!(
        live["datasync_records_written_total"].as_f64().unwrap() < 3000.0,
        "{live}"
    );
    // At the end: the report's figures, pushed and in the file.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let end = g.samples("metered_1");
    let file = file_samples(&prom);
    for s in [&end, &file] {
        assert_eq!(s["datasync_running"], 0.0, "{s}");
        assert_eq!(s["datasync_exit_code"], 0.0, "{s}");
        assert_eq!(s["datasync_records_read_total"], 3000.0, "{s}");
        assert_eq!(
            s["datasync_records_written_total"],
            r["records_written"].as_f64().unwrap()
        );
        assert_eq!(
            s["datasync_bytes_written_total"],
            r["bytes_written"].as_f64().unwrap()
        );
        assert_eq!(s["datasync_dirty_records_total"], 0.0);
        assert_eq!(s["datasync_retries_total"], 0.0);
        assert_eq!(s["datasync_verify_strong_failed"], 0.0, "{s}");
        assert_eq!(s["datasync_verify_weak_failed"], 0.0, "{s}");
        assert!(
            s["datasync_throttle_wait_seconds_total"].as_f64().unwrap() > 1.0,
            "{s}"
        );
        assert!(
            (s["datasync_duration_seconds"].as_f64().unwrap()
                - r["duration_seconds"].as_f64().unwrap())
            .abs()
                < 1e-6
        );
    }
    assert_eq!(file["labels"]["job"], "metered");
    assert_eq!(file["labels"]["run_id"], "metered_1");
}

#[test]
fn a_failed_run_pushes_its_exit_code_and_a_dead_gateway_does_not_fail_the_job() {
    let g = Pushgateway::start();
    let t = tempfile::tempdir().unwrap();
    let p = failing_job(t.path(), "1\nx\n3\n");
    let push = format!("http://127.0.0.1:{}", g.port);
    let o = run_file(
        t.path(),
        &p,
        &[
            "--no-progress",
            "--run-id",
            "failing_1",
            "--metrics-push",
            &push,
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let s = g.samples("failing_1");
    assert_eq!(s["datasync_exit_code"], 3.0, "{s}");
    assert_eq!(s["datasync_dirty_records_total"], 1.0, "{s}");
    // Nothing listens there: a warning, and the job's own outcome.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let ok = job(
        "{}",
        r#"{"name": "streamreader", "parameter": {"column": [{"type": "long", "value": "1"}], "sliceRecordCount": 5}}"#,
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let p = write_job(t.path(), "ok", &ok);
    let o = run_file(t.path(), &p, &["--no-progress", "--metrics-push", &dead]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "--metrics-push");
    assert_stderr_has(&o, "the job goes on");
    // A URL that cannot be a Pushgateway is refused before the job starts.
    let o = run_file(t.path(), &p, &["--metrics-push", "https://gw:9091"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "https and other schemes are not supported");
}

#[test]
fn output_files_are_checked_before_the_job() {
    let t = tempfile::tempdir().unwrap();
    let ok = job(
        "{}",
        r#"{"name": "streamreader", "parameter": {"column": [{"type": "long", "value": "1"}], "sliceRecordCount": 5}}"#,
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let p = write_job(t.path(), "ok", &ok);
    let fifo = t.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let link = t.path().join("link.prom");
    std::os::unix::fs::symlink(t.path().join("target.prom"), &link).unwrap();
    let same = t.path().join("same.out");
    let job_path = p.to_str().unwrap().to_string();
    for (args, want) in [
        (vec!["--metrics-file", "/dev/null"], "not a regular file"),
        (
            vec!["--metrics-file", link.to_str().unwrap()],
            "not a regular file",
        ),
        (
            vec!["--lineage", fifo.to_str().unwrap()],
            "not a regular file",
        ),
        (
            vec![
                "--metrics-file",
                same.to_str().unwrap(),
                "--dirty-file",
                same.to_str().unwrap(),
            ],
            "the dirty file and --metrics-file are the same file",
        ),
        (
            vec!["--metrics-file", job_path.as_str()],
            "the job file and --metrics-file are the same file",
        ),
        (
            vec![
                "--report",
                same.to_str().unwrap(),
                "--lineage",
                same.to_str().unwrap(),
            ],
            "--report and --lineage are the same file",
        ),
        (
            vec!["--metrics-push", "http://u:pw12345@127.0.0.1:1"],
            "credentials in the URL are not supported",
        ),
        (
            vec!["--lineage", "ftp://h:1/x"],
            "expected http://host:port",
        ),
    ] {
        let mut all = vec!["run", job_path.as_str(), "--no-progress"];
        all.extend(args.iter().copied());
        let o = run_in(t.path(), &all);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert_stderr_has(&o, want);
        assert!(!stderr(&o).contains("pw12345"), "{}", stderr(&o));
    }
    // Nothing replaced: /dev/null is still a device, the link still a link.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}
