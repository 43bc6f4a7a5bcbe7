//! DataX template compatibility: every documented parameter key and enum value of every
//! plugin we alias (tests/datax/manifest.json, written from DataX's plugin docs) is set into
//! a minimal valid job (tests/datax/base.json) and run through `datasync check`; the doc
//! examples (tests/datax/examples) are checked whole. The verdicts are the table in
//! docs/datax-compat.md, which this test regenerates: it fails when the file is stale (run
//! with `DATASYNC_BLESS=1` to rewrite it) and when anything is refused that is not listed
//! below with its reason.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Documented keys or values we refuse on purpose: (plugin, path, value or "" for the key
/// itself). Each refusal must print a reason; the table shows it.
const EXPECTED_REFUSALS: &[(&str, &str, &str)] = &[
    // RC and SequenceFile files: not planned.
    ("hdfsreader", "fileType", "rc"),
    ("hdfsreader", "fileType", "seq"),
    // Kerberos: not yet.
    ("hdfsreader", "haveKerberos", "true"),
    ("hdfswriter", "haveKerberos", "true"),
    // OceanBase direct-path (bypass) import needs OceanBase's own RPC protocol.
    ("oceanbasev10writer", "directPath", ""),
];

/// Doc examples valid for DataX that we refuse, and why.
const EXPECTED_EXAMPLE_REFUSALS: &[&str] = &[
    // A ZooKeeper quorum (hbaseConfig) only: datasync needs the Thrift gateway's thriftAddress,
    // and check says so.
    "hbase11xreader-1.json",
    "hbase11xreader-2.json",
    "hbase11xwriter-1.json",
];

fn datax_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/datax")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Sets `path` (`a.b[0].c`) in `root` to `v`, creating objects and list slots on the way.
fn set_path(root: &mut Value, path: &str, v: Value) {
    let mut cur = root;
    let segments: Vec<&str> = path.split('.').collect();
    for (n, seg) in segments.iter().enumerate() {
        let (name, index) = match seg.find('[') {
            Some(at) => (
                &seg[..at],
                Some(seg[at + 1..seg.len() - 1].parse::<usize>().unwrap()),
            ),
            None => (*seg, None),
        };
        let last = n + 1 == segments.len();
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let obj = cur.as_object_mut().unwrap();
        match index {
            None if last => {
                obj.insert(name.to_string(), v);
                return;
            }
            None => cur = obj.entry(name).or_insert_with(|| json!({})),
            Some(i) => {
                let slot = obj.entry(name).or_insert_with(|| json!([]));
                if !slot.is_array() {
                    *slot = json!([]);
                }
                let list = slot.as_array_mut().unwrap();
                while list.len() <= i {
                    list.push(json!({}));
                }
                if last {
                    list[i] = v;
                    return;
                }
                cur = &mut list[i];
            }
        }
    }
}

/// The other keys a documented key only means something with (`"also": {path: value}`), e.g.
/// `connectPattern` with `protocol: ftp`.
fn set_also(param: &mut Value, entry: &Value) {
    if let Some(also) = entry.get("also").and_then(Value::as_object) {
        for (path, v) in also {
            set_path(param, path, v.clone());
        }
    }
}

/// `column[0]` of `column[0].value`.
fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(parent, _)| parent)
}

fn is_reader(plugin: &str) -> bool {
    plugin.ends_with("reader")
}

/// A whole job around one plugin's parameter: a stream plugin on the other side.
fn job_around(plugin: &str, parameter: &Value) -> Value {
    let me = json!({"name": plugin, "parameter": parameter});
    if is_reader(plugin) {
        json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
            "reader": me,
            "writer": {"name": "streamwriter", "parameter": {"print": false}}}]}})
    } else {
        let columns = parameter
            .get("column")
            .and_then(Value::as_array)
            .map_or(1, |c| c.len().max(1));
        let column: Vec<Value> = (0..columns)
            .map(|i| json!({"value": i.to_string(), "type": "long"}))
            .collect();
        json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
            "reader": {"name": "streamreader", "parameter": {"column": column, "sliceRecordCount": 1}},
            "writer": me}]}})
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Supported,
    Warned(String),
    Ignored(String),
    Refused(String),
}

impl Verdict {
    fn cell(&self) -> String {
        match self {
            Verdict::Supported => "supported".into(),
            Verdict::Warned(why) => format!("supported, with a warning: {}", md(why)),
            Verdict::Ignored(why) => format!("accepted, ignored: {}", md(why)),
            Verdict::Refused(why) => format!("**refused**: {}", md(why)),
        }
    }
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The warning lines of a `check` (timestamps and the job path taken off).
fn warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(" WARN ").map(|(_, w)| w.trim()))
        .map(|w| w.strip_prefix("job.json: ").unwrap_or(w).to_string())
        .collect()
}

struct Checker {
    dir: tempfile::TempDir,
}

impl Checker {
    /// `datasync check job.json` on `job`: the exit code and its stderr.
    fn check(&self, job: &Value) -> (i32, String) {
        write_job(
            self.dir.path(),
            "job",
            &serde_json::to_string_pretty(job).unwrap(),
        );
        let o = run_in(self.dir.path(), &["check", "job.json"]);
        (code(&o), stderr(&o))
    }

    fn verdict(&self, job: &Value, base_warnings: &[String]) -> Verdict {
        let (code, err) = self.check(job);
        if code != 0 {
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let reason = last
                .trim()
                .strip_prefix("datasync: bad job: ")
                .or_else(|| last.trim().strip_prefix("datasync: "))
                .unwrap_or(last.trim());
            return Verdict::Refused(reason.to_string());
        }
        let new: Vec<String> = warnings(&err)
            .into_iter()
            .filter(|w| !base_warnings.contains(w))
            .collect();
        if new.is_empty() {
            Verdict::Supported
        } else if new.iter().any(|w| w.contains("ignored")) {
            Verdict::Ignored(new.join("; "))
        } else {
            Verdict::Warned(new.join("; "))
        }
    }
}

#[test]
fn datax_documented_keys_values_and_examples() {
    let manifest = load(&datax_dir().join("manifest.json"));
    let base = load(&datax_dir().join("base.json"));
    let checker = Checker {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut doc = String::new();
    let mut summary = Vec::new();
    let mut unexpected = Vec::new();
    let mut sections = String::new();
    let plugins = manifest.as_object().unwrap();
    let (mut keys_total, mut keys_ok, mut values_total, mut values_ok) = (0, 0, 0, 0);
    for (plugin, spec) in plugins {
        let param = base
            .get(plugin)
            .unwrap_or_else(|| panic!("base.json has no {plugin}"));
        let (code, err) = checker.check(&job_around(plugin, param));
        assert_eq!(code, 0, "the base job of {plugin} must pass check: {err}");
        let base_warnings = warnings(&err);
        let _ = writeln!(sections, "\n## {plugin}\n");
        let _ = writeln!(sections, "| key | example value | verdict |\n|---|---|---|");
        let (mut p_keys, mut p_keys_ok) = (0, 0);
        for k in spec["keys"].as_array().unwrap() {
            let path = k["path"].as_str().unwrap();
            let mut p = param.clone();
            set_also(&mut p, k);
            if let Some(parent) = k.get("parent") {
                set_path(&mut p, parent_of(path), parent.clone());
            }
            set_path(&mut p, path, k["value"].clone());
            let v = checker.verdict(&job_around(plugin, &p), &base_warnings);
            p_keys += 1;
            if let Verdict::Refused(why) = &v {
                if !EXPECTED_REFUSALS.contains(&(plugin.as_str(), path, "")) {
                    unexpected.push(format!("{plugin} {path}: {why}"));
                }
            } else {
                p_keys_ok += 1;
            }
            let _ = writeln!(
                sections,
                "| `{path}` | `{}` | {} |",
                md(&k["value"].to_string()),
                v.cell()
            );
        }
        let (mut p_values, mut p_values_ok) = (0, 0);
        let enums = spec["enums"].as_array().unwrap();
        if !enums.is_empty() {
            let _ = writeln!(sections, "\n| key | value | verdict |\n|---|---|---|");
        }
        for e in enums {
            let path = e["path"].as_str().unwrap();
            for value in e["values"].as_array().unwrap() {
                let mut p = param.clone();
                set_also(&mut p, e);
                if let Some(parent) = e.get("with").and_then(|w| w.get(value.as_str()?)) {
                    set_path(&mut p, parent_of(path), parent.clone());
                }
                set_path(&mut p, path, value.clone());
                let v = checker.verdict(&job_around(plugin, &p), &base_warnings);
                p_values += 1;
                let shown = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                if let Verdict::Refused(why) = &v {
                    if !EXPECTED_REFUSALS.contains(&(plugin.as_str(), path, shown.as_str())) {
                        unexpected.push(format!("{plugin} {path}={shown}: {why}"));
                    }
                } else {
                    p_values_ok += 1;
                }
                let _ = writeln!(sections, "| `{path}` | `{}` | {} |", md(&shown), v.cell());
            }
        }
        summary.push(format!(
            "| {plugin} | {p_keys_ok} / {p_keys} | {p_values_ok} / {p_values} |"
        ));
        keys_total += p_keys;
        keys_ok += p_keys_ok;
        values_total += p_values;
        values_ok += p_values_ok;
    }

    // The doc examples, checked whole.
    let invalid = std::fs::read_to_string(datax_dir().join("examples/INVALID.md")).unwrap();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(datax_dir().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    examples.sort();
    let mut example_rows = String::new();
    let (mut valid, mut valid_ok) = (0, 0);
    for ex in &examples {
        let name = ex.file_name().unwrap().to_string_lossy().to_string();
        let job = load(ex);
        let v = checker.verdict(&job, &[]);
        let datax_invalid = invalid
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string));
        let note = match &datax_invalid {
            Some(why) => format!("invalid for DataX too: {}", md(why)),
            None => {
                valid += 1;
                if matches!(v, Verdict::Refused(_)) {
                    if !EXPECTED_EXAMPLE_REFUSALS.contains(&name.as_str()) {
                        unexpected.push(format!("example {name}: {v:?}"));
                    }
                } else {
                    valid_ok += 1;
                }
                "valid for DataX".into()
            }
        };
        let _ = writeln!(example_rows, "| `{name}` | {} | {note} |", v.cell());
    }

    let _ = writeln!(
        doc,
        "# DataX compatibility\n\n\
         Generated by `tests/datax.rs` (`DATASYNC_BLESS=1 cargo test --test datax` rewrites it); \
         do not edit by hand.\n\n\
         Every parameter key and enum value documented in DataX's plugin docs (`<plugin>/doc/*.md` \
         of alibaba/DataX; the stream plugins from their templates) is listed in \
         `tests/datax/manifest.json`. The suite sets each one into a minimal valid job \
         (`tests/datax/base.json`) and runs `datasync check` on it:\n\n\
         - **supported**: accepted without a warning, and honoured (the plugin sections of the \
         README say how);\n\
         - **supported, with a warning**: honoured, and a warning line says what to watch \
         (e.g. plain FTP is unencrypted);\n\
         - **accepted, ignored**: the job runs, and a warning line says why the key has no \
         effect here;\n\
         - **refused**: `check` exits 2 with the reason shown.\n\n\
         Totals: {keys_ok} of {keys_total} documented keys accepted, {values_ok} of \
         {values_total} documented values accepted, {valid_ok} of {valid} doc examples that are \
         valid for DataX pass `check`.\n\n\
         | plugin | keys accepted | values accepted |\n|---|---|---|"
    );
    for row in &summary {
        let _ = writeln!(doc, "{row}");
    }
    let _ = writeln!(
        doc,
        "\n## Doc examples\n\n\
         Our own files built from each doc's example job (`tests/datax/examples`, sources in \
         `SOURCES.md` there), run through `check`. Those whose systems exist on the test \
         machine (MySQL/MariaDB, PostgreSQL, local files) also run end to end \
         (`datax_doc_examples_run_against_the_servers_here`): the valid ones succeed with their \
         rows checked; the two writer examples DataX itself fails on (5 generated columns into \
         2) fail with that reason.\n\n\
         | example | verdict | for DataX |\n|---|---|---|\n{example_rows}"
    );
    doc.push_str(&sections);

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/datax-compat.md");
    if std::env::var_os("DATASYNC_BLESS").is_some() {
        std::fs::write(&target, &doc).unwrap();
    }
    assert!(
        unexpected.is_empty(),
        "refused without being listed in EXPECTED_REFUSALS:\n{}",
        unexpected.join("\n")
    );
    let committed = std::fs::read_to_string(&target).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/datax-compat.md is stale: rerun with DATASYNC_BLESS=1 and commit it"
    );
}

/// An example job with its servers and paths swapped for this run's: the text of
/// `tests/datax/examples/<name>.json` with `from -> to` replacements applied.
fn example_text(name: &str, swaps: &[(&str, String)]) -> String {
    let mut text =
        std::fs::read_to_string(datax_dir().join("examples").join(format!("{name}.json"))).unwrap();
    for (from, to) in swaps {
        assert!(text.contains(from), "{name} has no {from}");
        text = text.replace(from, to);
    }
    text
}

fn run_example(dir: &Path, name: &str, text: &str) -> std::process::Output {
    let job = write_job(dir, name, text);
    run_file(dir, &job, &["--no-progress"])
}

/// The doc examples that pass `check`, run where their systems exist here (MySQL/MariaDB,
/// PostgreSQL, files; not OceanBase, HDFS or an FTP server): the examples valid for DataX
/// succeed and their rows are checked on the other side; the writer examples DataX itself
/// would fail on (5 generated columns into 2) fail here too, clearly, and write nothing.
#[test]
fn datax_doc_examples_run_against_the_servers_here() {
    let t = tempfile::tempdir().unwrap();
    let my = MariaDb::new();
    my.exec(
        "CREATE TABLE t_example (id BIGINT PRIMARY KEY, name VARCHAR(32));
         INSERT INTO t_example SELECT seq, CONCAT('name ', seq) FROM seq_1_to_20;",
    );
    let my_url = my.url();
    let my_server = mysql_server();
    let my_swaps = |url: &'static str| {
        vec![
            (url, my_url.clone()),
            (
                r#""username": "root""#,
                format!(r#""username": "{}""#, my_server.user),
            ),
            (
                r#""password": """#,
                format!(r#""password": "{}""#, my_server.password),
            ),
        ]
    };
    // Table mode with splitPk, printed by the stream writer.
    let text = example_text(
        "mysqlreader-1",
        &my_swaps("jdbc:mysql://127.0.0.1:3306/datax_compat"),
    );
    let o = run_example(t.path(), "mysqlreader-1", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert_eq!(printed.lines().count(), 20, "{printed}");
    assert!(printed.lines().any(|l| l == "7\tname 7"), "{printed}");
    // querySql behind two unusable candidate URLs (a closed port, then "bad_port").
    let text = example_text(
        "mysqlreader-2",
        &my_swaps("jdbc:mysql://127.0.0.1:3306/datax_compat"),
    )
    .replace(
        "127.0.0.1:1/datax_compat",
        &format!("127.0.0.1:1/{}", my.name),
    )
    .replace(
        "127.0.0.1:bad_port/datax_compat",
        &format!("127.0.0.1:bad_port/{}", my.name),
    );
    let o = run_example(t.path(), "mysqlreader-2", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "read 9");
    // 5 generated columns into 2: DataX fails on the first record; so does this, naming why.
    my.exec("INSERT INTO t_example VALUES (100, 'kept')");
    let text = example_text(
        "mysqlwriter-1",
        &my_swaps("jdbc:mysql://127.0.0.1:3306/datax_compat?useUnicode=true&characterEncoding=gbk"),
    );
    let o = run_example(t.path(), "mysqlwriter-1", &text);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "the writer lists 2 columns (id, name) but the reader produces 5",
    );
    assert_eq!(
        my.query("SELECT COUNT(*) FROM t_example WHERE id >= 20240101"),
        "0"
    );

    let pg = Pg::new();
    pg.query(
        "CREATE TABLE t_example (id BIGINT PRIMARY KEY, name TEXT);
         INSERT INTO t_example SELECT g, 'name ' || g FROM generate_series(1, 20) g;",
    );
    let pg_server = pg_server();
    let pg_swaps = vec![
        ("jdbc:postgresql://127.0.0.1:5432/datax_compat", pg.url()),
        (
            r#""username": "root""#,
            format!(r#""username": "{}""#, pg_server.user),
        ),
        (
            r#""password": """#,
            format!(r#""password": "{}""#, pg_server.password),
        ),
    ];
    let text = example_text("postgresqlreader-1", &pg_swaps);
    let o = run_example(t.path(), "postgresqlreader-1", &text);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 20);
    // With stagingMode table the doc's preSql (delete) runs in the publishing transaction:
    // the failed job leaves the table as it was (20 rows). As written (stagingMode none,
    // DataX's behaviour): the preSql ran before the first row was refused, and its delete
    // stays, as in DataX.
    let as_written = example_text("postgresqlwriter-1", &pg_swaps);
    let staged = as_written.replace(r#""preSql""#, r#""stagingMode": "table", "preSql""#);
    for (text, left) in [(staged, "20"), (as_written, "0")] {
        let o = run_example(t.path(), "postgresqlwriter-1", &text);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert_stderr_has(
            &o,
            "the writer lists 2 columns (id, name) but the reader produces 5",
        );
        assert_eq!(pg.query("SELECT COUNT(*) FROM t_example"), left);
    }

    // The text file examples: DATE values written with dateFormat (txtfilewriter-1) or, with
    // the doc's misspelled "format" (txtfilereader-1), as DataX does: not applied, ISO.
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("part.csv"),
        "1,true,1.5,one,2024.03.01\n2,false,-2,two,1999.12.31\n",
    )
    .unwrap();
    for (name, day) in [
        ("txtfilewriter-1", "2024-03-01"),
        ("txtfilereader-1", "2024-03-01 00:00:00"),
    ] {
        let result = t.path().join(format!("result-{name}"));
        let text = example_text(
            name,
            &[
                ("/tmp/datax_compat/txt/data", data.display().to_string()),
                ("/tmp/datax_compat/txt/result", result.display().to_string()),
            ],
        );
        let o = run_example(t.path(), name, &text);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let files = visible_files(&result);
        assert_eq!(files.len(), 1, "{name}: {files:?}");
        let written = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(
            written.lines().next().unwrap(),
            format!("1,true,1.5,one,{day}"),
            "{name}: {written}"
        );
    }
}

/// Keys oceanbasev10writer reads in its source (its `Config` interface) that its doc does not
/// list: generated templates carry them. Each is accepted with a warning that says why it has
/// no effect here; the two whose effect we cannot give are refused with the reason.
#[test]
fn oceanbase_writer_keys_from_its_source_are_accepted_or_refused_with_a_reason() {
    let base = load(&datax_dir().join("base.json"));
    let c = Checker {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut param = base["oceanbasev10writer"].clone();
    let ignored = [
        ("memstoreCheckIntervalSecond", json!(30)),
        ("failTryCount", json!(10000)),
        ("concurrentWrite", json!(true)),
        ("writerSubTaskCount", json!(1)),
        ("maxActiveConnection", json!(2000)),
        ("obVersion", json!("4.2.1")),
        ("timeout", json!(30)),
        ("printCost", json!(false)),
        ("costBound", json!(20)),
        ("usePartCalculator", json!(false)),
        ("ocjGetConnectTimeout", json!(5000)),
        ("ocjProxyConnectTimeout", json!(5000)),
        ("ocjCreateResourceTimeout", json!(60000)),
        ("blocksCount", json!(1)),
        ("maxErrors", json!(0)),
    ];
    for (k, v) in &ignored {
        param[*k] = v.clone();
    }
    param["obCompatibilityMode"] = json!("MYSQL");
    let (code, err) = c.check(&job_around("oceanbasev10writer", &param));
    assert_eq!(code, 0, "{err}");
    let w = warnings(&err);
    for (k, _) in &ignored {
        assert!(
            w.iter().any(|l| l.contains(&format!(".{k}: ignored: "))),
            "{k} has a warning with its reason: {w:#?}"
        );
    }
    for (k, v, why) in [
        (
            "obCompatibilityMode",
            json!("ORACLE"),
            "an Oracle-mode tenant is not supported",
        ),
        (
            "obUpdateColumns",
            json!("c1,c2"),
            "an update-mode write changes every written column",
        ),
    ] {
        let mut p = base["oceanbasev10writer"].clone();
        p[k] = v;
        let (code, err) = c.check(&job_around("oceanbasev10writer", &p));
        assert_eq!(code, 2, "{k}: {err}");
        assert!(err.contains(k) && err.contains(why), "{k}: {err}");
    }
}
