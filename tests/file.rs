//! File reader and writer, end to end through the binary: round trips of every type,
//! quoting, NULLs, encodings, compression, JSON Lines, write modes, the error limit.

#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::path::Path;

const ALL_TYPES: &str = r#"[
  {"index": 0, "type": "long", "name": "id"},
  {"index": 1, "type": "int8"}, {"index": 2, "type": "int16"}, {"index": 3, "type": "int32"},
  {"index": 4, "type": "uint64"},
  {"index": 5, "type": "double"}, {"index": 6, "type": "float32"},
  {"index": 7, "type": "decimal(38,10)"}, {"index": 8, "type": "decimal(12,2)"},
  {"index": 9, "type": "string"}, {"index": 10, "type": "boolean"},
  {"index": 11, "type": "date32"}, {"index": 12, "type": "date"},
  {"index": 13, "type": "timestamp[ns]"}, {"index": 14, "type": "timestamp[ms]"},
  {"index": 15, "type": "bytes"}
]"#;

/// Rows in the writer's canonical text, so the output must equal the input byte for byte.
const ROWS: &str = "\
1,-128,-32768,-2147483648,18446744073709551615,0.1,1.5,1234567890123456789012345678.0123456789,-9999999999.99,plain,true,2024-02-29,2024-01-31 23:59:59.123456,1969-12-31 23:59:59.999999999,2000-01-01 00:00:00.001,raw
2,127,32767,2147483647,0,-1.7976931348623157e308,-3.4028235e38,-0.0000000001,0.05,\"with,comma\",false,1970-01-01,1970-01-01 00:00:00,2262-04-11 23:47:16.854775807,1900-01-01 00:00:00,x
3,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N
4,0,0,0,1,5e-324,0.0,0.0000000000,0.00,,true,9999-12-31,0001-01-01 00:00:00,1677-09-21 00:12:43.145224192,1970-01-01 00:00:00,
5,1,2,3,4,1e100,1e-10,1.0000000000,1.10,\"quote \"\" and\nnew line, 中文 😀\",false,2000-01-01,2099-12-31 00:00:00.500,2024-01-01 00:00:00,2024-01-01 00:00:00.999,\"a\"\"b\"
";

fn read_all(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::open(p).unwrap().read_to_end(&mut v).unwrap();
    v
}

fn one_output(dir: &Path) -> Vec<u8> {
    let files = visible_files(dir);
    assert_eq!(files.len(), 1, "expected one output file, got {files:?}");
    read_all(&files[0])
}

#[test]
fn round_trip_preserves_every_type_null_and_quoting() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", ROWS);
    let out = t.path().join("out");
    let job = write_job(
        t.path(),
        "rt",
        &file_to_file(&input, ALL_TYPES, &out, "", "", "{}"),
    );
    let o = run_file(t.path(), &job, &["--report", "r.json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = String::from_utf8(one_output(&out)).unwrap();
    assert_eq!(got, ROWS);
    assert_stderr_has(&o, "records   read 5  written 5  dirty 0");
    // Bytes written are the bytes of the file produced.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["bytes_written"].as_u64(), Some(ROWS.len() as u64));
}

#[test]
fn round_trip_through_gzip_zstd_and_gbk() {
    let t = tempfile::tempdir().unwrap();
    let src = "1,中文字段,2024-01-02\n2,\\N,\\N\n3,\"a,b\",1999-12-31\n";
    let cols =
        r#"[{"index":0,"type":"long"},{"index":1,"type":"string"},{"index":2,"type":"date32"}]"#;
    // Write GBK + gzip, then read it back (GBK + gzip) to UTF-8 zstd, then to plain UTF-8.
    let input = file_in(t.path(), "in.csv", src);
    let step1 = t.path().join("s1");
    let j1 = write_job(
        t.path(),
        "j1",
        &file_to_file(
            &input,
            cols,
            &step1,
            "",
            r#", "encoding": "GBK", "compress": "gzip""#,
            "{}",
        ),
    );
    assert_eq!(code(&run_file(t.path(), &j1, &[])), 0);
    let gz = &visible_files(&step1)[0];
    assert!(gz.to_string_lossy().ends_with(".gz"), "{gz:?}");
    // Independent check: gunzip and decode GBK by hand.
    let mut raw = Vec::new();
    flate2_read(gz, &mut raw);
    let (text, _, bad) = encoding_rs::GBK.decode(&raw);
    assert!(!bad);
    assert_eq!(text, src);
    assert_ne!(raw, src.as_bytes(), "GBK bytes differ from UTF-8");

    let step2 = t.path().join("s2");
    let j2 = write_job(
        t.path(),
        "j2",
        &file_to_file(
            gz,
            cols,
            &step2,
            r#", "encoding": "GBK", "compress": "gzip""#,
            r#", "compress": "zstd""#,
            "{}",
        ),
    );
    assert_eq!(code(&run_file(t.path(), &j2, &[])), 0);
    let zst = &visible_files(&step2)[0];
    let step3 = t.path().join("s3");
    let j3 = write_job(
        t.path(),
        "j3",
        &file_to_file(zst, cols, &step3, r#", "compress": "zstd""#, "", "{}"),
    );
    let o = run_file(t.path(), &j3, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(String::from_utf8(one_output(&step3)).unwrap(), src);
    // The gzip file read without `compress`: the job fails naming what to set, instead of
    // reading junk rows.
    let step4 = t.path().join("s4");
    let j4 = write_job(
        t.path(),
        "j4",
        &file_to_file(gz, cols, &step4, r#", "encoding": "GBK""#, "", "{}"),
    );
    let o = run_file(t.path(), &j4, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, r#"is not set: set "compress": "gzip""#);
    assert!(visible_files(&step4).is_empty());
}

fn flate2_read(p: &Path, out: &mut Vec<u8>) {
    // gzip by the system tool, not our codec.
    let o = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(p)
        .output()
        .expect("gzip");
    assert!(o.status.success());
    out.extend_from_slice(&o.stdout);
}

#[test]
fn unencodable_character_is_dirty_not_replaced() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", "1,ok\n2,emoji 😀\n3,fine\n");
    let out = t.path().join("out");
    let cols = r#"[{"index":0,"type":"long"},{"index":1,"type":"string"}]"#;
    let job = write_job(
        t.path(),
        "gbk",
        &file_to_file(&input, cols, &out, "", r#", "encoding": "GBK""#, "{}"),
    );
    let o = run_file(t.path(), &job, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bytes = one_output(&out);
    let (text, _, _) = encoding_rs::GBK.decode(&bytes);
    assert_eq!(text, "1,ok\n3,fine\n");
    let dirty = std::fs::read_to_string(t.path().join("d.jsonl")).unwrap();
    assert_eq!(dirty.lines().count(), 1);
    assert!(
        dirty.contains("GBK cannot represent") && dirty.contains("emoji 😀"),
        "{dirty}"
    );
}

#[test]
fn jsonl_round_trip_and_header_names() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(
        t.path(),
        "in.csv",
        "id,name,amount\n1,\"a \"\"q\"\"\",1.50\n2,\\N,-3.00\n",
    );
    let out = t.path().join("out");
    let cols = r#"[{"index":0,"type":"long","name":"id"},{"index":1,"type":"string","name":"name"},{"index":2,"type":"decimal(5,2)","name":"amount"}]"#;
    let job = write_job(
        t.path(),
        "j",
        &file_to_file(
            &input,
            cols,
            &out,
            r#", "skipHeader": true"#,
            r#", "fileFormat": "jsonl""#,
            "{}",
        ),
    );
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = String::from_utf8(one_output(&out)).unwrap();
    let rows = json_lines(&got);
    assert_eq!(
        rows[0],
        serde_json::json!({"id": 1, "name": "a \"q\"", "amount": 1.50})
    );
    assert_eq!(rows[1]["name"], serde_json::Value::Null);
    assert!(
        got.contains("\"amount\":-3.00"),
        "decimal keeps its scale: {got}"
    );

    // And back: JSON Lines -> CSV with a header from the column names.
    let back = t.path().join("back");
    let jcols =
        r#"[{"name":"id","type":"long"},{"name":"name"},{"name":"amount","type":"decimal(5,2)"}]"#;
    let job2 = write_job(
        t.path(),
        "j2",
        &file_to_file(
            &visible_files(&out)[0],
            jcols,
            &back,
            r#", "fileFormat": "jsonl""#,
            r#", "header": true"#,
            "{}",
        ),
    );
    let o = run_file(t.path(), &job2, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(one_output(&back)).unwrap(),
        "id,name,amount\n1,\"a \"\"q\"\"\",1.50\n2,\\N,-3.00\n"
    );
}

fn hundred_rows_with_bad(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("in.csv");
    let mut f = std::fs::File::create(&p).unwrap();
    for i in 0..100 {
        if i % 40 == 7 {
            writeln!(f, "{i},not-a-number").unwrap();
        } else if i % 40 == 27 {
            writeln!(f, "{i},n/a").unwrap();
        } else {
            writeln!(f, "{i},{}", i * 10).unwrap();
        }
    }
    p
}

const TWO_LONGS: &str = r#"[{"index":0,"type":"long"},{"index":1,"type":"long"}]"#;

/// Runs job `name` over [`hundred_rows_with_bad`] in `t` into `t/out` with `setting` (and
/// `--report r.json`); returns the output and the output directory.
fn run_limited(t: &Path, name: &str, setting: &str) -> (std::process::Output, std::path::PathBuf) {
    let input = t.join("in.csv");
    if !input.exists() {
        hundred_rows_with_bad(t);
    }
    let out = t.join("out");
    let job = write_job(
        t,
        name,
        &file_to_file(&input, TWO_LONGS, &out, "", "", setting),
    );
    let o = run_file(t, &job, &["--report", "r.json"]);
    (o, out)
}

#[test]
fn error_limit_exceeded_exits_3_and_publishes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (o, out) = run_limited(t.path(), "el", r#"{"errorLimit": {"record": 3}}"#);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_stderr_has(&o, "(staged, then removed: none published)");
    assert!(visible_files(&out).is_empty(), "nothing published");
    assert!(
        all_entries(&out).is_empty(),
        "staging removed: {:?}",
        all_entries(&out)
    );
    let dirty = std::fs::read_to_string(t.path().join("datasync-dirty-el.jsonl")).unwrap();
    assert!(dirty.lines().count() >= 4, "{dirty}");
    for line in dirty.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v["values"][1] == "not-a-number" || v["values"][1] == "n/a",
            "{v}"
        );
        assert_eq!(v["plugin"], "file");
        assert_eq!(v["side"], "reader");
        assert!(
            v["error"].as_str().unwrap().contains("is not an integer"),
            "{v}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "error_limit_exceeded");
    assert_eq!(report["exit_code"], 3);
}

#[test]
fn error_limit_within_bounds_lands_good_rows_and_keeps_bad_ones() {
    let t = tempfile::tempdir().unwrap();
    let (o, out) = run_limited(t.path(), "ok", r#"{"errorLimit": {"record": 10}}"#);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = String::from_utf8(one_output(&out)).unwrap();
    assert_eq!(text.lines().count(), 95);
    assert!(!text.contains("not-a-number") && !text.contains("n/a"));
    // The summary's sample groups messages that differ only in the value, once.
    let err = stderr(&o);
    assert!(
        err.contains(
            "    5 x column c1 (int64): \"not-a-number\" is not an integer (the first of them)"
        ),
        "{err}"
    );
    assert_eq!(err.matches(" is not an integer").count(), 1, "{err}");
    // The same summary as a Markdown report.
    let job = t.path().join("ok.json");
    let o = run_file(t.path(), &job, &["--report", "r.md"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let md = std::fs::read_to_string(t.path().join("r.md")).unwrap();
    assert!(md.starts_with("# datasync job ok\n\n```text\n"), "{md}");
    assert!(
        md.contains("SUCCEEDED") && md.contains("(the first of them)"),
        "{md}"
    );
    let dirty = std::fs::read_to_string(t.path().join("datasync-dirty-ok.jsonl")).unwrap();
    assert_eq!(dirty.lines().count(), 5);
    let lines = json_lines(&dirty);
    let ids: Vec<&str> = lines
        .iter()
        .map(|v| v["values"][0].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["7", "27", "47", "67", "87"]);
    assert!(
        lines[0]["location"].as_str().unwrap().ends_with("in.csv:8"),
        "{}",
        lines[0]
    );
}

#[test]
fn percentage_limit_is_judged_on_the_whole_run() {
    let t = tempfile::tempdir().unwrap();
    let (o, out) = run_limited(t.path(), "pct", r#"{"errorLimit": {"percentage": 0.04}}"#);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_stderr_has(&o, "5 dirty of 100 records");
    assert!(visible_files(&out).is_empty());
    let (o, _) = run_limited(t.path(), "pct2", r#"{"errorLimit": {"percentage": 0.05}}"#);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn write_modes_follow_datax() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", "1\n2\n");
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("other.csv"), "keep me").unwrap();
    // A file of another job whose fileName is "out_" (its run id "r1"), and one not of the
    // shape of an output: neither is a file of "out".
    std::fs::write(out.join("out___r1_00000.csv"), "keep me too").unwrap();
    std::fs::write(out.join("out__notes.txt"), "and me").unwrap();
    let cols = r#"[{"index":0,"type":"long"}]"#;
    let job = |mode: &str| {
        file_to_file(&input, cols, &out, "", "", "{}")
            .replace("\"truncate\"", &format!("\"{mode}\""))
    };
    let run = |name: &str, mode: &str| {
        let j = write_job(t.path(), name, &job(mode));
        run_file(t.path(), &j, &[])
    };
    // nonConflict sees no file of "out" yet.
    assert_eq!(code(&run("n0", "nonConflict")), 0);
    assert_eq!(visible_files(&out).len(), 4);
    // nonConflict refuses while files of "out" exist, before writing anything.
    let o = run("n1", "nonConflict");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "nonConflict");
    assert_eq!(visible_files(&out).len(), 4);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(code(&run("a2", "append")), 0);
    assert_eq!(visible_files(&out).len(), 5);
    // truncate replaces every file of "out", and only those.
    assert_eq!(code(&run("t1", "truncate")), 0);
    let files = visible_files(&out);
    assert_eq!(files.len(), 4, "{files:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("other.csv")).unwrap(),
        "keep me"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("out___r1_00000.csv")).unwrap(),
        "keep me too"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("out__notes.txt")).unwrap(),
        "and me"
    );
    // A fileName with '__' would make names ambiguous: refused.
    let j = write_job(
        t.path(),
        "dd",
        &job("append").replace("\"out\"", "\"out__x\""),
    );
    let o = run_file(t.path(), &j, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "no '__'");
    // A run id starting with '_' would make such names ambiguous: refused.
    let j = write_job(t.path(), "u", &job("append"));
    let o = run_file(t.path(), &j, &["--run-id", "_r1"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "not starting with '.' or '_'");
    assert_eq!(
        all_entries(&out).len(),
        4,
        "no staging left: {:?}",
        all_entries(&out)
    );
}

#[test]
fn glob_and_directory_inputs_split_by_file() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("a.csv"), "1\n2\n").unwrap();
    std::fs::write(data.join("sub/b.csv"), "3\n").unwrap();
    std::fs::write(data.join(".hidden.csv"), "99\n").unwrap();
    // A symbolic link back up the tree (a loop) and a second name of a file: each file is
    // still read once.
    std::os::unix::fs::symlink(&data, data.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(data.join("a.csv"), data.join("sub/z-again.csv")).unwrap();
    std::fs::hard_link(data.join("sub/b.csv"), data.join("sub/hard.csv")).unwrap();
    let out = t.path().join("out");
    let cols = r#"[{"index":0,"type":"long"}]"#;
    let job = write_job(
        t.path(),
        "dir",
        &file_to_file(&data, cols, &out, "", "", r#"{"speed": {"channel": 2}}"#),
    );
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(lines_in(&out), ["1", "2", "3"]);
    assert_eq!(visible_files(&out).len(), 2, "one output per input file");
    assert_stderr_has(&o, "skipped 1 hidden entry");
    assert_stderr_has(&o, ".hidden.csv");
    assert_stderr_has(&o, "a symbolic link to a directory already read");
    assert_stderr_has(&o, "not read again: it is the same file as");
    assert_stderr_has(&o, "hard.csv");

    let glob = format!("{}/**/*.csv", data.display());
    let out2 = t.path().join("out2");
    let job = write_job(
        t.path(),
        "glob",
        &file_to_file(Path::new(&glob), cols, &out2, "", "", "{}"),
    );
    assert_eq!(code(&run_file(t.path(), &job, &[])), 0);
    assert_eq!(visible_files(&out2).len(), 2);

    let missing = format!("{}/*.nothing", data.display());
    let job = write_job(
        t.path(),
        "none",
        &file_to_file(Path::new(&missing), cols, &out2, "", "", "{}"),
    );
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "no file matches");
}

/// Values Python's csv module writes (quoting every kind of field its own way), which the file
/// reader must take exactly; and the file writer's CSV, which Python's csv module must read back
/// to the same values. Neither side is checked by our own codec.
#[test]
fn csv_bytes_of_an_independent_writer_and_reader_agree() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("py.csv");
    // Python writes the rows (QUOTE_MINIMAL and QUOTE_ALL files) and prints them as JSON, the
    // reference the test compares with.
    let script = r#"
import csv, json, sys
rows = [
    ["1", "plain", "with,comma", 'quote " inside', "line\nbreak", "crlf\r\nbreak", "", "中文 😀 ü"],
    ["2", " leading and trailing ", "\"", ",", "a\\b", "tab\there", "x", "\u0000nul".replace("\u0000", "")],
    ["3", "'single'", "\"\"", "end\"", "🙂" * 3, "=1+2", "-", "NULL"],
]
for name, quoting in [("py.csv", csv.QUOTE_MINIMAL), ("py_all.csv", csv.QUOTE_ALL)]:
    with open(sys.argv[1] + "/" + name, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=quoting, lineterminator="\r\n").writerows(rows)
print(json.dumps(rows))
"#;
    let want: Vec<Vec<String>> =
        serde_json::from_str(&run_python(script, &[t.path().to_str().unwrap()])).unwrap();
    let cols: String = (0..8)
        .map(|i| format!(r#"{{"index": {i}, "type": "string", "name": "c{i}"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    for input in ["py.csv", "py_all.csv"] {
        let out = t.path().join(format!("out_{input}"));
        let job = write_job(
            t.path(),
            "py",
            &file_to_file(
                &t.path().join(input),
                &format!("[{cols}]"),
                &out,
                r#", "fileFormat": "csv", "nullFormat": "\\N""#,
                r#", "fileFormat": "csv""#,
                "{}",
            ),
        );
        let o = run_file(t.path(), &job, &["--no-progress"]);
        assert_eq!(code(&o), 0, "{input}: {}", stderr(&o));
        let files = visible_files(&out);
        assert_eq!(files.len(), 1, "{files:?}");
        // Python's csv module reads what we wrote: the very same values.
        let back = run_python(
            "import csv, json, sys\nprint(json.dumps(list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))))",
            &[files[0].to_str().unwrap()],
        );
        let got: Vec<Vec<String>> = serde_json::from_str(&back).unwrap();
        assert_eq!(got, want, "{input}");
    }
    assert!(src.exists());
}

/// DataX keys the writers honour: hdfswriter (text) converts values to its declared Hive
/// column types and refuses an unknown type; `suffix` ends each file's name; `SNAPPY` writes
/// Hadoop's snappy blocks, which the file reader's `hadoop-snappy` reads back.
#[test]
fn datax_hdfs_text_columns_suffix_and_hadoop_snappy() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    let reader = r#"{"name": "streamreader", "parameter": {"sliceRecordCount": 3, "column": [
        {"value": "7", "type": "long"}, {"value": "2024-03-01 00:00:00", "type": "date"}]}}"#;
    let hdfs = |columns: &str, extra: &str| {
        format!(
            r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "path": "{}",
            "fileName": "t", "fileType": "text", "writeMode": "truncate", "fieldDelimiter": "\t",
            "column": {columns} {extra}}}}}"#,
            out.display()
        )
    };
    let cols = r#"[{"name": "id", "type": "BIGINT"}, {"name": "d", "type": "DATE"}]"#;
    let (_, _d) = run_job_ok("hdfs_text", &job("{}", reader, &hdfs(cols, "")));
    assert_eq!(
        String::from_utf8(one_output(&out)).unwrap(),
        "7\t2024-03-01\n".repeat(3),
        "a DATE column is written yyyy-MM-dd"
    );
    let bad = r#"[{"name": "id", "type": "BIGINT"}, {"name": "d", "type": "DATEX"}]"#;
    let (o, _d) = run_job("hdfs_bad_type", &job("{}", reader, &hdfs(bad, "")));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "column[1].type");
    let one = r#"[{"name": "id", "type": "BIGINT"}]"#;
    let (o, _d) = run_job("hdfs_count", &job("{}", reader, &hdfs(one, "")));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "the writer declares 1");

    // SNAPPY (Hadoop's block stream) and a suffix, read back by the file reader.
    let (_, _d) = run_job_ok(
        "hdfs_snappy",
        &job("{}", reader, &hdfs(cols, r#", "compress": "SNAPPY""#)),
    );
    let files = visible_files(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().ends_with(".snappy"), "{files:?}");
    assert_ne!(read_all(&files[0]), b"7\t2024-03-01\n".repeat(3));
    // Checked by another reader: python-snappy's Hadoop stream decoder.
    let decoded = run_python(
        "import snappy, sys\n\
         data = open(sys.argv[1], 'rb').read()\n\
         sys.stdout.write(snappy.HadoopStreamDecompressor().decompress(data).decode())",
        &[files[0].to_str().unwrap()],
    );
    assert_eq!(decoded, "7\t2024-03-01\n".repeat(3));
    let back = t.path().join("back");
    let text_reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "compress": "hadoop-snappy",
        "fieldDelimiter": "\t", "column": [{{"index": 0, "type": "long"}}, {{"index": 1, "type": "string"}}]}}}}"#,
        files[0].display()
    );
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "copy",
        "writeMode": "truncate", "suffix": ".csv"}}}}"#,
        back.display()
    );
    let (_, _d) = run_job_ok("snappy_back", &job("{}", &text_reader, &writer));
    let files = visible_files(&back);
    assert!(files[0].to_string_lossy().ends_with(".csv"), "{files:?}");
    assert_eq!(read_all(&files[0]), b"7,2024-03-01\n".repeat(3));
}

/// Copies `archive` (`columns` of each entry, header skipped) into one `compress` archive
/// under `dir/out`, checks it is the only file there, named `t.csv` plus the archive's
/// extension, and returns the reader, the writer and what the Python `list` script (printing
/// each entry's name and text) says of it, and the name its one entry must have (the
/// archive's, without the archive extension).
fn archive_copy(
    dir: &Path,
    archive: &Path,
    compress: &str,
    columns: &str,
    list: &str,
) -> (String, String, String, String) {
    let out = dir.join("out");
    let reader = format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "compress": "{compress}",
        "skipHeader": true, "column": {columns}}}}}"#,
        archive.display()
    );
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "t.csv",
        "writeMode": "truncate", "fileFormat": "csv", "compress": "{compress}"}}}}"#,
        out.display()
    );
    let (_, _d) = run_job_ok(compress, &job("{}", &reader, &writer));
    let files = visible_files(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let ext = if compress == "tgz" {
        "tar.gz"
    } else {
        compress
    };
    assert!(name.ends_with(&format!(".csv.{ext}")), "{name}");
    let listing = run_python(list, &[files[0].to_str().unwrap()]);
    let entry = name.trim_end_matches(&format!(".{ext}")).to_string();
    (reader, writer, listing, entry)
}

/// `compress: zip`: a reader takes every file entry of an archive as a file of its own (its
/// own header line), a writer puts one deflated entry per archive; both checked with Python's
/// zipfile.
#[test]
fn zip_archives_read_by_entry_and_written_with_one_entry() {
    let t = tempfile::tempdir().unwrap();
    let archive = t.path().join("in.zip");
    run_python(
        "import sys, zipfile\n\
         with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.writestr('a.csv', 'id,name\\n1,one\\n2,two\\n')\n\
         \x20   z.writestr('sub/', '')\n\
         \x20   z.writestr('sub/b.csv', 'id,name\\n3,three\\n')\n\
         \x20   z.writestr('.hidden', 'x\\n')\n",
        &[archive.to_str().unwrap()],
    );
    let (reader, writer, listing, entry) = archive_copy(
        t.path(),
        &archive,
        "zip",
        r#"[{"index": 0, "type": "long"}, {"index": 1, "type": "string"}]"#,
        "import sys, zipfile\n\
         z = zipfile.ZipFile(sys.argv[1])\n\
         assert z.testzip() is None\n\
         for n in z.namelist():\n\
         \x20   print(n)\n\
         \x20   sys.stdout.write(z.read(n).decode())\n",
    );
    assert_eq!(listing, format!("{entry}\n1,one\n2,two\n3,three\n"));
    // Not a zip: the job fails naming the file.
    file_in(t.path(), "bad.zip", "id,name\n1,one\n");
    let (o, _d) = run_job(
        "badzip",
        &job("{}", &reader.replace("in.zip", "bad.zip"), &writer),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "bad.zip");
}

/// `compress: tgz`: every regular file of a tar.gz is read as a file of its own; a writer puts
/// one entry per archive; both checked with Python's tarfile.
#[test]
fn tgz_archives_read_by_entry_and_written_with_one_entry() {
    let t = tempfile::tempdir().unwrap();
    let archive = t.path().join("in.tar.gz");
    run_python(
        "import io, sys, tarfile\n\
         with tarfile.open(sys.argv[1], 'w:gz') as z:\n\
         \x20   for name, text in [('a.csv', 'id\\n1\\n2\\n'), ('d/b.csv', 'id\\n3\\n')]:\n\
         \x20       data = text.encode()\n\
         \x20       info = tarfile.TarInfo(name)\n\
         \x20       info.size = len(data)\n\
         \x20       z.addfile(info, io.BytesIO(data))\n\
         \x20   d = tarfile.TarInfo('d')\n\
         \x20   d.type = tarfile.DIRTYPE\n\
         \x20   z.addfile(d)\n",
        &[archive.to_str().unwrap()],
    );
    let (_, _, listing, entry) = archive_copy(
        t.path(),
        &archive,
        "tgz",
        r#"[{"index": 0, "type": "long"}]"#,
        "import sys, tarfile\n\
         with tarfile.open(sys.argv[1], 'r:gz') as z:\n\
         \x20   for m in z.getmembers():\n\
         \x20       print(m.name)\n\
         \x20       sys.stdout.write(z.extractfile(m).read().decode())\n",
    );
    assert_eq!(listing, format!("{entry}\n1\n2\n3\n"));
}

/// `compress: lzo` (lzop files) and `lzo_deflate` (Hadoop's LZO block stream), checked with
/// the `lzop` tool (liblzo2): it reads what the writer produced and writes what the reader
/// takes; the Hadoop stream is made from lzop's own LZO1X blocks, re-framed.
#[test]
fn lzo_files_of_the_lzop_tool_both_ways() {
    let t = tempfile::tempdir().unwrap();
    let rows: String = (0..50_000).map(|i| format!("{i},name {i}\n")).collect();
    file_in(t.path(), "in.csv", &rows);
    let sh = |cmd: &str| {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .output()
            .unwrap();
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        o.stdout
    };
    sh(&format!(
        "cd {} && lzop -q -o in.csv.lzo in.csv",
        t.path().display()
    ));
    // lzo_deflate: each lzop block (uncompressed size, compressed size, adler32, LZO1X bytes)
    // becomes a Hadoop block of one chunk.
    run_python(
        "import struct, sys\n\
         d = open(sys.argv[1], 'rb').read()\n\
         i = 9\n\
         version = struct.unpack('>H', d[i:i+2])[0]; i += 6\n\
         i += 2\n\
         flags = struct.unpack('>I', d[i:i+4])[0]; i += 4 + 4 + 8\n\
         i += 1 + d[i] + 4\n\
         out = open(sys.argv[2], 'wb')\n\
         while True:\n\
         \x20   dst = struct.unpack('>I', d[i:i+4])[0]; i += 4\n\
         \x20   if dst == 0: break\n\
         \x20   src = struct.unpack('>I', d[i:i+4])[0]; i += 4\n\
         \x20   i += 4 * bin(flags & 0x101).count('1')\n\
         \x20   if src < dst: i += 4 * bin(flags & 0x202).count('1')\n\
         \x20   assert src < dst, 'a stored block cannot be re-framed'\n\
         \x20   out.write(struct.pack('>II', dst, src) + d[i:i+src]); i += src\n",
        &[
            t.path().join("in.csv.lzo").to_str().unwrap(),
            t.path().join("in.csv.lzo_deflate").to_str().unwrap(),
        ],
    );
    let cols = r#"[{"index": 0, "type": "long"}, {"index": 1, "type": "string"}]"#;
    for (input, compress) in [("in.csv.lzo", "lzo"), ("in.csv.lzo_deflate", "lzo_deflate")] {
        let out = t.path().join(format!("out_{compress}"));
        let job = write_job(
            t.path(),
            compress,
            &file_to_file(
                &t.path().join(input),
                cols,
                &out,
                &format!(r#", "compress": "{compress}""#),
                r#", "compress": "lzop", "fileFormat": "csv""#,
                "{}",
            ),
        );
        let o = run_file(t.path(), &job, &["--no-progress"]);
        assert_eq!(code(&o), 0, "{compress}: {}", stderr(&o));
        let files = visible_files(&out);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].to_string_lossy().ends_with(".lzo"), "{files:?}");
        // lzop tests and decodes the writer's file: the very same bytes.
        sh(&format!("lzop -t -q {}", files[0].display()));
        let back = sh(&format!("lzop -d -c -q {}", files[0].display()));
        assert_eq!(String::from_utf8(back).unwrap(), rows, "{compress}");
    }
    // A truncated lzop file fails the job; nothing is published.
    let whole = read_all(&t.path().join("in.csv.lzo"));
    std::fs::write(t.path().join("cut.lzo"), &whole[..whole.len() / 2]).unwrap();
    let out = t.path().join("out_cut");
    let job = write_job(
        t.path(),
        "cut",
        &file_to_file(
            &t.path().join("cut.lzo"),
            cols,
            &out,
            r#", "compress": "lzo""#,
            "",
            "{}",
        ),
    );
    let o = run_file(t.path(), &job, &["--no-progress"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "truncated");
    assert!(!out.exists() || visible_files(&out).is_empty());
}

/// `check --connect` on files: what each path matches, and whether the target directory can be
/// written (or created); nothing is written.
#[test]
fn check_connect_lists_input_files_and_probes_the_target_directory() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.csv"), "1\n2\n").unwrap();
    std::fs::write(data.join(".h.csv"), "9\n").unwrap();
    let cols = r#"[{"index":0,"type":"long"}]"#;
    let out = t.path().join("new/out");
    let job = write_job(
        t.path(),
        "ok",
        &file_to_file(&data, cols, &out, "", "", "{}"),
    );
    let o = run_in(t.path(), &["check", "--connect", job.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "1 file(s), 4 bytes (1 hidden skipped)");
    assert_stderr_has(&o, "does not exist; will be created in");
    assert!(!t.path().join("new").exists(), "nothing created");

    let job = write_job(
        t.path(),
        "bad",
        &file_to_file(
            &t.path().join("missing/*.csv"),
            cols,
            Path::new("/proc/datasync-nope/out"),
            "",
            "",
            "{}",
        ),
    );
    let o = run_in(t.path(), &["check", "--connect", job.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("PROBLEM").count(), 2, "{}", stderr(&o));
    assert_stderr_has(&o, "no file matches");
    assert_stderr_has(&o, "cannot be created in /proc");

    // A regular file where a directory of the path should be.
    let job = write_job(
        t.path(),
        "file_in_path",
        &file_to_file(&data, cols, &data.join("a.csv/sub"), "", "", "{}"),
    );
    let o = run_in(t.path(), &["check", "--connect", job.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "a.csv is not a directory");
    // Run, the path itself or one of its parents a file: the file is named, and kept.
    for target in [data.join("a.csv"), data.join("a.csv/sub")] {
        let job = write_job(
            t.path(),
            "file_as_path",
            &file_to_file(&data, cols, &target, "", "", "{}"),
        );
        let o = run_file(t.path(), &job, &[]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert_stderr_has(&o, "cannot create a directory where a file is:");
        assert_stderr_has(&o, "a.csv");
        assert!(data.join("a.csv").is_file());
    }
}

/// The dirty file is always the last run's: a run without dirty rows removes an earlier one's.
#[test]
fn a_clean_run_removes_an_earlier_run_s_dirty_file() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", "1\nx\n");
    let out = t.path().join("out");
    let cols = r#"[{"index":0,"type":"long"}]"#;
    let job = write_job(
        t.path(),
        "d",
        &file_to_file(&input, cols, &out, "", "", "{}"),
    );
    let dirty = t.path().join("d.jsonl");
    let o = run_file(t.path(), &job, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_dirty_rows(&dirty, &[("x", "not an integer")]);
    std::fs::write(&input, "1\n2\n").unwrap();
    let o = run_file(t.path(), &job, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "held an earlier run's dirty records");
    assert!(!dirty.exists());
    // Another job (another job file of the same name, another input) keeps them: its clean
    // run does not remove the first job's records.
    std::fs::write(&input, "1\nx\n").unwrap();
    let o = run_file(t.path(), &job, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let other_in = file_in(t.path(), "other.csv", "5\n");
    std::fs::create_dir_all(t.path().join("y")).unwrap();
    let other = write_job(
        &t.path().join("y"),
        "d",
        &file_to_file(&other_in, cols, &t.path().join("out2"), "", "", "{}"),
    );
    let o = run_file(t.path(), &other, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "it holds another job's dirty records");
    assert_dirty_rows(&dirty, &[("x", "not an integer")]);
    std::fs::write(&input, "1\n2\n").unwrap();
    let o = run_file(t.path(), &job, &["--dirty-file", "d.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!dirty.exists());
    // By default both jobs' dirty files are named for the job file (`d`): the second job
    // with dirty rows writes its own file beside the first's instead of replacing it.
    std::fs::write(&input, "1\nx\n").unwrap();
    std::fs::write(&other_in, "5\nz\n").unwrap();
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let first = t.path().join("datasync-dirty-d.jsonl");
    assert_dirty_rows(&first, &[("x", "not an integer")]);
    let o = run_file(t.path(), &other, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "holds the dirty records of another job file of that name: this job's go to",
    );
    assert_dirty_rows(&first, &[("x", "not an integer")]);
    let own: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("datasync-dirty-d-"))
        .collect();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_dirty_rows(&t.path().join(&own[0]), &[("z", "not an integer")]);
    // The first job goes on using its own.
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_dirty_rows(&first, &[("x", "not an integer")]);
    // Clean runs of each remove each one's own file, the diverted one too.
    std::fs::write(&input, "1\n2\n").unwrap();
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!first.exists());
    std::fs::write(&other_in, "5\n").unwrap();
    let o = run_file(t.path(), &other, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!t.path().join(&own[0]).exists(), "{}", stderr(&o));
    // Another value of a job parameter is the same job file: its records replace the last.
    std::fs::write(&input, "1\nx\n").unwrap();
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_file(t.path(), &job, &["-p", "unused=2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("another job file"), "{}", stderr(&o));
    std::fs::write(&input, "1\n2\n").unwrap();
    // A file that is not a dirty file (`--dirty-file` naming the wrong thing, here the
    // input itself) is never removed.
    let o = run_file(t.path(), &job, &["--dirty-file", "in.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "1\n2\n");
    // Dirty rows into /dev/null (a device: nothing to sync) are dropped as asked.
    std::fs::write(&input, "1\nx\n").unwrap();
    let o = run_file(t.path(), &job, &["--dirty-file", "/dev/null"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "dirty 1");
    assert!(Path::new("/dev/null").exists());
}

/// An empty nullFormat writes an empty text and NULL alike: the job says so.
#[test]
fn an_empty_null_format_is_called_out() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", "1,\\N\n2,\"\"\n");
    let out = t.path().join("out");
    let job = write_job(
        t.path(),
        "nf",
        &file_to_file(
            &input,
            r#"[{"index":0,"type":"long"},{"index":1,"type":"string"}]"#,
            &out,
            "",
            r#", "nullFormat": """#,
            "{}",
        ),
    );
    let o = run_file(t.path(), &job, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "nullFormat is \"\": an empty text and NULL are both written as an empty field",
    );
    assert_eq!(String::from_utf8(one_output(&out)).unwrap(), "1,\n2,\n");
}

/// A directory holding a commit a datasync run left half-done (a staging directory with its
/// journal) is not read: it holds old and new files at once.
#[test]
fn a_half_published_directory_is_not_read() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("in");
    std::fs::create_dir_all(dir.join(".datasync-staging-o-r1")).unwrap();
    std::fs::write(dir.join("o__r1_00000.csv"), "1\n").unwrap();
    std::fs::write(dir.join("o__r0_00000.csv"), "1\n").unwrap();
    std::fs::write(dir.join(".datasync-staging-o-r1/_commit.json"), "{}").unwrap();
    let out = t.path().join("out");
    for path in [dir.clone(), dir.join("*.csv")] {
        let text = file_to_file(&path, r#"["*"]"#, &out, "", "", "{}");
        let p = write_job(t.path(), "half", &text);
        let o = run_file(t.path(), &p, &[]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert_stderr_has(&o, "a datasync commit is half-done here");
    }
    std::fs::remove_file(dir.join(".datasync-staging-o-r1/_commit.json")).unwrap();
    let p = write_job(
        t.path(),
        "half",
        &file_to_file(&dir, r#"["*"]"#, &out, "", "", "{}"),
    );
    assert_eq!(code(&run_file(t.path(), &p, &[])), 0);
}
