//! `datasync schema`: the job's JSON Schema (draft 2020-12) checked by an independent
//! validator (Python's jsonschema): every shipped job, every template `datasync template`
//! prints and every DataX doc example the binary accepts is valid; a misspelled key, a wrong
//! type and a missing required key are invalid (and `check` refuses them too).
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const PLUGINS: &[&str] = &[
    "stream", "file", "mysql", "postgres", "oracle", "hbase", "parquet", "hdfs", "sftp",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `datasync ARGS` in `dir`, stdout written to `dir/name`; panics unless it exits 0.
fn save(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let o = run_in(dir, args);
    assert_eq!(code(&o), 0, "datasync {args:?}: {}", stderr(&o));
    let p = dir.join(name);
    std::fs::write(&p, &o.stdout).unwrap();
    p
}

/// The validator's verdict per file: `(file, None)` when valid, else the first error.
fn validate(schema: &Path, files: &[PathBuf]) -> Vec<(String, Option<String>)> {
    let script = root().join("tests/schema/validate.py");
    let mut args = vec![script.to_str().unwrap(), schema.to_str().unwrap()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let out = stdout_of(std::process::Command::new(python()).args(&args), "python");
    let verdicts: Vec<(String, Option<String>)> = out
        .lines()
        .map(|l| match l.strip_prefix("ok ") {
            Some(f) => (f.to_string(), None),
            None => {
                let rest = l.strip_prefix("invalid ").unwrap();
                let (f, why) = rest.split_once(": ").unwrap();
                (f.to_string(), Some(why.to_string()))
            }
        })
        .collect();
    assert_eq!(verdicts.len(), files.len(), "{out}");
    verdicts
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn shipped_jobs_every_template_and_accepted_datax_examples_validate() {
    let t = tempfile::tempdir().unwrap();
    let schema = save(t.path(), "job.schema.json", &["schema"]);
    let mut files = json_files(&root().join("jobs"));
    assert!(files.len() >= 8, "{files:?}");
    for r in PLUGINS {
        for w in PLUGINS {
            files.push(save(
                t.path(),
                &format!("tpl-{r}-{w}.json"),
                &["template", r, w],
            ));
        }
    }
    // Every DataX doc example `check` accepts (offline) must validate: a platform that
    // validates with the schema never refuses a job the binary would run.
    let mut accepted = 0;
    for ex in json_files(&root().join("tests/datax/examples")) {
        if code(&run_in(t.path(), &["check", ex.to_str().unwrap()])) == 0 {
            files.push(ex);
            accepted += 1;
        }
    }
    assert!(accepted >= 10, "only {accepted} DataX examples pass check");
    let bad: Vec<_> = validate(&schema, &files)
        .into_iter()
        .filter(|(_, why)| why.is_some())
        .collect();
    assert!(bad.is_empty(), "valid jobs the schema refuses: {bad:#?}");
}

/// Writes `job` as `name.json` in `dir`.
fn job_file(dir: &Path, name: &str, job: &Value) -> PathBuf {
    write_job(dir, name, &serde_json::to_string_pretty(job).unwrap())
}

#[test]
fn mistakes_are_invalid_for_the_schema_as_for_check() {
    let t = tempfile::tempdir().unwrap();
    let schema = save(t.path(), "job.schema.json", &["schema"]);
    let demo: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("jobs/demo_stream_to_file.json")).unwrap(),
    )
    .unwrap();
    let reader = "/job/content/0/reader/parameter";
    let writer = "/job/content/0/writer/parameter";
    let mut cases: Vec<(&str, Value, String)> = Vec::new();
    // The demo job without `key` of the object at `pointer`.
    let without = |pointer: &str, key: &str| {
        let mut j = demo.clone();
        j.pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .and_then(|o| o.remove(key))
            .unwrap_or_else(|| panic!("{pointer}/{key} in the demo job"));
        j
    };
    // A misspelled key.
    let mut j = demo.clone();
    let p = j.pointer_mut(reader).unwrap().as_object_mut().unwrap();
    let n = p.remove("sliceRecordCount").unwrap();
    p.insert("sliceRecordCont".into(), n);
    cases.push(("misspelled", j, "sliceRecordCont".into()));
    // A wrong type: a list where the path is a string.
    let mut j = demo.clone();
    *j.pointer_mut(&format!("{writer}/path")).unwrap() = json!(["out"]);
    cases.push(("wrong-type", j, "path".into()));
    // A quoted number that is not a number.
    let mut j = demo.clone();
    *j.pointer_mut("/job/setting/speed/channel").unwrap() = json!("four");
    cases.push(("not-a-number", j, "channel".into()));
    // A missing required key.
    cases.push(("missing", without(reader, "column"), "column".into()));
    // A misspelled key of another writer chosen by its DataX alias (in upper case).
    let mut j = demo.clone();
    *j.pointer_mut("/job/content/0/writer").unwrap() = json!({"name": "MYSQLWRITER", "parameter": {"username": "u", "column": ["*"], "writeMod": "insert",
               "connection": [{"jdbcUrl": "jdbc:mysql://127.0.0.1:3306/d", "table": ["t"]}]}});
    cases.push(("alias-misspelled", j, "writeMod".into()));
    // An unknown plugin.
    let mut j = demo.clone();
    *j.pointer_mut("/job/content/0/reader/name").unwrap() = json!("mongodbreader");
    cases.push(("unknown-plugin", j, "name".into()));
    // A reader without its parameter (it has required keys).
    let no_parameter = without("/job/content/0/reader", "parameter");
    cases.push(("no-parameter", no_parameter, "parameter".into()));
    // A text key beside hdfs's Parquet file type.
    let mut j = demo.clone();
    *j.pointer_mut("/job/content/0/writer").unwrap() = json!({"name": "hdfswriter", "parameter": {
        "path": "out", "fileName": "p", "fileType": "parquet", "nullFormat": "\\N",
        "writeMode": "append", "column": [{"name": "id", "type": "bigint"}]}});
    cases.push(("hdfs-shape", j, "nullFormat".into()));
    // A verify rule of an unknown kind.
    let mut j = demo.clone();
    j["job"]["verify"] = json!({"rules": [{"rule": "avg", "column": "id"}]});
    cases.push(("verify-rule", j, "avg".into()));

    let files: Vec<PathBuf> = cases
        .iter()
        .map(|(name, j, _)| job_file(t.path(), name, j))
        .collect();
    for ((name, _, key), (file, why)) in cases.iter().zip(validate(&schema, &files)) {
        let why = why.unwrap_or_else(|| panic!("{name}: the schema accepts {file}"));
        assert!(why.contains(key.as_str()), "{name}: {why}");
        let o = run_in(t.path(), &["check", &file]);
        assert_eq!(code(&o), 2, "{name}: check accepts it: {}", stderr(&o));
    }
    // A verify block is valid for both.
    let mut j = demo.clone();
    j["job"]["verify"] = json!({"rules": [{"rule": "count"},
        {"rule": "sum", "column": "id", "tolerance": {"abs": 0.5}, "level": "weak"}, {"rule": "checksum"}]});
    let f = job_file(t.path(), "verify", &j);
    let v = validate(&schema, std::slice::from_ref(&f));
    assert_eq!(v[0].1, None, "{v:?}");
    let o = run_in(t.path(), &["check", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The same job with a quoted number and a ${var} placeholder is valid (as for the binary).
    let mut j = demo.clone();
    *j.pointer_mut("/job/setting/speed/channel").unwrap() = json!("${channel}");
    *j.pointer_mut(&format!("{reader}/sliceRecordCount"))
        .unwrap() = json!("1000");
    let f = job_file(t.path(), "placeholders", &j);
    let v = validate(&schema, std::slice::from_ref(&f));
    assert_eq!(v[0].1, None, "{v:?}");
    let o = run_in(t.path(), &["check", f.to_str().unwrap(), "-p", "channel=2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Placeholders stand for any value: environment and file forms, in enums and names too.
    *j.pointer_mut("/job/setting/speed/channel").unwrap() = json!("${env:DS_CHANNEL}");
    *j.pointer_mut(&format!("{writer}/writeMode")).unwrap() = json!("${mode}");
    *j.pointer_mut("/job/content/0/writer/name").unwrap() = json!("${writer_plugin}");
    let f = job_file(t.path(), "placeholders2", &j);
    let v = validate(&schema, std::slice::from_ref(&f));
    assert_eq!(v[0].1, None, "{v:?}");
    let o = std::process::Command::new(bin())
        .current_dir(t.path())
        .env("DS_CHANNEL", "2")
        .args([
            "check",
            f.to_str().unwrap(),
            "-p",
            "mode=truncate",
            "-p",
            "writer_plugin=txtfilewriter",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn one_plugin_schema_checks_that_plugins_parameter() {
    let t = tempfile::tempdir().unwrap();
    let schema = save(t.path(), "mysql.schema.json", &["schema", "reader:mysql"]);
    let job: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("jobs/mysql_to_file.json")).unwrap(),
    )
    .unwrap();
    let mut param = job
        .pointer("/job/content/0/reader/parameter")
        .unwrap()
        .clone();
    let ok = job_file(t.path(), "param", &param);
    param["splitPK"] = json!("id");
    let bad = job_file(t.path(), "param-bad", &param);
    let v = validate(&schema, &[ok, bad]);
    assert_eq!(v[0].1, None, "{v:?}");
    assert!(v[1].1.as_deref().unwrap_or("").contains("splitPK"), "{v:?}");
    // An alias picks its side; a name both sides have must say which.
    save(t.path(), "hdfs.schema.json", &["schema", "hdfswriter"]);
    let o = run_in(t.path(), &["schema", "mysql"]);
    assert_eq!(code(&o), 2);
    assert_stderr_has(&o, "reader:mysql or writer:mysql");
    let o = run_in(t.path(), &["schema", "writer:nosuch"]);
    assert_eq!(code(&o), 2);
    assert_stderr_has(&o, "no writer plugin \"nosuch\"");
}
