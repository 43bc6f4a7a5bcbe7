//! The writer: the plugin contract and a task's batched puts on a blocking thread.

use super::config::{settings, KeyPart, Raw, Settings, Version};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use datasync_codec::values::{column_names, dirty_row};
use datasync_codec::ValueWriter;
use datasync_db::hbase::{encode_cell, encode_float, HType, Hbase, HbaseError, Mutation};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::ConfigError;
use datasync_engine::{async_trait, Params, Plugin, PluginError, TaskContext, Writer, WriterTask};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per mutateRows call at most, whatever writeBufferSize allows (bounds the memory a
/// call's message takes).
const MAX_ROWS_PER_CALL: usize = 10_000;

/// How long a task waits for a lost gateway to come back before it fails.
const RECONNECT_WINDOW: Duration = Duration::from_secs(60);

/// The hbase writer.
#[derive(Debug, Clone)]
pub struct HbaseWriter {
    s: Arc<Settings>,
}

/// The hbase writer's `parameter`: the gateway's address, then DataX's keys.
type Layout = (datasync_db::hbase::GatewayKeys, Raw);

/// Keys of DataX's hbase11xwriter that it never reads.
const IGNORED: &[(&str, &str)] = &[(
    "autoFlush",
    "DataX's hbase11xwriter does not read it either; puts go in batches of writeBufferSize",
)];

impl Plugin for HbaseWriter {
    const NAME: &'static str = "hbase";
    const ALIASES: &'static [&'static str] = &["hbase11xwriter"];
    const DESCRIPTION: &'static str =
        "HBase tables through the Thrift1 gateway: row keys from columns and constants, Bytes.toBytes cells, batched puts; refused rows isolated";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (g, raw): Layout = p.parts(IGNORED)?;
        Ok(HbaseWriter {
            s: Arc::new(settings(g, raw, p.path)?),
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, IGNORED)
    }

    fn template() -> Value {
        json!({
            "thriftAddress": "${hbase_thrift}",
            "transport": "framed",
            "protocol": "binary",
            "table": "${hbase_target_table}",
            "mode": "normal",
            "rowkeyColumn": [{"index": 0, "type": "long"}],
            "column": [
                {"index": 1, "name": "cf:amount", "type": "string"},
                {"index": 2, "name": "cf:name", "type": "string"}
            ],
            "versionColumn": {"index": -1, "value": "1700000000000"},
            "nullMode": "skip",
            "encoding": "UTF-8",
            "walFlag": false,
            "writeBufferSize": 8388608
        })
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        vec![
            note("thriftAddress", "host:port of the HBase Thrift1 gateway (`hbase thrift start`); DataX's hbaseConfig (ZooKeeper) is not used."),
            note("transport", "framed (default) or buffered, as the gateway runs."),
            note("protocol", "binary (default) or compact, as the gateway runs."),
            note("table", "The HBase table (it must exist with its column families)."),
            note("mode", "normal (the only mode)."),
            note("rowkeyColumn", "Row key parts, concatenated: an input column {index, type} or a constant {index: -1, type, value}."),
            note("column", "Cells: input column index, family:qualifier, type (string, boolean, short, int, long, float, double, binarystring, binary)."),
            note("versionColumn", "Cell timestamps: {index: -1, value: ms} for all rows, or {index: n} from an input column (integer ms, timestamp, or text yyyy-MM-dd HH:mm:ss[.SSS], UTC); absent: the server's time."),
            note("nullMode", "skip (default): a NULL cell is left out; empty: written as an empty value."),
            note("encoding", "Text encoding of string cells; default UTF-8."),
            note("walFlag", "Write-ahead log for the puts; default false (as DataX)."),
            note("writeBufferSize", "Bytes of puts per mutateRows call (at most 10,000 rows a call); default 8388608."),
        ]
    }
}

#[async_trait]
impl Writer for HbaseWriter {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        vec![datasync_engine::lineage::Dataset::new(
            format!("hbase://{}", self.s.conn.address),
            self.s.table.clone(),
        )]
    }

    async fn prepare(&self) -> Result<(), PluginError> {
        // The table and its families must exist: checked before any row is read.
        let s = self.s.clone();
        let fams = tokio::task::spawn_blocking(move || -> Result<_, HbaseError> {
            Hbase::connect(&s.conn)?.families(s.table.as_bytes())
        })
        .await
        .map_err(|e| PluginError::new(format!("checking the table did not finish: {e}")))??;
        for (_, name, _) in &self.s.cells {
            let family = name.split(|b| *b == b':').next().unwrap_or_default();
            if !fams.iter().any(|(f, _)| f == family) {
                return Err(PluginError::new(format!(
                    "column {}: {} has no column family {} (it has {})",
                    String::from_utf8_lossy(name),
                    self.s.table,
                    String::from_utf8_lossy(family),
                    fams.iter()
                        .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let mut p = datasync_engine::Probe::default();
        match self.prepare().await {
            Ok(()) => p.ok(
                format!("table {}", self.s.table),
                format!(
                    "{}: the table and its column families exist",
                    self.s.conn.address
                ),
            ),
            Err(e) => p.problem(format!("table {}", self.s.table), e.chain()),
        }
        Ok(p)
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|_| Box::new(HbaseTask { s: self.s.clone() }) as Box<dyn WriterTask>)
            .collect())
    }
}

struct HbaseTask {
    s: Arc<Settings>,
}

#[async_trait]
impl WriterTask for HbaseTask {
    fn retry_safe(&self) -> bool {
        // Writing a row again with the same timestamp changes nothing; with the server's
        // time it would add versions.
        self.s.version != Version::Server
    }

    async fn write(&mut self, input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        let s = self.s.clone();
        tokio::task::spawn_blocking(move || Puts::new(s, ctx)?.run(input))
            .await
            .map_err(|e| PluginError::new(format!("the HBase writer did not finish: {e}")))?
    }
}

/// A row ready to send.
struct Pending {
    batch: RecordBatch,
    row: usize,
    key: Vec<u8>,
    cells: Vec<Mutation>,
    ts: Option<i64>,
    bytes: usize,
}

/// One task's connection and buffer.
struct Puts {
    s: Arc<Settings>,
    ctx: TaskContext,
    h: Hbase,
    buf: Vec<Pending>,
    buffered: u64,
}

impl Puts {
    fn new(s: Arc<Settings>, ctx: TaskContext) -> Result<Self, PluginError> {
        let h = Hbase::connect(&s.conn)?;
        Ok(Puts {
            s,
            ctx,
            h,
            buf: Vec::new(),
            buffered: 0,
        })
    }

    fn run(mut self, mut input: BatchReceiver) -> Result<(), PluginError> {
        let mut checked = false;
        while let Some(b) = input.recv_blocking() {
            let batch = b.data;
            if !checked {
                // A column index past what the reader sends is the job's mistake, not the rows'.
                if let Some(i) = self.s.max_index().filter(|i| *i >= batch.num_columns()) {
                    return Err(PluginError::new(format!(
                        "the writer reads input column index {i}, but the reader sends {} \
                         column(s) ({})",
                        batch.num_columns(),
                        column_names(&batch).join(", ")
                    )));
                }
                checked = true;
            }
            let writers: Vec<Result<ValueWriter<'_>, String>> =
                batch.columns().iter().map(ValueWriter::new).collect();
            for r in 0..batch.num_rows() {
                match self.row(&batch, &writers, r) {
                    Ok(p) => {
                        self.buffered += p.bytes as u64;
                        self.buf.push(p);
                    }
                    Err(e) => self.dirty(&batch, r, e)?,
                }
                if self.buffered >= self.s.buffer || self.buf.len() >= MAX_ROWS_PER_CALL {
                    self.flush()?;
                }
            }
            self.ctx.check_cancelled()?;
        }
        self.flush()
    }

    fn dirty(&self, batch: &RecordBatch, r: usize, error: String) -> Result<(), PluginError> {
        self.ctx
            .dirty(dirty_row(batch, r, error, Some(self.s.table.clone())))
    }

    /// Row `r` as a put, or why it cannot be one.
    fn row(
        &self,
        batch: &RecordBatch,
        writers: &[Result<ValueWriter<'_>, String>],
        r: usize,
    ) -> Result<Pending, String> {
        let s = &self.s;
        let col = |i: usize| -> Result<(&ArrayRef, &ValueWriter<'_>), String> {
            let a = batch.columns().get(i).ok_or_else(|| {
                format!(
                    "index {i}: the reader sends {} columns",
                    batch.num_columns()
                )
            })?;
            let w = writers[i].as_ref().map_err(Clone::clone)?;
            Ok((a, w))
        };
        let mut key = Vec::new();
        for part in &s.key {
            match part {
                KeyPart::Constant(b) => key.extend_from_slice(b),
                KeyPart::Column(i, ty) => {
                    let (a, w) = col(*i)?;
                    match cell_bytes(a, w, r, *ty, s.encoding)? {
                        Some(b) => key.extend_from_slice(&b),
                        None if s.null_empty => {}
                        None => {
                            return Err(format!(
                                "row key part from column {i} is NULL (nullMode empty lets it add nothing)"
                            ))
                        }
                    }
                }
            }
        }
        if key.is_empty() {
            return Err("the row key is empty".into());
        }
        let mut cells = Vec::with_capacity(s.cells.len());
        let mut bytes = key.len();
        for (i, name, ty) in &s.cells {
            let (a, w) = col(*i)?;
            let value = match cell_bytes(a, w, r, *ty, s.encoding)
                .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(name)))?
            {
                Some(v) => v,
                None if s.null_empty => Vec::new(),
                None => continue,
            };
            bytes += name.len() + value.len() + 16;
            cells.push(Mutation {
                column: name.clone(),
                value,
                wal: s.wal,
            });
        }
        if cells.is_empty() {
            return Err(
                "every written column is NULL: HBase keeps no row without cells (nullMode empty \
                 writes empty values)"
                    .into(),
            );
        }
        let ts = match s.version {
            Version::Server => None,
            Version::Fixed(t) => Some(t),
            Version::Column(i) => {
                let (a, w) = col(i)?;
                Some(timestamp_ms(a, w, r).map_err(|e| format!("versionColumn: {e}"))?)
            }
        };
        Ok(Pending {
            batch: batch.clone(),
            row: r,
            key,
            cells,
            ts,
            bytes,
        })
    }

    /// Sends the buffer: runs of rows with the same timestamp, one call each.
    fn flush(&mut self) -> Result<(), PluginError> {
        let rows = std::mem::take(&mut self.buf);
        self.buffered = 0;
        let mut start = 0;
        while start < rows.len() {
            let ts = rows[start].ts;
            let end = rows[start..]
                .iter()
                .position(|p| p.ts != ts)
                .map_or(rows.len(), |n| start + n);
            self.send(&rows[start..end])?;
            start = end;
        }
        Ok(())
    }

    /// Sends `rows` (one timestamp): again after a lost connection; split in halves when the
    /// gateway refuses, down to the rows it refuses, which become dirty records.
    fn send(&mut self, rows: &[Pending]) -> Result<(), PluginError> {
        let mut lost_since: Option<Instant> = None;
        loop {
            let muts: Vec<(Vec<u8>, Vec<Mutation>)> = rows
                .iter()
                .map(|p| (p.key.clone(), p.cells.clone()))
                .collect();
            match self
                .h
                .mutate_rows(self.s.table.as_bytes(), &muts, rows[0].ts)
            {
                Ok(()) => {
                    let bytes: usize = rows.iter().map(|p| p.bytes).sum();
                    self.ctx
                        .counters
                        .add_written(rows.len() as u64, bytes as u64);
                    return Ok(());
                }
                Err(e) if e.is_retriable() => {
                    let since = *lost_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > RECONNECT_WINDOW {
                        return Err(e.into());
                    }
                    tracing::warn!("{e}; reconnecting to send {} row(s) again", rows.len());
                    std::thread::sleep(Duration::from_millis(500));
                    self.ctx.check_cancelled()?;
                    if let Ok(h) = Hbase::connect(&self.s.conn) {
                        self.h = h;
                    }
                }
                // No row of this call can land: the job fails instead of making each row dirty.
                Err(e) if e.table_level() => return Err(e.into()),
                Err(e) if rows.len() == 1 => {
                    let p = &rows[0];
                    return self.dirty(&p.batch, p.row, datasync_engine::plugin::error_chain(&e));
                }
                Err(_) => {
                    let (a, b) = rows.split_at(rows.len() / 2);
                    self.send(a)?;
                    return self.send(b);
                }
            }
        }
    }
}

/// The bytes of a cell of type `ty` from row `r` of `a` (`None`: NULL).
fn cell_bytes(
    a: &ArrayRef,
    w: &ValueWriter<'_>,
    r: usize,
    ty: HType,
    enc: &'static datasync_db::hbase::Encoding,
) -> Result<Option<Vec<u8>>, String> {
    if a.is_null(r) {
        return Ok(None);
    }
    let mut buf = Vec::new();
    w.write(r, &mut buf, None)?;
    let temporal = matches!(
        a.data_type(),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    );
    if temporal && matches!(ty, HType::Long) {
        // A date or timestamp as a long cell: epoch milliseconds, as DataX writes one.
        let ms = epoch_ms(std::str::from_utf8(&buf).map_err(|e| e.to_string())?)?;
        return Ok(Some(ms.to_be_bytes().to_vec()));
    }
    if ty == HType::Binary {
        return Ok(Some(buf));
    }
    if matches!(ty, HType::Float | HType::Double) {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float32Type, Float64Type};
        match a.data_type() {
            DataType::Float32 => {
                let x = a.as_primitive::<Float32Type>().value(r);
                return encode_float(f64::from(x), true, ty).map(Some);
            }
            DataType::Float64 => {
                let x = a.as_primitive::<Float64Type>().value(r);
                return encode_float(x, false, ty).map(Some);
            }
            _ => {}
        }
    }
    let t = std::str::from_utf8(&buf)
        .map_err(|_| format!("binary data for a {} cell (use type binary)", ty.name()))?;
    encode_cell(t, ty, enc).map(Some)
}

/// `YYYY-MM-DD[ HH:MM:SS[.f]]` (UTC) as epoch milliseconds; a sub-millisecond part is refused.
fn epoch_ms(t: &str) -> Result<i64, String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let dt = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S %3f"))
        .or_else(|_| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| format!("\"{t}\" is not a date-time (yyyy-MM-dd HH:mm:ss[.SSS])"))?
        .and_utc();
    if dt.timestamp_subsec_nanos() % 1_000_000 != 0 {
        return Err(format!(
            "{t} has a part below a millisecond, which an HBase timestamp cannot hold"
        ));
    }
    Ok(dt.timestamp_millis())
}

/// A row's version from its column: integer milliseconds, a date-time (UTC) or such text.
fn timestamp_ms(a: &ArrayRef, w: &ValueWriter<'_>, r: usize) -> Result<i64, String> {
    if a.is_null(r) {
        return Err("NULL where a timestamp is needed".into());
    }
    let mut buf = Vec::new();
    w.write(r, &mut buf, None)?;
    let t = std::str::from_utf8(&buf).map_err(|e| e.to_string())?;
    let ms = match t.parse::<i64>() {
        Ok(ms) => ms,
        Err(_) => epoch_ms(t)?,
    };
    if ms < 0 {
        return Err(format!(
            "{ms} is before 1970 (HBase timestamps are 0 or more)"
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(epoch_ms("1970-01-01 00:00:01.5"), Ok(1500));
        assert_eq!(epoch_ms("2016-03-04 12:32:52 764"), Ok(1_457_094_772_764));
        assert_eq!(epoch_ms("1970-01-02"), Ok(86_400_000));
        assert!(epoch_ms("1970-01-01 00:00:00.0001")
            .unwrap_err()
            .contains("below a millisecond"));
        assert!(epoch_ms("yesterday").is_err());
    }
}
