//! The Airflow provider (integrations/airflow): `DatasyncOperator` in a real DAG run by
//! Apache Airflow's `dag.test()` over a SQLite metadata database (Airflow from PyPI, in
//! target/airflow-venv made by tests/setup.sh). A job file with a templated parameter and a
//! lineage file, the same job given as a templated dict, and a job over its error limit that
//! must fail at once although the task allows retries.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    let p = root().join("target/airflow-venv/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run .ci/run once (tests/setup.sh installs Airflow there)",
        p.display()
    );
    p
}

/// A job parameter the task log must not show.
const TOKEN: &str = "S3cr3t-Token-6f1e";

/// Runs an Airflow venv program with the test's environment; panics unless it exits 0.
/// Returns its stdout and stderr.
fn airflow(home: &Path, work: &Path, program: &str, args: &[&str]) -> (String, String) {
    let o = Command::new(venv_bin(program))
        .args(args)
        .env("AIRFLOW_HOME", home)
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__DAGS_FOLDER", home.join("dags"))
        .env("PYTHONPATH", root().join("integrations/airflow"))
        .env("DATASYNC_BIN", bin())
        .env("DATASYNC_WORK", work)
        .env("DATASYNC_GOOD_JOB", work.join("good.json"))
        .env("DATASYNC_BAD_JOB", work.join("bad.json"))
        .env("DATASYNC_SLOW_JOB", work.join("slow.json"))
        .env("DATASYNC_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Lines of every CSV file in `dir`.
fn csv_lines(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .count()
        })
        .sum()
}

#[test]
fn operator_runs_jobs_in_a_real_dag_and_fails_over_limit_runs_without_retry() {
    let t = tempfile::tempdir().unwrap();
    let (home, work) = (t.path().join("home"), t.path().join("work"));
    std::fs::create_dir_all(home.join("dags")).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(
        root().join("tests/airflow/datasync_test_dag.py"),
        home.join("dags/datasync_test_dag.py"),
    )
    .unwrap();
    std::fs::write(
        work.join("good.json"),
        r#"{"job": {"setting": {"speed": {"channel": 2}}, "content": [{
            "reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 500, "column": [
                {"name": "id", "type": "long", "incr": "1,1"}, {"name": "v", "type": "string", "value": "${token}"}]}},
            "writer": {"name": "txtfilewriter", "parameter": {"path": "${out}", "fileName": "rows",
                "writeMode": "truncate", "fileFormat": "csv"}}}]}}"#,
    )
    .unwrap();
    std::fs::write(work.join("in.csv"), "1\nabc\n3\n").unwrap();
    std::fs::write(
        work.join("bad.json"),
        r#"{"job": {"setting": {"errorLimit": {"record": 0}}, "content": [{
            "reader": {"name": "txtfilereader", "parameter": {"path": ["in.csv"], "fileFormat": "csv",
                "column": [{"index": 0, "type": "long"}]}},
            "writer": {"name": "txtfilewriter", "parameter": {"path": "out_bad", "fileName": "x",
                "writeMode": "truncate", "fileFormat": "csv"}}}]}}"#,
    )
    .unwrap();
    std::fs::write(
        work.join("slow.json"),
        r#"{"job": {"setting": {"speed": {"record": 20}}, "content": [{
            "reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 1000, "column": [
                {"name": "id", "type": "long", "incr": "1,1"}]}},
            "writer": {"name": "txtfilewriter", "parameter": {"path": "out_slow", "fileName": "s",
                "writeMode": "truncate", "fileFormat": "csv"}}}]}}"#,
    )
    .unwrap();
    airflow(&home, &work, "airflow", &["db", "migrate"]);
    let (out, err) = airflow(
        &home,
        &work,
        "python",
        &[home.join("dags/datasync_test_dag.py").to_str().unwrap()],
    );
    // Airflow logs the task log to stdout or stderr, depending on how it was started.
    let log = format!("{out}{err}");
    let lines: Vec<Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let task = |id: &str| -> &Value {
        lines
            .iter()
            .find(|l| l["task"] == id)
            .unwrap_or_else(|| panic!("no task {id} in {out}"))
    };
    for id in ["from_file", "from_dict"] {
        let t = task(id);
        assert_eq!(t["state"], "success", "{t}");
        assert_eq!(t["report_status"], "succeeded", "{t}");
        assert_eq!(t["records_written"], 1000, "{t}");
    }
    // Exit 3: failed on its first try, its report in XCom all the same.
    let bad = task("over_limit");
    assert_eq!(bad["state"], "failed", "{bad}");
    assert_eq!(bad["try"], 1, "retried: {bad}");
    assert_eq!(bad["report_status"], "error_limit_exceeded", "{bad}");
    assert!(lines.iter().any(|l| l["mapping"] == "ok"), "{out}");
    // The timeout stopped datasync with SIGTERM: its report says so, nothing was published.
    let slow = task("timed_out");
    assert_eq!(slow["state"], "failed", "{slow}");
    assert_eq!(slow["report_status"], "interrupted", "{slow}");
    assert!(
        !work.join("out_slow").exists() || csv_lines(&work.join("out_slow")) == 0,
        "published after a timeout"
    );
    // The job parameter reached the job (in every row) but not the task log.
    assert!(std::fs::read_to_string(
        std::fs::read_dir(work.join("out_file"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    )
    .unwrap()
    .contains(TOKEN));
    assert!(
        log.contains("job parameters: out, token"),
        "no parameter names in the task log"
    );
    assert!(
        !log.contains(TOKEN),
        "the task log shows a job parameter's value"
    );
    // What the jobs wrote, where Airflow's rendering put it.
    assert_eq!(csv_lines(&work.join("out_file")), 1000);
    assert_eq!(csv_lines(&work.join("out_dict")), 1000);
    let lineage: Vec<PathBuf> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("lineage-")
        })
        .collect();
    assert_eq!(lineage.len(), 1, "{lineage:?}");
    let name = lineage[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == "lineage-20260101.jsonl".len() && !name.contains('{'),
        "not rendered: {name}"
    );
    let events = std::fs::read_to_string(&lineage[0]).unwrap();
    let kinds: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["eventType"].to_string())
        .collect();
    assert_eq!(kinds, ["\"START\"", "\"COMPLETE\""]);
}
