//! Text/CSV/JSON Lines -> Arrow. Rows are parsed into per-column buffers that can be rolled
//! back, so a row with one bad field becomes a dirty record as a whole and never half-lands.

use crate::builder::TextBatchBuilder;
use crate::options::{FileFormat, ReadColumn, ReadColumns, Source, TextOptions};
use crate::CodecError;
use arrow_array::RecordBatch;
use arrow_schema::DataType;
use datasync_engine::job::BatchSetting;
use datasync_engine::DirtyRecord;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};

/// Where decoded batches and dirty rows go.
pub trait DecodeSink {
    /// The sink's error; codec errors convert into it.
    type Error: From<CodecError>;
    /// A full batch.
    fn batch(&mut self, batch: RecordBatch) -> Result<(), Self::Error>;
    /// A row that could not be decoded.
    fn dirty(&mut self, record: DirtyRecord) -> Result<(), Self::Error>;
}

/// The file decoder: a [`TextBatchBuilder`] plus column sources, constants and `nullFormat`.
struct Decoder<'a> {
    opts: &'a TextOptions,
    columns: Vec<ReadColumn>,
    builder: TextBatchBuilder,
}

impl<'a> Decoder<'a> {
    fn new(opts: &'a TextOptions, columns: Vec<ReadColumn>, batch: BatchSetting) -> Self {
        let fields = columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.data_type.clone(),
                    c.format.clone().or_else(|| opts.date_format.clone()),
                )
            })
            .collect();
        let builder = TextBatchBuilder::new(fields, batch, opts.encoding != encoding_rs::UTF_8);
        Decoder {
            opts,
            columns,
            builder,
        }
    }

    fn names(&self) -> Vec<String> {
        self.builder.names()
    }

    /// Appends one row; `get` gives a column's text from its source (None = NULL), constants
    /// are filled in here.
    fn row<'r>(
        &mut self,
        mut get: impl FnMut(&Source) -> Result<Option<&'r [u8]>, String>,
    ) -> Result<(), String> {
        let Decoder {
            columns,
            builder,
            opts,
        } = self;
        let null = opts.null_format.as_bytes();
        builder.push_row(|i| {
            let got = match &columns[i].source {
                Source::Const(v) => Some(v.as_bytes()),
                other => get(other)?,
            };
            Ok(got.filter(|t| *t != null))
        })
    }

    fn full(&self) -> bool {
        self.builder.full()
    }

    fn flush<S: DecodeSink>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        match self.builder.finish()? {
            Some(batch) => sink.batch(batch),
            None => Ok(()),
        }
    }
}

fn raw_values(fields: impl Iterator<Item = impl AsRef<[u8]>>) -> Vec<Value> {
    fields
        .map(|f| crate::values::raw_value(f.as_ref()))
        .collect()
}

/// Decodes a whole stream (one file) into batches, reporting undecodable rows as dirty.
pub fn decode_stream<S: DecodeSink>(
    mut input: Box<dyn Read + '_>,
    opts: &TextOptions,
    columns: &ReadColumns,
    batch: BatchSetting,
    location: &str,
    sink: &mut S,
) -> Result<(), S::Error> {
    let io = |source| CodecError::Io {
        location: location.to_string(),
        source,
    };
    // The first bytes, for a byte order mark (read in full: a stream may hand them over a few
    // at a time). A mark says which UTF the file is, whatever `encoding` says.
    let mut head = Vec::with_capacity(4);
    Read::by_ref(&mut input)
        .take(4)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.starts_with(b"\xFF\xFE\0\0") || head.starts_with(b"\0\0\xFE\xFF") {
        return Err(CodecError::Format {
            location: location.to_string(),
            message: "the file starts with a UTF-32 byte order mark: UTF-32 is not supported \
                      (convert the file to UTF-8 or UTF-16)"
                .into(),
        }
        .into());
    }
    let utf16_mark = head.starts_with(b"\xFE\xFF") || head.starts_with(b"\xFF\xFE");
    let input = std::io::Cursor::new(head).chain(input);
    let mut reader: Box<dyn BufRead + '_> = if opts.encoding == encoding_rs::UTF_8 && !utf16_mark {
        let mut r = BufReader::with_capacity(1 << 16, input);
        // Drop a UTF-8 byte order mark.
        if r.fill_buf().map_err(io)?.starts_with(b"\xEF\xBB\xBF") {
            r.consume(3);
        }
        Box::new(r)
    } else {
        // The mark decides (and is not data): a UTF-16 file with a big-endian mark is not read
        // as little-endian garbage, nor one declared (or defaulting to) UTF-8 as UTF-8.
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(opts.encoding))
            .bom_override(true)
            .build(input);
        Box::new(BufReader::with_capacity(1 << 16, decoded))
    };
    let s = Stream {
        opts,
        columns,
        batch,
        location,
    };
    match opts.format {
        FileFormat::Jsonl => decode_jsonl(&mut reader, &s, sink),
        FileFormat::Csv | FileFormat::Text => decode_delimited(reader, &s, sink),
    }
}

/// What one stream is decoded with.
struct Stream<'a> {
    opts: &'a TextOptions,
    columns: &'a ReadColumns,
    batch: BatchSetting,
    location: &'a str,
}

/// `cols` with each unnamed column named after its header field, where the header has a
/// distinct, non-empty name for it.
fn header_named(cols: &[ReadColumn], header: Option<&[String]>) -> Vec<ReadColumn> {
    let Some(h) = header else {
        return cols.to_vec();
    };
    let mut out = cols.to_vec();
    let taken: Vec<String> = cols
        .iter()
        .filter(|c| c.named)
        .map(|c| c.name.clone())
        .collect();
    for c in out.iter_mut().filter(|c| !c.named) {
        if let Source::Index(ix) = c.source {
            let name = h.get(ix).map(|n| n.trim()).unwrap_or_default();
            let unique = h.iter().filter(|n| n.trim() == name).count() == 1;
            if !name.is_empty() && unique && !taken.iter().any(|t| t == name) {
                c.name = name.to_string();
            }
        }
    }
    out
}

fn decode_delimited<S: DecodeSink>(
    reader: Box<dyn BufRead + '_>,
    &Stream {
        opts,
        columns,
        batch,
        location,
    }: &Stream<'_>,
    sink: &mut S,
) -> Result<(), S::Error> {
    let dialect = &opts.csv;
    let quoting = dialect.quoting.unwrap_or(opts.format == FileFormat::Csv);
    // Backslash escapes (escapeMode 2) and javacsv's trimming are done before the parser (see
    // `prepass`), which may then read quotes the pass wrote.
    let pass = crate::prepass::PrepassConfig {
        quote: dialect.quote.unwrap_or(b'"'),
        quoting,
        escapes: dialect.backslash_escape,
        trim: dialect.trim,
        delimiter: opts.delimiter,
        terminator: dialect.terminator,
        comment: dialect.comment,
    };
    let (reader, quoting, quote): (Box<dyn BufRead + '_>, bool, u8) = if pass.needed() {
        (
            Box::new(std::io::BufReader::with_capacity(
                1 << 16,
                crate::prepass::Prepass::new(reader, pass),
            )),
            pass.parser_quoting(),
            pass.parser_quote(),
        )
    } else {
        (reader, quoting, pass.quote)
    };
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(opts.delimiter)
        .has_headers(false)
        .flexible(true)
        .quoting(quoting)
        .quote(quote)
        .comment(dialect.comment)
        .buffer_capacity(1 << 16);
    if let Some(t) = dialect.terminator {
        builder.terminator(csv::Terminator::Any(t));
    }
    let mut csv = builder.from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Vec<String>> = None;
    // With a header line, declared columns without a `name` take the header's name for their
    // field (so dirty records and `["*"]` writers see `amount`, not `c2`): the decoder is made
    // once the header is read.
    let mut dec: Option<Decoder<'_>> = match columns {
        ReadColumns::Listed(cols) if !opts.skip_header => {
            Some(Decoder::new(opts, cols.clone(), batch))
        }
        _ => None,
    };
    let mut first = true;
    // The field count of the first data row: a later row with another count is dirty (a
    // delimiter inside an unquoted value, a cut line), not silently cut or padded.
    let mut width: Option<usize> = None;
    loop {
        let more = csv.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            match e.into_kind() {
                csv::ErrorKind::Io(source) => CodecError::Io {
                    location: format!("{location}:{line}"),
                    source,
                },
                other => CodecError::Format {
                    location: format!("{location}:{line}"),
                    message: format!("{other:?}"),
                },
            }
        })?;
        if !more {
            break;
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if first {
            first = false;
            if opts.skip_header {
                header = Some(
                    record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect(),
                );
                continue;
            }
        }
        let d = match (&mut dec, columns) {
            (Some(d), _) => d,
            (None, ReadColumns::Listed(cols)) => dec.insert(Decoder::new(
                opts,
                header_named(cols, header.as_deref()),
                batch,
            )),
            (None, ReadColumns::All) => {
                // `*`: the first row fixes the column count; names come from the header if any.
                let names: Vec<String> = match &header {
                    Some(h) if h.len() == record.len() => h.clone(),
                    _ => (0..record.len()).map(|i| format!("c{i}")).collect(),
                };
                let cols = names
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| ReadColumn {
                        name,
                        source: Source::Index(i),
                        data_type: DataType::Utf8,
                        format: None,
                        named: true,
                    })
                    .collect();
                dec.insert(Decoder::new(opts, cols, batch))
            }
        };
        let nfields = record.len();
        let result = match *width.get_or_insert(nfields) {
            w if w != nfields => Err(format!(
                "expected {w} fields like the first row, found {nfields}"
            )),
            _ => d.row(|src| match src {
                Source::Index(i) => record.get(*i).map(Some).ok_or_else(|| {
                    format!("the row has {nfields} fields, this column reads field {i}")
                }),
                _ => Err("a key column in a delimited file".into()),
            }),
        };
        if let Err(error) = result {
            sink.dirty(DirtyRecord {
                error,
                columns: d.names(),
                values: raw_values(record.iter()),
                location: Some(format!("{location}:{line}")),
            })?;
            continue;
        }
        if d.full() {
            d.flush(sink)?;
        }
    }
    if let Some(d) = &mut dec {
        d.flush(sink)?;
    }
    Ok(())
}

/// The text of one JSON value as a column parses it. Numbers keep their exact digits (a
/// decimal with 18 digits must not pass through a float); arrays and objects become compact
/// JSON text; `null` is NULL.
fn json_text(raw: &serde_json::value::RawValue) -> Option<String> {
    let t = raw.get();
    match t.as_bytes().first() {
        None | Some(b'n') => None,
        Some(b'"') => serde_json::from_str::<String>(t).ok(),
        Some(b'[' | b'{') => serde_json::from_str::<Value>(t).ok().map(|v| v.to_string()),
        Some(_) => Some(t.to_string()),
    }
}

fn decode_jsonl<S: DecodeSink>(
    reader: &mut Box<dyn BufRead + '_>,
    s: &Stream<'_>,
    sink: &mut S,
) -> Result<(), S::Error> {
    let ReadColumns::Listed(cols) = s.columns else {
        return Err(CodecError::Format {
            location: s.location.into(),
            message: "JSON Lines needs named columns".into(),
        }
        .into());
    };
    // JSON has its own null, so nullFormat does not apply.
    let mut jopts = s.opts.clone();
    jopts.null_format = "\u{0}\u{0}never".into();
    let mut d = Decoder::new(&jopts, cols.clone(), s.batch);
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let got = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| CodecError::Io {
                location: s.location.to_string(),
                source,
            })?;
        if got == 0 {
            break;
        }
        n += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: Result<std::collections::HashMap<String, &serde_json::value::RawValue>, _> =
            serde_json::from_slice(&line);
        let result = match &parsed {
            Ok(obj) => {
                let texts: Vec<(&str, Option<String>)> = cols
                    .iter()
                    .filter_map(|c| match &c.source {
                        Source::Key(k) => Some((k.as_str(), obj.get(k).and_then(|v| json_text(v)))),
                        _ => None,
                    })
                    .collect();
                d.row(|src| match src {
                    Source::Key(k) => Ok(texts
                        .iter()
                        .find(|(key, _)| *key == k.as_str())
                        .and_then(|(_, t)| t.as_deref())
                        .map(str::as_bytes)),
                    _ => Err("an index column in a JSON Lines file".into()),
                })
            }
            Err(e) => Err(format!("not a JSON object: {e}")),
        };
        if let Err(error) = result {
            let end = line.trim_ascii_end().len();
            sink.dirty(DirtyRecord {
                error,
                columns: d.names(),
                values: vec![crate::values::raw_value(&line[..end])],
                location: Some(format!("{}:{n}", s.location)),
            })?;
            continue;
        }
        if d.full() {
            d.flush(sink)?;
        }
    }
    d.flush(sink)
}
