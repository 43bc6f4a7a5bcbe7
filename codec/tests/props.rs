//! Property tests of the text codecs: arbitrary bytes never panic or hang the decoder, and
//! what the encoder writes decodes back to the very same values, for every format and for the
//! types the codecs claim (integers, floats, decimals, booleans, dates, timestamps, UTF-8).

#![allow(clippy::unwrap_used)]

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use datasync_codec::{
    decode_stream, parse_columns, CodecError, DecodeSink, FileFormat, ReadColumns, TextEncoder,
    TextOptions,
};
use datasync_engine::job::BatchSetting;
use datasync_engine::DirtyRecord;
use proptest::prelude::*;
use serde_json::json;
use std::sync::Arc;

#[derive(Default)]
struct Collect {
    batches: Vec<RecordBatch>,
    dirty: Vec<DirtyRecord>,
}

impl DecodeSink for Collect {
    type Error = CodecError;
    fn batch(&mut self, batch: RecordBatch) -> Result<(), CodecError> {
        self.batches.push(batch);
        Ok(())
    }
    fn dirty(&mut self, record: DirtyRecord) -> Result<(), CodecError> {
        self.dirty.push(record);
        Ok(())
    }
}

const BATCH: BatchSetting = BatchSetting {
    rows: 100,
    bytes: 1 << 20,
};

/// `bytes` decoded in batches of `rows` rows: what the sink got, and the decoder's answer.
fn decode_bytes(
    bytes: &[u8],
    opts: &TextOptions,
    columns: &ReadColumns,
    rows: usize,
    location: &str,
) -> (Collect, Result<(), CodecError>) {
    let mut sink = Collect::default();
    let input: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
    let batch = BatchSetting { rows, ..BATCH };
    let r = decode_stream(input, opts, columns, batch, location, &mut sink);
    (sink, r)
}

fn opts(format: FileFormat) -> TextOptions {
    TextOptions::new("p", format, None, "UTF-8", "\\N", None, false).unwrap()
}

const TYPES: [(&str, &str); 7] = [
    ("id", "long"),
    ("s", "string"),
    ("f", "double"),
    ("d", "decimal(18,4)"),
    ("b", "boolean"),
    ("day", "date32"),
    ("ts", "timestamp[us]"),
];

fn declared(format: FileFormat) -> ReadColumns {
    let cols: Vec<serde_json::Value> = TYPES
        .iter()
        .enumerate()
        .map(|(i, (n, t))| match format {
            FileFormat::Jsonl => json!({"name": n, "type": t}),
            _ => json!({"index": i, "type": t, "name": n}),
        })
        .collect();
    let cols: Vec<datasync_codec::ColumnSpec> =
        serde_json::from_value(serde_json::Value::Array(cols)).unwrap();
    parse_columns(&cols, "p.column", format).unwrap()
}

fn decode(bytes: &[u8], format: FileFormat, columns: &ReadColumns) -> Collect {
    // An error is a fine answer to garbage; a panic or a hang is not.
    decode_bytes(bytes, &opts(format), columns, 7, "prop").0
}

type Row = (
    Option<i64>,
    Option<String>,
    Option<f64>,
    Option<i64>,
    Option<bool>,
    Option<i32>,
    Option<i64>,
);

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(any::<i64>()),
        // Any text but the null marker itself, which `nullFormat` reserves.
        proptest::option::of(any::<String>().prop_filter("the null marker", |s| s != "\\N")),
        proptest::option::of(any::<f64>().prop_filter("finite", |f| f.is_finite())),
        proptest::option::of(-999_999_999_999_999_999i64..=999_999_999_999_999_999),
        proptest::option::of(any::<bool>()),
        // 0001-01-01 ..= 9999-12-31
        proptest::option::of(-719_162i32..=2_932_896),
        proptest::option::of(-62_135_596_800_000_000i64..=253_402_300_799_999_999),
    )
}

fn batch_of(rows: &[Row]) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.1.clone()).collect::<StringArray>()),
        Arc::new(rows.iter().map(|r| r.2).collect::<Float64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| r.3.map(i128::from))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(18, 4)
                .unwrap(),
        ),
        Arc::new(rows.iter().map(|r| r.4).collect::<BooleanArray>()),
        Arc::new(rows.iter().map(|r| r.5).collect::<Date32Array>()),
        Arc::new(
            rows.iter()
                .map(|r| r.6)
                .collect::<TimestampMicrosecondArray>(),
        ),
    ];
    let fields: Vec<Field> = TYPES
        .iter()
        .zip(&cols)
        .map(|((n, _), a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

/// Every value of `got` (possibly several batches) equals `want`'s, column by column.
fn same_values(want: &RecordBatch, got: &[RecordBatch]) -> Result<(), TestCaseError> {
    let n: usize = got.iter().map(|b| b.num_rows()).sum();
    prop_assert_eq!(n, want.num_rows());
    let mut offset = 0;
    for b in got {
        for c in 0..want.num_columns() {
            let w = want.column(c).slice(offset, b.num_rows());
            let g = b.column(c);
            prop_assert_eq!(g.data_type(), w.data_type(), "column {}", c);
            prop_assert_eq!(
                g.to_data(),
                w.to_data(),
                "column {} at rows {}..",
                c,
                offset
            );
        }
        offset += b.num_rows();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in [FileFormat::Csv, FileFormat::Text, FileFormat::Jsonl] {
            let c = decode(&bytes, format, &declared(format));
            // Every row is a batch row or a dirty record, never silently dropped: at most one
            // per line.
            // CSV also ends a record at a lone carriage return.
            let lines = bytes.iter().filter(|b| matches!(**b, b'\n' | b'\r')).count() + 1;
            let rows: usize = c.batches.iter().map(|b| b.num_rows()).sum();
            prop_assert!(rows + c.dirty.len() <= lines, "{} rows + {} dirty from {} lines", rows, c.dirty.len(), lines);
            if format != FileFormat::Jsonl {
                decode(&bytes, format, &ReadColumns::All);
            }
        }
    }

    #[test]
    fn csv_and_jsonl_round_trips_are_exact(rows in proptest::collection::vec(row(), 1..40)) {
        let want = batch_of(&rows);
        for format in [FileFormat::Csv, FileFormat::Jsonl] {
            let mut enc = TextEncoder::new(opts(format));
            let mut bytes = Vec::new();
            let written = enc
                .encode(&want, &mut bytes, |r, e| Err::<(), String>(format!("row {r}: {e}")))
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(written as usize, rows.len());
            let c = decode(&bytes, format, &declared(format));
            prop_assert!(c.dirty.is_empty(), "{:?}: dirty {:?} from {}", format, c.dirty.first().map(|d| &d.error), String::from_utf8_lossy(&bytes));
            same_values(&want, &c.batches)?;
        }
    }

    #[test]
    fn text_round_trip_is_exact_or_dirty(rows in proptest::collection::vec(row(), 1..40)) {
        // Delimited text has no quoting: a value with the delimiter or a line break cannot be
        // written and is dirty at the writer; every row that is written reads back exactly.
        let want = batch_of(&rows);
        let mut enc = TextEncoder::new(opts(FileFormat::Text));
        let mut bytes = Vec::new();
        let mut refused = Vec::new();
        enc.encode(&want, &mut bytes, |r, _| { refused.push(r); Ok::<(), ()>(()) }).unwrap();
        let kept: Vec<Row> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| !refused.contains(i))
            .map(|(_, r)| r.clone())
            .collect();
        for r in &refused {
            let s = rows[*r].1.as_deref().unwrap_or("");
            prop_assert!(s.contains(',') || s.contains('\n') || s.contains('\r'), "refused {:?}", s);
        }
        if kept.is_empty() {
            return Ok(());
        }
        let c = decode(&bytes, FileFormat::Text, &declared(FileFormat::Text));
        prop_assert!(c.dirty.is_empty(), "dirty {:?}", c.dirty.first().map(|d| &d.error));
        same_values(&batch_of(&kept), &c.batches)?;
    }
}

#[test]
fn the_types_under_test_are_the_declared_ones() {
    let b = batch_of(&[(Some(1), None, None, None, None, None, None)]);
    let types: Vec<DataType> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    match declared(FileFormat::Csv) {
        ReadColumns::Listed(cols) => assert_eq!(cols.len(), types.len()),
        ReadColumns::All => panic!("declared columns expected"),
    }
}

#[test]
fn a_row_with_another_field_count_than_the_first_is_dirty() {
    let cols: Vec<datasync_codec::ColumnSpec> = serde_json::from_value(json!([
        {"index": 0, "type": "long"}, {"index": 1, "type": "string"}
    ]))
    .unwrap();
    let cols = parse_columns(&cols, "p.column", FileFormat::Csv).unwrap();
    let c = decode(b"1,a\n2,b,extra\n3\n4,d\n", FileFormat::Csv, &cols);
    let rows: usize = c.batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2, "rows 1 and 4 load");
    assert_eq!(c.dirty.len(), 2);
    assert!(
        c.dirty[0].error.contains("expected 2 fields"),
        "{}",
        c.dirty[0].error
    );
    assert_eq!(c.dirty[0].values.len(), 3, "the whole row is kept");
}

#[test]
fn a_header_names_the_columns_the_job_did_not_name() {
    let cols: Vec<datasync_codec::ColumnSpec> = serde_json::from_value(json!([
        {"index": 0, "type": "long"}, {"index": 1, "type": "long", "name": "qty"}, {"index": 2}
    ]))
    .unwrap();
    let cols = parse_columns(&cols, "p.column", FileFormat::Csv).unwrap();
    let opts = TextOptions::new("p", FileFormat::Csv, None, "UTF-8", "\\N", None, true).unwrap();
    let (sink, r) = decode_bytes(
        b"id,amount,note\n1,2,a\nx,3,b\n",
        &opts,
        &cols,
        100,
        "h.csv",
    );
    r.unwrap();
    let names: Vec<String> = sink.batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["id", "qty", "note"]);
    assert_eq!(sink.dirty[0].columns, ["id", "qty", "note"]);
    assert_eq!(
        sink.dirty[0].location.as_deref(),
        Some("h.csv:3"),
        "physical line, header counted"
    );
}

#[test]
fn datax_csv_reader_config_sets_quote_escape_comment_trim_and_delimiters() {
    let cfg: datasync_codec::TextReadConfig = serde_json::from_value(json!({
        "path": "x.csv",
        "column": [{"index": 0, "type": "string"}, {"index": 1, "type": "string"}],
        "fieldDelimiter": ",",
        "csvReaderConfig": {"textQualifier": "'", "escapeMode": 2, "useComments": true,
            "comment": "#", "trimWhitespace": true, "delimiter": ";",
            "safetySwitch": false, "skipEmptyRecords": true}
    }))
    .unwrap();
    let read = cfg.build("p").unwrap();
    let (sink, r) = decode_bytes(
        b"#note\n'a;\\'b' ;  c \nd;e\n'l1\\nl2\\t\\x41\\\\';f\n",
        &read.opts,
        &read.columns,
        100,
        "c.csv",
    );
    r.unwrap();
    assert!(sink.dirty.is_empty(), "{:?}", sink.dirty);
    let b = &sink.batches[0];
    let col = |i: usize| {
        let a = b.column(i).as_any().downcast_ref::<StringArray>().unwrap();
        (0..a.len())
            .map(|r| a.value(r).to_string())
            .collect::<Vec<_>>()
    };
    // escapeMode 2 decodes escapes as DataX's CSV reader does: \n is a line break, not "n".
    assert_eq!(col(0), ["a;'b", "d", "l1\nl2\tA\\"]);
    assert_eq!(col(1), ["c", "e", "f"]);
    // Another record delimiter.
    let cfg: datasync_codec::TextReadConfig = serde_json::from_value(json!({
        "path": "x.csv", "column": [{"index": 0, "type": "string"}],
        "csvReaderConfig": {"recordDelimiter": "|"}
    }))
    .unwrap();
    let read = cfg.build("p").unwrap();
    let (sink, r) = decode_bytes(b"a|b|c", &read.opts, &read.columns, 100, "r.csv");
    r.unwrap();
    assert_eq!(sink.batches[0].num_rows(), 3);
    // A number where DataX reads one character is refused, not taken as its first digit.
    let bad: datasync_codec::TextReadConfig = serde_json::from_value(json!({
        "path": "x.csv", "csvReaderConfig": {"textQualifier": "34"}
    }))
    .unwrap();
    let e = bad.build("p").unwrap_err();
    assert_eq!(e.path, "p.csvReaderConfig.textQualifier");
}

/// The helper for the javacsv cases below: `config` as csvReaderConfig, three string columns,
/// `input` decoded; the rows as lists of values, and the dirty count.
fn javacsv(config: serde_json::Value, input: &str) -> (Vec<Vec<String>>, usize) {
    let cfg: datasync_codec::TextReadConfig = serde_json::from_value(json!({
        "path": "x.csv",
        "column": [{"index": 0, "type": "string"}, {"index": 1, "type": "string"},
                   {"index": 2, "type": "string"}],
        "csvReaderConfig": config
    }))
    .unwrap();
    let read = cfg.build("p").unwrap();
    let (sink, r) = decode_bytes(input.as_bytes(), &read.opts, &read.columns, 100, "j.csv");
    r.unwrap();
    let mut rows = Vec::new();
    for b in &sink.batches {
        for r in 0..b.num_rows() {
            rows.push(
                (0..3)
                    .map(|c| {
                        let a = b.column(c).as_any().downcast_ref::<StringArray>().unwrap();
                        a.value(r).to_string()
                    })
                    .collect(),
            );
        }
    }
    (rows, sink.dirty.len())
}

/// As DataX's CSV reader: trimming finds a quote after spaces and keeps what is inside it;
/// escapes without quotes (useTextQualifier false) count in every field.
#[test]
fn javacsv_trimming_and_unquoted_escapes() {
    let (rows, dirty) = javacsv(
        json!({"trimWhitespace": true, "useComments": true}),
        "1, \"x,y\" ,z\n  #2,b,c\n2,\"a\",b\n3, \" sp \" , q \n",
    );
    assert_eq!(dirty, 0);
    assert_eq!(
        rows,
        [["1", "x,y", "z"], ["2", "a", "b"], ["3", " sp ", "q"]]
    );
    let (rows, dirty) = javacsv(
        json!({"escapeMode": 2, "useTextQualifier": false}),
        "a\\,b,c\\nd,\"q\"\n",
    );
    assert_eq!(dirty, 0);
    assert_eq!(rows, [["a,b", "c\nd", "\"q\""]]);
}

/// `UTF-16` is big-endian without a byte order mark (as Java reads it); with one, the mark
/// decides, and it is not data; a UTF-8 mark in a GBK-declared file makes it UTF-8.
#[test]
fn byte_order_marks_decide_the_utf_and_utf_16_is_big_endian() {
    let utf16 = |big: bool, bom: bool| {
        let mut b: Vec<u8> = Vec::new();
        if bom {
            b.extend(if big { [0xFE, 0xFF] } else { [0xFF, 0xFE] });
        }
        for u in "id,name\n1,\u{e4}\n".encode_utf16() {
            b.extend(if big {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        b
    };
    let cols: Vec<datasync_codec::ColumnSpec> = serde_json::from_value(json!([
        {"index": 0, "type": "long"}, {"index": 1, "type": "string"}
    ]))
    .unwrap();
    let cols = parse_columns(&cols, "p.column", FileFormat::Csv).unwrap();
    for (label, bytes) in [
        ("UTF-16", utf16(true, false)),
        ("UTF-16", utf16(true, true)),
        ("UTF-16", utf16(false, true)),
        ("UTF-16LE", utf16(false, true)),
        ("UTF-16LE", utf16(true, true)),
        ("GBK", b"\xEF\xBB\xBFid,name\n1,\xC3\xA4\n".to_vec()),
        ("UTF-8", utf16(true, true)),
        ("UTF-8", utf16(false, true)),
        ("UTF-8", b"\xEF\xBB\xBFid,name\n1,\xC3\xA4\n".to_vec()),
    ] {
        let opts = TextOptions::new("p", FileFormat::Csv, None, label, "\\N", None, true).unwrap();
        let (sink, r) = decode_bytes(&bytes, &opts, &cols, 100, "u.csv");
        r.unwrap();
        assert!(sink.dirty.is_empty(), "{label} {bytes:?}: {:?}", sink.dirty);
        assert_eq!(sink.batches.len(), 1, "{label} {bytes:?}");
        let b = &sink.batches[0];
        let name = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            (b.num_rows(), name.value(0)),
            (1, "\u{e4}"),
            "{label} {bytes:?}"
        );
    }
}
