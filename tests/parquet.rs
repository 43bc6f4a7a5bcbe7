//! Parquet / Hive: files we write are read back by pyarrow and DuckDB; files pyarrow writes are
//! read by us; a real Hive Metastore (the jars pyspark ships) registers partitions, and Spark
//! SQL reads the table through it. Every server binds 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const SETTING: &str = r#"{"speed": {"channel": 2}, "errorLimit": {"record": 0}}"#;

/// A CSV reader over `path` with every field as a string.
fn csv_reader(path: &Path) -> String {
    format!(
        r#"{{"name": "txtfilereader", "parameter": {{"path": "{}", "column": ["*"], "skipHeader": true}}}}"#,
        path.display()
    )
}

fn pq_writer(dir: &Path, columns: &str, extra: &str) -> String {
    format!(
        r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "parquet",
            "path": "{}", "fileName": "part", "column": {columns} {extra}}}}}"#,
        dir.display()
    )
}

/// A `--run-id` used again is refused before any row is read (its files would carry the
/// same names; before, the commit refused them after every row was written).
#[test]
fn a_run_id_used_before_is_refused_up_front() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", "id\n1\n2\n");
    let out = t.path().join("tbl");
    let w = pq_writer(
        &out,
        r#"[{"name": "id", "type": "BIGINT"}]"#,
        r#", "writeMode": "append""#,
    );
    let p = write_job(t.path(), "again", &job("{}", &csv_reader(&input), &w));
    let o = run_file(t.path(), &p, &["--run-id", "same"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_file(t.path(), &p, &["--run-id", "same"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "run id same was used before");
    assert_stderr_has(&o, "read 0");
    assert_eq!(
        all_entries(&out)
            .iter()
            .filter(|n| n.starts_with('.'))
            .count(),
        0,
        "no staging kept: {:?}",
        all_entries(&out)
    );
}

/// Data files (not hidden) anywhere below `dir`, relative, sorted. Panics when `dir` does not
/// exist, so an empty result means "nothing published there".
/// The lines of `text` that start with `tag`.
fn tagged(text: &str, tag: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(tag))
        .map(String::from)
        .collect()
}

/// Runs a pyspark `script` on `default.<table>` of the metastore (warehouse under `dir`);
/// returns what it printed.
fn spark(script: &str, hms: &Metastore, table: &str, dir: &Path) -> String {
    let wh = dir.join("spark-warehouse");
    run_python(
        script,
        &[&hms.uri, &format!("default.{table}"), wh.to_str().unwrap()],
    )
}

fn data_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        let rd =
            std::fs::read_dir(d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for e in rd {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

const ALL_TYPES_CSV: &str = "\
id,ti,si,i,bi,f,d,dec38,dec5,s,vc,ch,b,dt,ts,bin
1,127,32767,2147483647,9223372036854775807,1.5,2.718281828459045,1234567890123456789012345678.0123456789,-999.99,héllo,abcdefghij,abc,true,2024-02-29,2024-02-29 23:59:59.123456,hi
2,-128,-32768,-2147483648,-9223372036854775808,-0.25,-1e-300,-0.0000000001,0.01,\"a,b\",x,x,false,1970-01-01,1969-12-31 23:59:59.999999,
3,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N
";

const ALL_TYPES_COLUMNS: &str = r#"[
    {"name": "id", "type": "INT"}, {"name": "ti", "type": "TINYINT"}, {"name": "si", "type": "SMALLINT"},
    {"name": "i", "type": "INT"}, {"name": "bi", "type": "BIGINT"}, {"name": "f", "type": "FLOAT"},
    {"name": "d", "type": "DOUBLE"}, {"name": "dec38", "type": "DECIMAL(38,10)"},
    {"name": "dec5", "type": "DECIMAL(5,2)"}, {"name": "s", "type": "STRING"},
    {"name": "vc", "type": "VARCHAR(10)"}, {"name": "ch", "type": "CHAR(3)"},
    {"name": "b", "type": "BOOLEAN"}, {"name": "dt", "type": "DATE"},
    {"name": "ts", "type": "TIMESTAMP"}, {"name": "bin", "type": "BINARY"}]"#;

/// Checks the all-types table with pyarrow and DuckDB; argv: dir, timestamp mode.
const CHECK_ALL_TYPES: &str = r#"
import sys, glob, datetime as dt
from decimal import Decimal
import pyarrow.parquet as pq, duckdb
d, mode = sys.argv[1], sys.argv[2]
files = glob.glob(d + "/*.parquet")
t = pq.read_table(files).sort_by("id")
rows = t.to_pylist()
def naive(x):
    return x.replace(tzinfo=None) if x is not None else None
want = [
  dict(id=1, ti=127, si=32767, i=2147483647, bi=9223372036854775807, f=1.5, d=2.718281828459045,
       dec38=Decimal("1234567890123456789012345678.0123456789"), dec5=Decimal("-999.99"), s="héllo",
       vc="abcdefghij", ch="abc", b=True, dt=dt.date(2024, 2, 29),
       ts=dt.datetime(2024, 2, 29, 23, 59, 59, 123456), bin=b"hi"),
  dict(id=2, ti=-128, si=-32768, i=-2147483648, bi=-9223372036854775808, f=-0.25, d=-1e-300,
       dec38=Decimal("-0.0000000001"), dec5=Decimal("0.01"), s="a,b", vc="x", ch="x", b=False,
       dt=dt.date(1970, 1, 1), ts=dt.datetime(1969, 12, 31, 23, 59, 59, 999999), bin=b""),
  dict(id=3, **{k: None for k in ["ti","si","i","bi","f","d","dec38","dec5","s","vc","ch","b","dt","ts","bin"]}),
]
for got, exp in zip(rows, want):
    got = dict(got); got["ts"] = naive(got["ts"])
    assert got == exp, (got, exp)
assert len(rows) == 3, rows
schema = pq.ParquetFile(files[0]).schema
ts = schema.column(schema.names.index("ts"))
dec = schema.column(schema.names.index("dec5"))
assert dec.physical_type == "FIXED_LEN_BYTE_ARRAY", dec.physical_type
if mode == "int96":
    assert ts.physical_type == "INT96", ts.physical_type
else:
    assert ts.physical_type == "INT64" and "microseconds" in str(ts.logical_type), (ts.physical_type, ts.logical_type)
con = duckdb.connect()
con.sql("SET TimeZone = 'UTC'")
got = con.sql(f"""SELECT id, ti, bi, CAST(dec38 AS VARCHAR), CAST(dec5 AS VARCHAR), vc, dt,
    strftime(CAST(ts AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f'), typeof(dec38)
    FROM read_parquet('{d}/*.parquet') ORDER BY id""").fetchall()
assert got[0] == (1, 127, 9223372036854775807, "1234567890123456789012345678.0123456789", "-999.99",
                  "abcdefghij", dt.date(2024, 2, 29), "2024-02-29 23:59:59.123456", "DECIMAL(38,10)"), got[0]
assert got[1][3:5] == ("-0.0000000001", "0.01") and got[1][7] == "1969-12-31 23:59:59.999999", got[1]
assert got[2][1:8] == (None,) * 7, got[2]
print("OK")
"#;

#[test]
fn every_hive_type_round_trips_exactly_in_both_timestamp_modes() {
    for mode in ["int64-micros", "int96"] {
        let t = tempfile::tempdir().unwrap();
        let input = file_in(t.path(), "in.csv", ALL_TYPES_CSV);
        let out = t.path().join("table");
        let writer = pq_writer(
            &out,
            ALL_TYPES_COLUMNS,
            &format!(r#", "writeMode": "truncate", "timestampType": "{mode}", "compress": "zstd""#),
        );
        let (o, _d) = run_job("types", &job(SETTING, &csv_reader(&input), &writer));
        assert_eq!(code(&o), 0, "{mode}: {}", stderr(&o));
        assert!(out.join("_SUCCESS").exists());
        let files = data_files(&out);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].starts_with("part__") && files[0].ends_with(".parquet"));
        let res = run_python(CHECK_ALL_TYPES, &[out.to_str().unwrap(), mode]);
        assert_eq!(res.trim(), "OK", "{mode}");
    }
}

#[test]
fn values_that_do_not_fit_are_dirty_and_rows_land_in_their_partitions() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(
        t.path(),
        "in.csv",
        "id,small,name,day,region\n\
         1,1,ok,2024-01-01,north\n\
         2,300,ok,2024-01-01,north\n\
         3,2,toolongname,2024-01-01,south\n\
         4,3,ok,2024-02-30,south\n\
         5,4,ok,2024-01-02,south\n\
         6,5,ok,2024-01-02,a/b\n\
         7,6,ok,2024-01-02,\\N\n",
    );
    let out = t.path().join("table");
    let writer = pq_writer(
        &out,
        r#"[{"name": "id", "type": "BIGINT"}, {"name": "small", "type": "TINYINT"},
            {"name": "name", "type": "VARCHAR(5)"}, {"name": "day", "type": "DATE"}]"#,
        r#", "writeMode": "append", "partition": {"dt": "2024-12-31"}, "partitionColumns": ["region"]"#,
    );
    let (o, d) = run_job_ok(
        "misfits",
        &job(
            r#"{"speed": {"channel": 1}, "errorLimit": {"record": 3}}"#,
            &csv_reader(&input),
            &writer,
        ),
    );
    assert_stderr_has(&o, "dirty 3");
    assert_stderr_has(
        &o,
        "warning: 3 dirty record(s) were not written; they are in ",
    );
    assert!(!stderr(&o).contains("no job.setting.errorLimit"));
    // A sample of the errors, grouped by message, at most three lines.
    let samples = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("    ") && l.contains(" x "))
        .count();
    assert!((1..=3).contains(&samples), "{}", stderr(&o));
    let dirty = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("dirty") && !p.to_string_lossy().ends_with(".json"))
        .expect("a dirty file");
    let dirty = std::fs::read_to_string(dirty).unwrap();
    assert_eq!(dirty.lines().count(), 3, "{dirty}");
    assert!(
        dirty.contains(r#"column \"small\""#) && dirty.contains("tinyint"),
        "{dirty}"
    );
    assert!(
        dirty.contains(r#"column \"name\""#) && dirty.contains("varchar(5)"),
        "{dirty}"
    );
    assert!(dirty.contains(r#"column \"day\""#), "{dirty}");
    assert_eq!(
        data_files(&out)
            .iter()
            .map(|f| f.rsplit_once('/').unwrap().0.to_string())
            .collect::<Vec<_>>(),
        vec![
            "dt=2024-12-31/region=__HIVE_DEFAULT_PARTITION__",
            "dt=2024-12-31/region=a%2Fb",
            "dt=2024-12-31/region=north",
            "dt=2024-12-31/region=south",
        ]
    );
    assert!(out.join("dt=2024-12-31/region=north/_SUCCESS").exists());
    let res = run_python(
        r#"
import sys, duckdb
rows = duckdb.sql(f"""SELECT region, dt, list(id ORDER BY id), list(CAST(day AS VARCHAR) ORDER BY id)
    FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true)
    GROUP BY ALL ORDER BY region""").fetchall()
print(rows)
"#,
        &[out.to_str().unwrap()],
    );
    assert_eq!(
        res.trim(),
        // DuckDB decodes Hive's escaping and its default partition (NULL) on its own.
        "[('a/b', datetime.date(2024, 12, 31), [6], ['2024-01-02']), \
         ('north', datetime.date(2024, 12, 31), [1], ['2024-01-01']), \
         ('south', datetime.date(2024, 12, 31), [5], ['2024-01-02']), \
         (None, datetime.date(2024, 12, 31), [7], ['2024-01-02'])]"
    );
}

/// Writes `ids` (one row each, in partition `region`) with `mode`; returns the run's output.
fn write_regions(out: &Path, rows: &[(i64, &str)], mode: &str) -> std::process::Output {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in.csv");
    let mut csv = String::from("id,region\n");
    for (id, r) in rows {
        csv.push_str(&format!("{id},{r}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let writer = pq_writer(
        out,
        r#"[{"name": "id", "type": "BIGINT"}]"#,
        &format!(r#", "writeMode": "{mode}", "partitionColumns": ["region"]"#),
    );
    run_job("modes", &job(SETTING, &csv_reader(&input), &writer)).0
}

fn ids_by_region(out: &Path) -> String {
    run_python(
        r#"
import sys, duckdb
print(duckdb.sql(f"""SELECT region, list(id ORDER BY id) FROM read_parquet('{sys.argv[1]}/**/*.parquet',
    hive_partitioning = true) GROUP BY ALL ORDER BY region""").fetchall())
"#,
        &[out.to_str().unwrap()],
    )
    .trim()
    .to_string()
}

#[test]
fn write_modes_apply_per_partition() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    let o = write_regions(&out, &[(1, "a"), (2, "b")], "truncate");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(ids_by_region(&out), "[('a', [1]), ('b', [2])]");
    // truncate replaces only the partitions it writes.
    let o = write_regions(&out, &[(10, "a"), (11, "a")], "truncate");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(ids_by_region(&out), "[('a', [10, 11]), ('b', [2])]");
    // nonConflict refuses a partition that has files, and changes nothing.
    let before = data_files(&out);
    let o = write_regions(&out, &[(20, "c"), (21, "b")], "nonConflict");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "nonConflict");
    assert_stderr_has(&o, "region=b");
    assert_eq!(data_files(&out), before);
    assert!(!out.join("region=c").exists());
    // append adds beside what is there.
    let o = write_regions(&out, &[(30, "b"), (31, "c")], "append");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        ids_by_region(&out),
        "[('a', [10, 11]), ('b', [2, 30]), ('c', [31])]"
    );
    assert!(
        all_entries(&out)
            .iter()
            .all(|e| !e.starts_with(".datasync")),
        "{:?}",
        all_entries(&out)
    );
}

#[test]
fn failed_and_killed_jobs_publish_nothing_and_stale_staging_is_cleaned() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    // Error limit exceeded: nothing published, staging removed.
    let input = file_in(t.path(), "bad.csv", "id\n1\n2\nnot-a-number\n4\n");
    let writer = pq_writer(
        &out,
        r#"[{"name": "id", "type": "BIGINT"}]"#,
        r#", "writeMode": "truncate", "partition": {"dt": "2024-01-01"}"#,
    );
    let (o, _d) = run_job("limit", &job(SETTING, &csv_reader(&input), &writer));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(data_files(&out).is_empty(), "{:?}", data_files(&out));
    assert!(all_entries(&out).is_empty(), "{:?}", all_entries(&out));

    // A staging directory left by a crashed run (its process is gone) is removed by the next run.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let stale = out.join(".datasync-staging-part-20200101000000_00001");
    std::fs::create_dir_all(stale.join("dt=2024-01-01")).unwrap();
    std::fs::write(stale.join("dt=2024-01-01/part__x.parquet"), b"junk").unwrap();
    std::fs::write(stale.join("_owner"), format!("{} 999999999\n", host.trim())).unwrap();
    let good = file_in(t.path(), "good.csv", "id\n1\n2\n");
    let (_, _d) = run_job_ok("rerun", &job(SETTING, &csv_reader(&good), &writer));
    assert!(!stale.exists(), "stale staging removed");
    assert_eq!(data_files(&out).len(), 1, "{:?}", data_files(&out));

    // SIGTERM mid-job: exit 143, the earlier files stay as they were, no staging left.
    let before = data_files(&out);
    let stream = format!(
        r#"{{"job": {{"setting": {{"speed": {{"channel": 1, "record": 100000}}}},
            "content": [{{"reader": {{"name": "streamreader", "parameter": {{"column": [{{"type": "long", "incr": "1,1"}}],
                "sliceRecordCount": 100000000}}}},
            "writer": {}}}]}}}}"#,
        writer
    );
    let jp = write_job(t.path(), "killed", &stream);
    let o = terminate_when(
        t.path(),
        &jp,
        || {
            all_entries(&out)
                .iter()
                .any(|e| e.starts_with(".datasync-staging"))
        },
        Duration::from_millis(1500),
    );
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert_eq!(data_files(&out), before);
    assert!(
        all_entries(&out)
            .iter()
            .all(|e| !e.starts_with(".datasync")),
        "{:?}",
        all_entries(&out)
    );
}

/// A Hive-partitioned table written by pyarrow (the independent writer).
fn pyarrow_table(dir: &Path) {
    run_python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
from decimal import Decimal
t = pa.table({
    "id": pa.array(range(1, 1001), pa.int64()),
    "name": pa.array([f"n{i}" for i in range(1, 1001)]),
    "amount": pa.array([Decimal(i) / 100 for i in range(1, 1001)], pa.decimal128(10, 2)),
    "unused": pa.array(["x" * 100] * 1000),
    "dt": pa.array(["2024-01-0%d" % (i % 3 + 1) for i in range(1, 1001)]),
    "ts": pa.array([i * 1_000_000 + 1_704_067_200_000_000 for i in range(1, 1001)], pa.timestamp("us", tz="UTC")),
})
pq.write_to_dataset(t, sys.argv[1], partition_cols=["dt"], row_group_size=100)
"#,
        &[dir.to_str().unwrap()],
    );
}

#[test]
fn reader_projects_filters_partitions_and_feeds_a_file() {
    let t = tempfile::tempdir().unwrap();
    let table = t.path().join("table");
    pyarrow_table(&table);
    let out = t.path().join("out");
    let reader = format!(
        r#"{{"name": "hdfsreader", "parameter": {{"path": "{}", "fileType": "parquet",
            "column": ["id", "amount", {{"name": "dt", "type": "date"}}],
            "partition": {{"dt": ["2024-01-01", "2024-01-03"]}}}}}}"#,
        table.display()
    );
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let (o, _d) = run_job_ok(
        "pqread",
        &job(r#"{"speed": {"channel": 4}}"#, &reader, &writer),
    );
    let mut lines = lines_in(&out);
    lines.sort_by_key(|l| l.split(',').next().unwrap().parse::<i64>().unwrap());
    let want: Vec<String> = (1..=1000)
        .filter(|i| i % 3 != 1)
        .map(|i| format!("{i},{}.{:02},2024-01-0{}", i / 100, i % 100, i % 3 + 1))
        .collect();
    assert_eq!(lines.len(), want.len());
    assert_eq!(lines, want);
    // Split by row-group ranges: more tasks than the two files read.
    let tasks: usize = stderr(&o)
        .split(" task(s)")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no task count in {}", stderr(&o)));
    assert!(tasks > 2, "{tasks} tasks: {}", stderr(&o));

    // A column that is neither in the files nor a partition key is a clear error.
    let reader = format!(
        r#"{{"name": "parquet", "parameter": {{"path": "{}", "column": ["id", "nope"]}}}}"#,
        table.display()
    );
    let (o, _d) = run_job("pqbad", &job(SETTING, &reader, &writer));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "no column \"nope\"");
    assert_stderr_has(&o, "partition keys: dt");
}

#[test]
fn parquet_to_mysql() {
    let t = tempfile::tempdir().unwrap();
    let table = t.path().join("table");
    pyarrow_table(&table);
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(10,2), dt DATE, ts DATETIME(6))",
    );
    let reader = format!(
        r#"{{"name": "parquet", "parameter": {{"path": "{}/dt=*/*.parquet",
            "column": ["id", "name", "amount", {{"name": "dt", "type": "date"}}, "ts"]}}}}"#,
        table.display()
    );
    let writer = format!(
        r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["id", "name", "amount", "dt", "ts"],
            "connection": [{{"jdbcUrl": "{}", "table": ["dst"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let (_, _d) = run_job_ok("pq2my", &job(SETTING, &reader, &writer));
    assert_eq!(
        db.query("SELECT COUNT(*), SUM(amount), SUM(id), MIN(dt), MAX(dt), SUM(name = CONCAT('n', id)) FROM dst"),
        "1000\t5005.00\t500500\t2024-01-01\t2024-01-03\t1000"
    );
    // UTC-adjusted Parquet timestamps arrive as UTC wall-clock time.
    assert_eq!(
        db.query("SELECT SUM(ts = '2024-01-01 00:00:00' + INTERVAL id SECOND), MAX(ts) FROM dst"),
        "1000\t2024-01-01 00:16:40.000000"
    );
}

const SPARK_CHECK: &str = concat!(
    spark_session!(),
    r#"for r in s.sql(f"SHOW PARTITIONS {table}").collect():
    print("partition", r[0])
for r in s.sql(f"SELECT CAST(dt AS STRING), COUNT(*), CAST(SUM(amount) AS STRING), SUM(id), MAX(note) FROM {table} GROUP BY dt ORDER BY dt").collect():
    print("sum", r[0], r[1], r[2], r[3], r[4])
s.stop()
"#
);

#[test]
fn mysql_to_hive_registers_partitions_that_spark_reads() {
    let hms = Metastore::start();
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, dt DATE, amount DECIMAL(12,2), note VARCHAR(20));
         INSERT INTO src
           SELECT seq, DATE_ADD('2024-01-01', INTERVAL seq % 3 DAY), seq * 1.25, CONCAT('n', seq % 7)
           FROM seq_1_to_3000;
         INSERT INTO src VALUES (5000, '2024-01-09', 1.00, 'much too long a note');",
    );
    let t = tempfile::tempdir().unwrap();
    let table_dir = t.path().join("orders");
    let table = unique("orders");
    let reader = |filter: &str| {
        format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "amount", "note", "dt"],
                "where": "{filter}", "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        )
    };
    let writer = pq_writer(
        &table_dir,
        r#"[{"name": "id", "type": "BIGINT"}, {"name": "amount", "type": "DECIMAL(12,2)"},
            {"name": "note", "type": "VARCHAR(5)"}]"#,
        &format!(
            r#", "writeMode": "truncate", "partitionColumns": [{{"name": "dt", "type": "date"}}],
               "hiveMetastoreUris": "{}", "database": "default", "table": "{table}", "createTable": true"#,
            hms.uri
        ),
    );
    // The too-long note fails the first run: no file is published, no partition registered.
    let (o, _d) = run_job("hive_fail", &job(SETTING, &reader("1 = 1"), &writer));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(data_files(&table_dir).is_empty());
    let (_, _d) = run_job_ok("hive", &job(SETTING, &reader("id < 5000"), &writer));
    let want_parts = tagged(
        &db.query(
            "SELECT DISTINCT CONCAT('partition dt=', dt) FROM src WHERE id < 5000 ORDER BY 1",
        ),
        "partition ",
    );
    let want_sums = tagged(
        &db.query(
            "SELECT CONCAT_WS(' ', 'sum', dt, COUNT(*), SUM(amount), SUM(id), MAX(note)) FROM src
             WHERE id < 5000 GROUP BY dt ORDER BY dt",
        ),
        "sum ",
    );
    assert_eq!(want_parts.len(), 3);
    let got = spark(SPARK_CHECK, &hms, &table, t.path());
    assert_eq!(tagged(&got, "partition "), want_parts, "{got}");
    assert_eq!(tagged(&got, "sum "), want_sums, "{got}");

    // The metastore dies while a truncate run writes: at commit the partitions cannot be
    // registered, so nothing is published: the table keeps the files Spark just read.
    let before = data_files(&table_dir);
    let mut hms = hms;
    let slow = r#"{"speed": {"channel": 1, "record": 1000}, "errorLimit": {"record": 0}}"#;
    let p = write_job(
        t.path(),
        "hive_down",
        &job(slow, &reader("id < 5000"), &writer),
    );
    let child = spawn_run(t.path(), &p);
    std::thread::sleep(Duration::from_millis(1000));
    hms.child.kill().unwrap();
    let o = wait_or_hang(child, Duration::from_secs(120));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "could not be registered in the metastore, so no file was published",
    );
    assert_eq!(data_files(&table_dir), before);
    assert!(
        !all_entries(&table_dir)
            .iter()
            .any(|n| n.starts_with(".datasync-staging")),
        "{:?}",
        all_entries(&table_dir)
    );
}

#[test]
fn hdfs_text_file_type_goes_through_the_file_codecs() {
    let t = tempfile::tempdir().unwrap();
    let input = file_in(t.path(), "in.csv", "id,name\n1,a\n2,b b\n");
    let table = t.path().join("text_table");
    let writer = format!(
        r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "text",
            "path": "{}", "fileName": "t", "writeMode": "truncate", "fieldDelimiter": "\t",
            "compress": "GZIP", "column": [{{"name": "id", "type": "BIGINT"}}, {{"name": "name", "type": "STRING"}}]}}}}"#,
        table.display()
    );
    let (_, _d) = run_job_ok("hdfstext", &job(SETTING, &csv_reader(&input), &writer));
    let files = data_files(&table);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".gz"), "{files:?}");
    let text = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(table.join(&files[0]))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&text.stdout), "1\ta\n2\tb b\n");
    // And back through hdfsreader with the same fileType.
    let out = t.path().join("back");
    let reader = format!(
        r#"{{"name": "hdfsreader", "parameter": {{"defaultFS": "file:///", "fileType": "text", "path": "{}",
            "fieldDelimiter": "\t", "compress": "gzip", "column": [{{"index": 1, "type": "string"}}]}}}}"#,
        table.display()
    );
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o", "writeMode": "truncate"}}}}"#,
        out.display()
    );
    let (_, _d) = run_job_ok("hdfstextback", &job(SETTING, &reader, &writer));
    let back = std::fs::read_to_string(&visible_files(&out)[0]).unwrap();
    assert_eq!(back, "a\nb b\n");
}

#[test]
fn shipped_mysql_to_hive_job_writes_the_day_partition() {
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME);
         INSERT INTO orders SELECT seq, CONCAT('name ', seq), seq / 100, '2024-03-01 00:00:00' + INTERVAL seq * 7 MINUTE
           FROM seq_1_to_1000;",
    );
    let t = tempfile::tempdir().unwrap();
    let job = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/mysql_to_hive.json");
    let mut args = vec![
        "run".to_string(),
        job.display().to_string(),
        "--no-progress".into(),
    ];
    for p in [
        format!("mysql_host={}", mysql_server().host),
        format!("mysql_port={}", mysql_server().port),
        format!("mysql_db={}", db.name),
        format!("mysql_user={}", mysql_server().user),
        format!("mysql_password={}", mysql_server().password),
        "mysql_table=orders".into(),
        format!("output_dir={}", t.path().display()),
        "biz_date=2024-03-02".into(),
    ] {
        args.push("-p".into());
        args.push(p);
    }
    let o = run_in(
        t.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = db.query(
        "SELECT CONCAT_WS(' ', COUNT(*), SUM(amount), MIN(id), MAX(id)) FROM orders WHERE DATE(created) = '2024-03-02'",
    );
    let got = run_python(
        r#"
import sys, duckdb
r = duckdb.sql(f"""SELECT COUNT(*), SUM(amount), MIN(id), MAX(id), list(DISTINCT dt)
    FROM read_parquet('{sys.argv[1]}/orders/*/*.parquet', hive_partitioning = true)""").fetchall()[0]
print(r[0], r[1], r[2], r[3], r[4])
"#,
        &[t.path().to_str().unwrap()],
    );
    assert_eq!(got.trim(), format!("{want} [datetime.date(2024, 3, 2)]"));
}

#[test]
fn row_group_size_and_max_file_size_shape_the_files() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in.csv");
    let mut csv = String::from("id,name\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},name-{i}-{}\n", "x".repeat(i % 50)));
    }
    std::fs::write(&input, csv).unwrap();
    let out = t.path().join("table");
    let writer = pq_writer(
        &out,
        r#"[{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "STRING"}]"#,
        r#", "writeMode": "truncate", "rowGroupSize": 1000, "maxFileSize": "64KB", "compress": "none""#,
    );
    let (_, _d) = run_job_ok(
        "shape",
        &job(
            r#"{"speed": {"channel": 1}, "errorLimit": {"record": 0}}"#,
            &csv_reader(&input),
            &writer,
        ),
    );
    let res = run_python(
        r#"
import sys, glob, pyarrow.parquet as pq
files = sorted(glob.glob(sys.argv[1] + "/*.parquet"))
groups = [pq.ParquetFile(f).metadata.num_row_groups for f in files]
rows = [pq.ParquetFile(f).metadata.row_group(i).num_rows for f in files for i in range(pq.ParquetFile(f).metadata.num_row_groups)]
ids = sorted(i for f in files for i in pq.read_table(f).column("id").to_pylist())
assert ids == list(range(20000)), "every row once"
print(len(files), max(rows), sum(rows))
"#,
        &[out.to_str().unwrap()],
    );
    let v: Vec<usize> = res.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert!(v[0] > 1, "rolled into several files: {res}");
    assert_eq!(v[1], 1000, "row groups hold rowGroupSize rows: {res}");
    assert_eq!(v[2], 20_000);
}

#[test]
fn a_commit_that_fails_midway_moves_back_what_it_moved() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("table");
    std::fs::create_dir_all(&out).unwrap();
    // A plain file where partition b's directory must go: publishing b fails after a moved.
    std::fs::write(out.join("region=b"), b"in the way").unwrap();
    let o = write_regions(&out, &[(1, "a"), (2, "b")], "append");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "region=b");
    assert_eq!(
        all_entries(&out),
        vec!["region=b"],
        "partition a moved back and its new directory removed; no staging left"
    );
}

/// pyarrow writes one row group of every type the reader claims (extremes, NULLs, fractional
/// and pre-1970 timestamps, INT96, unicode, binary with 0x00, NaN and infinities); the reader
/// must deliver each value exactly. Compared as CSV text per value, written by our file writer
/// from what the reader produced; the expected text is the value pyarrow wrote.
#[test]
fn reader_delivers_every_type_exactly() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("types");
    run_python(
        r#"
import sys, datetime as dt, pyarrow as pa, pyarrow.parquet as pq
from decimal import Decimal
ts = [dt.datetime(2024, 2, 29, 23, 59, 59, 123456), dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
      None, dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)]
t = pa.table({
    "id": pa.array([1, 2, 3, 4, 5], pa.int32()),
    "i8": pa.array([-128, 127, None, 0, -1], pa.int8()),
    "i16": pa.array([-32768, 32767, None, 0, 1], pa.int16()),
    "i64": pa.array([-9223372036854775808, 9223372036854775807, None, 0, 42], pa.int64()),
    "u8": pa.array([0, 255, None, 1, 2], pa.uint8()),
    "f32": pa.array([1.5, -3.4028235e38, None, float("nan"), float("inf")], pa.float32()),
    "f64": pa.array([0.1, -1e-300, None, float("-inf"), 5e-324], pa.float64()),
    "b": pa.array([True, False, None, True, False]),
    "s": pa.array(["héllo", "", None, "中文 😀", "a,b \"q\""]),
    "bin": pa.array([b"hi", b"", None, b"a\x00b", b"\x7f"], pa.binary()),
    "d": pa.array([dt.date(2024, 2, 29), dt.date(1970, 1, 1), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
    "ts_us": pa.array(ts, pa.timestamp("us")),
    "ts_ms": pa.array([dt.datetime(2000, 1, 1, 0, 0, 0, 1000), None, None, dt.datetime(1969, 1, 1), dt.datetime(2038, 1, 19, 3, 14, 8)], pa.timestamp("ms")),
    "ts_utc": pa.array([dt.datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=dt.timezone.utc), None, None, None, None], pa.timestamp("us", tz="UTC")),
    "dec": pa.array([Decimal("1234567890123456789012345678.0123456789"), Decimal("-0.0000000001"), None, Decimal("0E-10"), Decimal("-1")], pa.decimal128(38, 10)),
})
import os
os.makedirs(sys.argv[1])
pq.write_table(t, sys.argv[1] + "/micros.parquet")
# The same timestamps as INT96 (Hive before 3, Impala), nanoseconds kept by the format.
pq.write_table(pa.table({"id": t["id"], "ts_us": t["ts_us"]}), sys.argv[1] + "/../int96.parquet",
               use_deprecated_int96_timestamps=True, store_schema=False)
"#,
        &[dir.to_str().unwrap()],
    );
    let read = |path: &Path, cols: &str, out: &Path| {
        let reader = format!(
            r#"{{"name": "parquet", "parameter": {{"path": "{}", "column": {cols}}}}}"#,
            path.display()
        );
        let writer = format!(
            r#"{{"name": "file", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
            out.display()
        );
        let (_, _d) = run_job_ok("pqtypes", &job(SETTING, &reader, &writer));
        let files = visible_files(out);
        assert_eq!(files.len(), 1, "{files:?}");
        std::fs::read(&files[0]).unwrap()
    };
    let got = read(&dir, r#"["*"]"#, &t.path().join("out"));
    let want: &[u8] = b"\
1,-128,-32768,-9223372036854775808,0,1.5,0.1,true,h\xc3\xa9llo,hi,2024-02-29,2024-02-29 23:59:59.123456,2000-01-01 00:00:00.001,2024-06-01 12:00:00.500,1234567890123456789012345678.0123456789
2,127,32767,9223372036854775807,255,-3.4028235e38,-1e-300,false,,,1970-01-01,1969-12-31 23:59:59.999999,\\N,\\N,-0.0000000001
3,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N
4,0,0,0,1,NaN,-Infinity,true,\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80,a\x00b,0001-01-01,1900-01-01 00:00:00,1969-01-01 00:00:00,\\N,0.0000000000
5,-1,1,42,2,Infinity,5e-324,false,\"a,b \"\"q\"\"\",\x7f,9999-12-31,9999-12-31 23:59:59.999999,2038-01-19 03:14:08,\\N,-1.0000000000
";
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "every value as pyarrow wrote it"
    );
    assert_eq!(got, want);
    let got = read(
        &t.path().join("int96.parquet"),
        r#"["id", "ts_us"]"#,
        &t.path().join("out96"),
    );
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "1,2024-02-29 23:59:59.123456\n2,1969-12-31 23:59:59.999999\n3,\\N\n4,1900-01-01 00:00:00\n5,9999-12-31 23:59:59.999999\n",
        "INT96 timestamps"
    );
}

/// hdfswriter `fileType: "orc"`: MySQL -> an ORC Hive table (zlib, a dynamic partition,
/// created and registered in the metastore) that Spark SQL reads through the metastore and
/// pyarrow's ORC reader reads value by value; a type the ORC encoder cannot write is refused
/// at `check`, naming the column, and so is a codec ORC does not have.
#[test]
fn mysql_to_orc_hive_table_that_spark_and_pyarrow_read() {
    let hms = Metastore::start();
    let db = MariaDb::new();
    db.exec(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, dt DATE, f DOUBLE, note VARCHAR(20),
           ts DATETIME(6), small TINYINT, ok BOOLEAN);
         INSERT INTO src
           SELECT seq, DATE_ADD('2024-01-01', INTERVAL seq % 3 DAY), seq / 8, CONCAT('注', seq % 7),
             '2024-01-01 00:00:00.000001' + INTERVAL seq SECOND, CAST(seq % 100 AS SIGNED) - 50, seq % 2
           FROM seq_1_to_3000;
         UPDATE src SET note = NULL, f = NULL WHERE id % 10 = 0;",
    );
    let t = tempfile::tempdir().unwrap();
    let table_dir = t.path().join("orc_orders");
    let table = unique("orc_orders");
    let reader = format!(
        r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "f", "note", "ts", "small", "ok", "dt"],
            "splitPk": "id", "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
        mysql_server().login(),
        db.url()
    );
    let columns = r#"[{"name": "id", "type": "BIGINT"}, {"name": "f", "type": "DOUBLE"},
        {"name": "note", "type": "VARCHAR(5)"}, {"name": "ts", "type": "TIMESTAMP"},
        {"name": "small", "type": "TINYINT"}, {"name": "ok", "type": "BOOLEAN"}]"#;
    let writer = pq_writer(
        &table_dir,
        columns,
        &format!(
            r#", "writeMode": "truncate", "compress": "ZLIB", "partitionColumns": [{{"name": "dt", "type": "date"}}],
               "hiveMetastoreUris": "{}", "database": "default", "table": "{table}", "createTable": true"#,
            hms.uri
        ),
    )
    .replace(r#""fileType": "parquet""#, r#""fileType": "orc""#);
    let (_, _d) = run_job_ok("orc", &job(SETTING, &reader, &writer));
    let files = data_files(&table_dir);
    assert!(
        !files.is_empty() && files.iter().all(|f| f.ends_with(".orc")),
        "{files:?}"
    );

    // Spark SQL, through the metastore.
    let want = tagged(
        &db.query(
            "SELECT CONCAT_WS(' ', 'sum', dt, COUNT(*), SUM(id), CAST(SUM(f) AS DECIMAL(20,3)), COUNT(note),
               SUM(small), SUM(ok), MAX(ts)) FROM src GROUP BY dt ORDER BY dt",
        ),
        "sum ",
    );
    let script = concat!(
        spark_session!(),
        r#"q = f"""SELECT CAST(dt AS STRING), COUNT(*), SUM(id), CAST(CAST(SUM(f) AS DECIMAL(20,3)) AS STRING), COUNT(note),
        SUM(small), SUM(CAST(ok AS INT)), DATE_FORMAT(MAX(ts), 'yyyy-MM-dd HH:mm:ss.SSSSSS')
        FROM {table} GROUP BY dt ORDER BY dt"""
for r in s.sql(q).collect():
    print("sum", *r)
s.stop()
"#
    );
    assert_eq!(tagged(&spark(script, &hms, &table, t.path()), "sum "), want);

    // pyarrow's ORC reader, every value.
    let check = r#"
import sys, glob, json, pyarrow.orc as po
rows = []
for f in sorted(glob.glob(sys.argv[1] + '/dt=*/*.orc')):
    o = po.ORCFile(f)
    assert str(o.compression) == 'ZLIB', o.compression
    rows += o.read().to_pylist()
rows.sort(key=lambda r: r['id'])
print(json.dumps([[r['id'], r['f'], r['note'], r['ts'].isoformat(), r['small'], r['ok']] for r in rows]))
"#;
    let got: serde_json::Value =
        serde_json::from_str(run_python(check, &[table_dir.to_str().unwrap()]).trim()).unwrap();
    let want: Vec<serde_json::Value> = db
        .query(
            "SELECT id, IFNULL(f, 'null'), IFNULL(note, ''), DATE_FORMAT(ts, '%Y-%m-%dT%H:%i:%s.%f'),
               small, ok FROM src ORDER BY id",
        )
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            serde_json::json!([
                c[0].parse::<i64>().unwrap(),
                if c[1] == "null" { serde_json::Value::Null } else { c[1].parse::<f64>().unwrap().into() },
                if c[2].is_empty() { serde_json::Value::Null } else { c[2].into() },
                c[3],
                c[4].parse::<i64>().unwrap(),
                c[5] == "1"
            ])
        })
        .collect();
    assert_eq!(got, serde_json::Value::Array(want));

    // Verified against the files read back by our ORC reader (hdfsreader fileType orc).
    let verified = job(SETTING, &reader, &writer).replacen(
        r#""setting""#,
        r#""verify": {"rules": [{"rule": "count"}, {"rule": "sum", "column": "id"},
            {"rule": "sum", "column": "f"}, {"rule": "nulls", "column": "note"}, {"rule": "checksum"}]},
           "setting""#,
        1,
    );
    let (o, _d) = run_job_ok("orc_verify", &verified);
    assert!(!stderr(&o).contains("reader side only"), "{}", stderr(&o));

    // hdfsreader fileType orc: our files, with the partition key from the directories.
    let out = t.path().join("orc_back");
    let back = format!(
        r#"{{"name": "hdfsreader", "parameter": {{"defaultFS": "file:///", "fileType": "orc",
            "path": "{}", "column": ["id", "note", "dt"], "partition": {{"dt": "2024-01-02"}}}}}}"#,
        table_dir.display()
    );
    let csv = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "b",
            "writeMode": "truncate", "fieldDelimiter": "|", "nullFormat": "NULL"}}}}"#,
        out.display()
    );
    let (_, _d) = run_job_ok("orc_read", &job(SETTING, &back, &csv));
    let got = lines_in(&out);
    let mut want: Vec<String> = db
        .query(
            "SELECT CONCAT_WS('|', id, IFNULL(LEFT(note, 5), 'NULL'), dt) FROM src
             WHERE dt = '2024-01-02'",
        )
        .lines()
        .map(String::from)
        .collect();
    want.sort();
    assert_eq!(got.len(), 1000);
    assert_eq!(got, want);

    // An ORC file pyarrow wrote, decimals and dates included.
    let foreign = t.path().join("foreign");
    run_python(
        r#"
import sys, os, decimal, datetime, pyarrow as pa, pyarrow.orc as po
os.makedirs(sys.argv[1])
t = pa.table({
    "id": pa.array([1, 2, 3], pa.int32()),
    "amount": pa.array([decimal.Decimal("12.34"), None, decimal.Decimal("-0.01")], pa.decimal128(10, 2)),
    "d": pa.array([datetime.date(2024, 2, 29), datetime.date(1970, 1, 1), None]),
    "s": pa.array(["a", None, "ü"]),
    "ts": pa.array([datetime.datetime(9999, 12, 31, 23, 59, 59, 999999), None,
                    datetime.datetime(1969, 12, 31, 23, 59, 58)], pa.timestamp("us")),
})
po.write_table(t, sys.argv[1] + "/x.orc")
# A timestamp with digits below the microsecond, which datasync cannot hold, and one with a
# fraction before 1970, which pyarrow's ORC writer stores as negative nanoseconds that
# orc-rust cannot decode: each fails the read, naming the file.
for name, v, unit in [("ns", 1_700_000_000_000_000_001, "ns"), ("pre1970", -612_000_000_250_000, "us")]:
    os.makedirs(sys.argv[1] + "_" + name)
    po.write_table(pa.table({"ts": pa.array([v], pa.timestamp(unit))}), sys.argv[1] + "_" + name + "/x.orc")
# Two files whose columns come in different orders.
os.makedirs(sys.argv[1] + "_mixed")
po.write_table(pa.table({"id": [1], "v": ["a"]}), sys.argv[1] + "_mixed/a.orc")
po.write_table(pa.table({"v": ["b"], "id": [2]}), sys.argv[1] + "_mixed/b.orc")
"#,
        &[foreign.to_str().unwrap()],
    );
    let back = format!(
        r#"{{"name": "hdfsreader", "parameter": {{"fileType": "orc", "path": "{}", "column": ["*"]}}}}"#,
        foreign.display()
    );
    let out = t.path().join("foreign_back");
    let csv = csv.replace("orc_back", "foreign_back");
    let (_, _d) = run_job_ok("orc_foreign", &job(SETTING, &back, &csv));
    let got = lines_in(&out);
    assert_eq!(
        got,
        [
            "1|12.34|2024-02-29|a|9999-12-31 23:59:59.999999",
            "2|NULL|1970-01-01|NULL|NULL",
            "3|-0.01|NULL|ü|1969-12-31 23:59:58"
        ]
    );
    // column ["*"] over files whose columns differ is refused before a row moves, naming
    // both files; by name, both read.
    let mixed = back.replace("foreign", "foreign_mixed");
    let (o, _d) = run_job("orc_mixed", &job(SETTING, &mixed, &csv));
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "foreign_mixed/b.orc");
    assert_stderr_has(&o, "differ from those of");
    let (_, _d) = run_job_ok(
        "orc_mixed_named",
        &job(SETTING, &mixed.replace(r#"["*"]"#, r#"["id", "v"]"#), &csv),
    );
    let got = lines_in(&out);
    assert_eq!(got, ["1|a", "2|b"]);
    for name in ["foreign_ns", "foreign_pre1970"] {
        let back = back.replace("foreign", name);
        let (o, _d) = run_job(name, &job(SETTING, &back, &csv));
        assert_ne!(code(&o), 0, "{}", stderr(&o));
        assert_stderr_has(&o, &format!("{name}/x.orc"));
    }

    // Refused at check, naming the column or the key.
    for (cols, extra, needle) in [
        (
            r#"[{"name": "id", "type": "BIGINT"}, {"name": "amount", "type": "DECIMAL(12,2)"}]"#,
            r#", "writeMode": "append""#,
            "column[1].type",
        ),
        (
            r#"[{"name": "id", "type": "BIGINT"}]"#,
            r#", "writeMode": "append", "compress": "gzip""#,
            "compress",
        ),
    ] {
        let writer = pq_writer(&table_dir, cols, extra)
            .replace(r#""fileType": "parquet""#, r#""fileType": "orc""#);
        let p = write_job(t.path(), "orc_bad", &job(SETTING, &reader, &writer));
        let o = run_in(t.path(), &["check", p.to_str().unwrap()]);
        assert_ne!(code(&o), 0);
        assert_stderr_has(&o, needle);
    }

    // A timestamp ORC cannot hold (a fraction of the second before 1970) fails the job,
    // naming the column and the value; nothing is published.
    let input = file_in(
        t.path(),
        "ts.csv",
        "id,ts\n1,2024-01-01 00:00:00\n2,1969-12-31 23:59:59.5\n",
    );
    let out_dir = t.path().join("orc763");
    let writer = pq_writer(
        &out_dir,
        r#"[{"name": "id", "type": "BIGINT"}, {"name": "ts", "type": "TIMESTAMP"}]"#,
        r#", "writeMode": "truncate""#,
    )
    .replace(r#""fileType": "parquet""#, r#""fileType": "orc""#);
    let (o, _d) = run_job("orc763", &job(SETTING, &csv_reader(&input), &writer));
    assert_ne!(code(&o), 0);
    assert_stderr_has(
        &o,
        "column \"ts\": the timestamp 1969-12-31 23:59:59.500000",
    );
    assert!(data_files(&out_dir).is_empty());
}

/// INT96 timestamps (as Hive, Impala and Spark write them; here pyarrow) are read exactly
/// across the whole DATETIME range, not only 1677..2262 where nanoseconds fit an i64.
#[test]
fn int96_timestamps_are_read_exactly_outside_the_nanosecond_range() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("int96");
    std::fs::create_dir_all(&dir).unwrap();
    run_python(
        r#"
import sys, datetime as d, pyarrow as pa, pyarrow.parquet as pq
ts = [d.datetime(1000, 1, 1, 0, 0, 0, 1), d.datetime(2024, 3, 10, 12, 0, 0, 500000),
      d.datetime(9999, 12, 31, 23, 59, 59, 999999), None]
t = pa.table({"id": pa.array([1, 2, 3, 4], pa.int64()), "ts": pa.array(ts, pa.timestamp("us"))})
pq.write_table(t, sys.argv[1] + "/a.parquet", use_deprecated_int96_timestamps=True, store_schema=False)
assert pq.ParquetFile(sys.argv[1] + "/a.parquet").schema.column(1).physical_type == "INT96"
"#,
        &[dir.to_str().unwrap()],
    );
    let out = t.path().join("out");
    let reader = format!(
        r#"{{"name": "hdfsreader", "parameter": {{"path": "{}", "fileType": "parquet", "column": ["*"]}}}}"#,
        dir.display()
    );
    let writer = format!(
        r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o.csv", "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
        out.display()
    );
    run_job_ok("int96", &job("{}", &reader, &writer));
    let mut lines = lines_in(&out);
    lines.sort();
    assert_eq!(
        lines,
        [
            "1,1000-01-01 00:00:00.000001",
            "2,2024-03-10 12:00:00.500",
            "3,9999-12-31 23:59:59.999999",
            "4,\\N"
        ]
    );
    // A digit below the microsecond is not cut: the read fails, naming the row.
    let ns = t.path().join("ns");
    std::fs::create_dir_all(&ns).unwrap();
    run_python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
v = [1710072000000000000, 1710072000000000007]
t = pa.table({"id": pa.array([1, 2], pa.int64()), "ts": pa.array(v, pa.timestamp("ns"))})
pq.write_table(t, sys.argv[1] + "/a.parquet", use_deprecated_int96_timestamps=True, store_schema=False)
"#,
        &[ns.to_str().unwrap()],
    );
    let (o, _t) = run_job(
        "int96ns",
        &job(
            "{}",
            &reader.replace(dir.to_str().unwrap(), ns.to_str().unwrap()),
            &writer,
        ),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(
        &o,
        "column \"ts\" (INT96), row 2: the timestamp has 7 nanosecond(s)",
    );
}
