//! HDFS, live: runs only when `DATASYNC_TEST_HDFS` names a namenode (`hdfs://host:8020`; the
//! user is `HADOOP_USER_NAME`), since no HDFS can be installed where the suite usually runs
//! (docker/compose.yml has one). Parquet, ORC and CSV are written under a fresh directory,
//! read back, and truncated again.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;

fn namenode() -> Option<String> {
    std::env::var("DATASYNC_TEST_HDFS")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

#[test]
fn write_and_read_back_on_hdfs() {
    let Some(nn) = namenode() else {
        eprintln!("DATASYNC_TEST_HDFS is not set: the live HDFS test is skipped");
        return;
    };
    let base = format!("/tmp/{}", unique("datasync_test"));
    let dir = tempfile::tempdir().unwrap();
    let reader = r#"{"name": "streamreader", "parameter": {"sliceRecordCount": 5000,
        "column": [{"name": "id", "type": "long", "incr": "1,1"},
                   {"name": "name", "type": "string", "random": "5,10"}]}}"#;
    for file_type in ["parquet", "orc", "csv"] {
        let writer = format!(
            r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "{nn}", "path": "{base}/{file_type}",
                "fileType": "{file_type}", "fileName": "t", "writeMode": "truncate",
                "fieldDelimiter": ",", "stagingDir": "{}",
                "column": [{{"name": "id", "type": "bigint"}}, {{"name": "name", "type": "string"}}]}}}}"#,
            dir.path().join(file_type).display()
        );
        for _ in 0..2 {
            let p = write_job(
                dir.path(),
                file_type,
                &job(r#"{"speed": {"channel": 2}}"#, reader, &writer),
            );
            let o = run_file(dir.path(), &p, &["--no-progress"]);
            assert_eq!(code(&o), 0, "{file_type}: {}", stderr(&o));
        }
        let rows = read_back(
            dir.path(),
            &format!(r#""defaultFS": "{nn}", "path": "{base}/{file_type}""#),
            file_type,
        );
        // Truncate replaced the first run's files: 10,000 rows, not 20,000.
        assert_eq!(rows, 10000, "{file_type}");
    }
}

/// An HA nameservice as DataX templates spell it: `defaultFS: hdfs://ns` and the namenodes in
/// `hadoopConfig` (here the one namenode of `DATASYNC_TEST_HDFS`, as the only member).
#[test]
fn ha_nameservice_from_hadoop_config() {
    let Some(nn) = namenode() else {
        eprintln!("DATASYNC_TEST_HDFS is not set: the live HDFS test is skipped");
        return;
    };
    let addr = nn
        .trim()
        .trim_start_matches("hdfs://")
        .trim_end_matches('/');
    let base = format!("/tmp/{}", unique("datasync_ha"));
    let dir = tempfile::tempdir().unwrap();
    let ha = format!(
        r#""defaultFS": "hdfs://dsns", "hadoopConfig": {{"dfs.nameservices": "dsns",
            "dfs.ha.namenodes.dsns": "nn1", "dfs.namenode.rpc-address.dsns.nn1": "{addr}"}}"#
    );
    let reader = r#"{"name": "streamreader", "parameter": {"sliceRecordCount": 1000,
        "column": [{"name": "id", "type": "long", "incr": "1,1"}]}}"#;
    let writer = format!(
        r#"{{"name": "hdfswriter", "parameter": {{{ha}, "path": "{base}", "fileType": "parquet",
            "fileName": "t", "writeMode": "truncate", "stagingDir": "{}",
            "column": [{{"name": "id", "type": "bigint"}}]}}}}"#,
        dir.path().join("staging").display()
    );
    let p = write_job(dir.path(), "ha", &job("{}", reader, &writer));
    let o = run_file(dir.path(), &p, &["--no-progress"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = read_back(dir.path(), &format!(r#"{ha}, "path": "{base}""#), "parquet");
    assert_eq!(rows, 1000);
}

/// Reads the table `location` (hdfsreader keys: defaultFS, path, ...) of `file_type` into a
/// local CSV under `dir`; returns its row count.
fn read_back(dir: &std::path::Path, location: &str, file_type: &str) -> usize {
    let back = dir.join(format!("back_{file_type}"));
    let hreader = format!(
        r#"{{"name": "hdfsreader", "parameter": {{{location}, "fileType": "{file_type}",
            "column": ["*"]}}}}"#
    );
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "b",
            "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
        back.display()
    );
    let p = write_job(dir, "back", &job("{}", &hreader, &writer));
    let o = run_file(dir, &p, &["--no-progress"]);
    assert_eq!(code(&o), 0, "{file_type}: {}", stderr(&o));
    lines_in(&back).len()
}
