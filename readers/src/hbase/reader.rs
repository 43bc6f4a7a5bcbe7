//! The reader: splits by region, and a task's scan on a blocking thread.

use super::config::{settings, Column, Raw, Settings, Source};
use datasync_codec::TextBatchBuilder;
use datasync_db::hbase::{
    decode_cell, from_binary_key, to_binary_key, HType, Hbase, HbaseError, Row, Scan,
};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::config::ConfigError;
use datasync_engine::{
    async_trait, DirtyRecord, Params, Plugin, PluginError, Reader, ReaderTask, TaskContext,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// The hbase reader.
#[derive(Debug, Clone)]
pub struct HbaseReader {
    s: Arc<Settings>,
}

/// The hbase reader's `parameter`: the gateway's address, then DataX's keys.
type Layout = (datasync_db::hbase::GatewayKeys, Raw);

impl Plugin for HbaseReader {
    const NAME: &'static str = "hbase";
    const ALIASES: &'static [&'static str] = &["hbase11xreader"];
    const DESCRIPTION: &'static str =
        "HBase tables through the Thrift1 gateway: one task per region, exact Bytes.toBytes cells, every version on request";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (g, raw): Layout = p.parts(&[])?;
        Ok(HbaseReader {
            s: Arc::new(settings(g, raw, p.path)?),
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, &[])
    }

    fn template() -> Value {
        json!({
            "thriftAddress": "${hbase_thrift}",
            "transport": "framed",
            "protocol": "binary",
            "table": "${hbase_table}",
            "encoding": "UTF-8",
            "mode": "normal",
            "column": [
                {"name": "rowkey", "type": "long"},
                {"name": "cf:amount", "type": "string"},
                {"name": "cf:name", "type": "string"}
            ],
            "range": {"startRowkey": "", "endRowkey": "", "isBinaryRowkey": false},
            "scanCacheSize": 256,
            "scanBatchSize": 100
        })
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::{alt, note};
        vec![
            note("thriftAddress", "host:port of the HBase Thrift1 gateway (`hbase thrift start`); DataX's hbaseConfig (ZooKeeper) is not used."),
            note("transport", "framed (default) or buffered, as the gateway runs (-f/--framed)."),
            note("protocol", "binary (default) or compact, as the gateway runs (-c/--compact)."),
            note("table", "The HBase table."),
            note("encoding", "Text encoding of string cells; default UTF-8."),
            note("mode", "normal: one row per HBase row; multiVersionFixedColumn: one row per cell version (rowkey, column, timestamp, value)."),
            note("column", "rowkey, family:qualifier or a constant {\"value\", \"type\"}; types string, boolean, short, int, long, float, double, date (with format), binarystring, binary. A cell that does not decode is a dirty row."),
            note("range", "Row keys to read: startRowkey inclusive, endRowkey exclusive, empty = open; isBinaryRowkey: \\xHH escapes."),
            note("scanCacheSize", "Rows per gateway round trip; default 256."),
            note("scanBatchSize", "Cells per scan result (wide rows come in parts, merged back into one row); default 100."),
            alt("maxVersion", "-1", "multiVersionFixedColumn only: -1 every version, or a number above 1."),
        ]
    }
}

/// One task: a region's part of the range.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Split {
    /// Start row (inclusive), as `\xHH` text.
    start: String,
    /// Stop row (exclusive), as `\xHH` text; empty = open.
    stop: String,
    /// The region's name.
    region: String,
}

impl HbaseReader {
    /// The table's regions, after checking that every read column's family exists (HBase
    /// would return no cell of a misspelled family: NULLs, not an error).
    async fn regions(&self) -> Result<Vec<datasync_db::hbase::Region>, PluginError> {
        let s = self.s.clone();
        let (families, regions) = tokio::task::spawn_blocking(move || -> Result<_, HbaseError> {
            let mut h = Hbase::connect(&s.conn)?;
            let f = h.families(s.table.as_bytes())?;
            Ok((f, h.regions(s.table.as_bytes())?))
        })
        .await
        .map_err(|e| PluginError::new(format!("listing the regions did not finish: {e}")))??;
        for c in &self.s.columns {
            if let Source::Cell(name) = &c.source {
                let family = name.split(|b| *b == b':').next().unwrap_or_default();
                if !families.iter().any(|(f, _)| f == family) {
                    return Err(PluginError::new(format!(
                        "column {}: {} has no column family {} (it has {})",
                        c.name,
                        self.s.table,
                        String::from_utf8_lossy(family),
                        families
                            .iter()
                            .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        Ok(regions)
    }
}

#[async_trait]
impl Reader for HbaseReader {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        vec![datasync_engine::lineage::Dataset::new(
            format!("hbase://{}", self.s.conn.address),
            self.s.table.clone(),
        )]
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let mut p = datasync_engine::Probe::default();
        let what = format!("table {}", self.s.table);
        match self.regions().await {
            Ok(r) => p.ok(
                what,
                format!(
                    "{}: {} region(s), every read column family exists",
                    self.s.conn.address,
                    r.len()
                ),
            ),
            Err(e) => p.problem(what, e.chain()),
        }
        Ok(p)
    }

    async fn split(&self, _channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let regions = self.regions().await?;
        let (start, end) = (&self.s.start, &self.s.end);
        let mut tasks: Vec<Box<dyn ReaderTask>> = Vec::new();
        for r in regions {
            // The region's part of [start, end): empty bounds are open.
            let lo = if start > &r.start { start } else { &r.start };
            let hi = match (end.is_empty(), r.end.is_empty()) {
                (true, _) => &r.end,
                (false, true) => end,
                (false, false) => std::cmp::min(end, &r.end),
            };
            if !hi.is_empty() && lo >= hi {
                continue;
            }
            tasks.push(self.task(Split {
                start: to_binary_key(lo),
                stop: to_binary_key(hi),
                region: r.name,
            }));
        }
        tracing::info!("{}: {} region task(s)", self.s.table, tasks.len());
        Ok(tasks)
    }

    fn task_from_plan(&self, planned: &Value) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |s| self.task(s))
    }
}

impl HbaseReader {
    fn task(&self, split: Split) -> Box<dyn ReaderTask> {
        Box::new(HbaseTask {
            s: self.s.clone(),
            split,
        })
    }
}

struct HbaseTask {
    s: Arc<Settings>,
    split: Split,
}

#[async_trait]
impl ReaderTask for HbaseTask {
    fn describe(&self) -> String {
        format!(
            "{} region {} [{}, {})",
            self.s.table, self.split.region, self.split.start, self.split.stop
        )
    }

    fn planned(&self) -> Option<Value> {
        datasync_engine::plugin::to_plan(&self.split)
    }

    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let s = self.s.clone();
        let split = self.split.clone();
        let location = self.describe();
        tokio::task::spawn_blocking(move || scan(&s, &split, out, &ctx, &location))
            .await
            .map_err(|e| PluginError::new(format!("the HBase scan did not finish: {e}")))?
    }
}

/// A scanner that is closed when dropped, whatever ended the scan.
struct OpenScanner {
    h: Hbase,
    table: Vec<u8>,
    id: Option<i32>,
}

impl OpenScanner {
    fn close(&mut self) -> Result<(), HbaseError> {
        match self.id.take() {
            Some(id) => self.h.scanner_close(&self.table, id),
            None => Ok(()),
        }
    }
}

impl Drop for OpenScanner {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::debug!("closing an HBase scanner after a failed scan: {e}");
        }
    }
}

/// Reads one split into batches.
fn scan(
    s: &Settings,
    split: &Split,
    mut out: BatchSender,
    ctx: &TaskContext,
    location: &str,
) -> Result<(), PluginError> {
    let table = s.table.as_bytes();
    let cells: Vec<Vec<u8>> = s
        .columns
        .iter()
        .filter_map(|c| match &c.source {
            Source::Cell(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let scan = Scan {
        start: from_binary_key(&split.start).map_err(PluginError::new)?,
        stop: from_binary_key(&split.stop).map_err(PluginError::new)?,
        columns: cells,
        caching: s.caching,
        batch: s.batch,
    };
    let mut h = Hbase::connect(&s.conn)?;
    let id = h.scanner_open(table, &scan)?;
    let mut sc = OpenScanner {
        h,
        table: table.to_vec(),
        id: Some(id),
    };
    let mut st = RowBuilder::new(s, ctx);
    let mut pending: Option<Row> = None;
    loop {
        ctx.check_cancelled()?;
        let rows = sc.h.scanner_get_list(table, id, s.caching)?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            // A wide row comes in several results (scanBatchSize): one row again.
            match &mut pending {
                Some(p) if p.key == r.key => p.cells.extend(r.cells),
                _ => {
                    if let Some(done) = pending.replace(r) {
                        st.row(&done, &mut sc.h, s, ctx, location)?;
                    }
                }
            }
        }
        if st.builder.full() {
            st.flush(&mut out, ctx)?;
        }
    }
    if let Some(done) = pending.take() {
        st.row(&done, &mut sc.h, s, ctx, location)?;
    }
    st.flush(&mut out, ctx)?;
    sc.close()?;
    Ok(())
}

/// Output columns and their batch builder.
struct RowBuilder {
    builder: TextBatchBuilder,
    /// multiVersionFixedColumn: the value column's common type, or None (text).
    value_type: Option<HType>,
}

impl RowBuilder {
    fn new(s: &Settings, ctx: &TaskContext) -> Self {
        let fmt = |c: &Column| {
            c.format
                .as_deref()
                .and_then(|f| datasync_codec::DateFormat::parse(f).ok())
        };
        let (fields, value_type) = match s.versions {
            None => (
                s.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.ty.arrow(), fmt(c)))
                    .collect(),
                None,
            ),
            Some(_) => {
                let key = s.columns.iter().find(|c| c.source == Source::RowKey);
                let cells: Vec<&Column> = s
                    .columns
                    .iter()
                    .filter(|c| matches!(c.source, Source::Cell(_)))
                    .collect();
                // One value column: its type when every read column has the same (and format).
                let same = cells
                    .windows(2)
                    .all(|w| w[0].ty == w[1].ty && w[0].format == w[1].format);
                let vt = same.then(|| cells[0]);
                let key = key.map_or(("rowkey".into(), arrow_schema::DataType::Utf8, None), |k| {
                    ("rowkey".into(), k.ty.arrow(), fmt(k))
                });
                (
                    vec![
                        key,
                        ("column".into(), arrow_schema::DataType::Utf8, None),
                        ("timestamp".into(), arrow_schema::DataType::Int64, None),
                        match vt {
                            Some(c) => ("value".into(), c.ty.arrow(), fmt(c)),
                            None => ("value".into(), arrow_schema::DataType::Utf8, None),
                        },
                    ],
                    vt.map(|c| c.ty),
                )
            }
        };
        RowBuilder {
            builder: TextBatchBuilder::new(fields, ctx.batch, false),
            value_type,
        }
    }

    fn flush(&mut self, out: &mut BatchSender, ctx: &TaskContext) -> Result<(), PluginError> {
        if let Some(b) = self.builder.finish()? {
            ctx.counters.add_input_done(b.num_rows() as u64);
            out.send_blocking(Batch::new(b))?;
        }
        Ok(())
    }

    /// Pushes `texts` as one row; a value that does not convert makes it a dirty record.
    fn push(
        &mut self,
        texts: Vec<Result<Option<Vec<u8>>, String>>,
        shown: Vec<Value>,
        ctx: &TaskContext,
        location: &str,
    ) -> Result<(), PluginError> {
        let names = self.builder.names();
        let first_bad = texts.iter().enumerate().find_map(|(i, t)| {
            t.as_ref()
                .err()
                .map(|e| format!("column {}: {e}", names[i]))
        });
        let pushed = match first_bad {
            Some(e) => Err(e),
            None => self.builder.push_row(|i| match &texts[i] {
                Ok(v) => Ok(v.as_deref()),
                Err(e) => Err(e.clone()),
            }),
        };
        if let Err(error) = pushed {
            ctx.dirty(DirtyRecord {
                error,
                columns: names,
                values: shown,
                location: Some(location.to_string()),
            })?;
        }
        Ok(())
    }

    /// The output row(s) of one HBase row.
    fn row(
        &mut self,
        r: &Row,
        h: &mut Hbase,
        s: &Settings,
        ctx: &TaskContext,
        location: &str,
    ) -> Result<(), PluginError> {
        let show = |b: &[u8]| Value::String(to_binary_key(b));
        let decode = |b: &[u8], t: HType| decode_cell(b, t, s.encoding);
        let Some(max) = s.versions else {
            let mut texts = Vec::with_capacity(s.columns.len());
            let mut shown = Vec::with_capacity(s.columns.len());
            for c in &s.columns {
                match &c.source {
                    Source::RowKey => {
                        texts.push(decode(&r.key, c.ty));
                        shown.push(show(&r.key));
                    }
                    Source::Cell(name) => match r.cells.iter().find(|x| &x.column == name) {
                        Some(cell) => {
                            texts.push(decode(&cell.value, c.ty));
                            shown.push(show(&cell.value));
                        }
                        None => {
                            texts.push(Ok(None));
                            shown.push(Value::Null);
                        }
                    },
                    Source::Constant(t) => {
                        texts.push(Ok(Some(t.clone().into_bytes())));
                        shown.push(Value::String(t.clone()));
                    }
                }
            }
            return self.push(texts, shown, ctx, location);
        };
        let key_ty = s
            .columns
            .iter()
            .find(|c| c.source == Source::RowKey)
            .map_or(HType::String, |c| c.ty);
        // Every version of each read column the row has, in column order, newest first.
        let mut wanted: Vec<&Column> = s
            .columns
            .iter()
            .filter(
                |c| matches!(&c.source, Source::Cell(n) if r.cells.iter().any(|x| &x.column == n)),
            )
            .collect();
        wanted.sort_by(|a, b| match (&a.source, &b.source) {
            (Source::Cell(x), Source::Cell(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        for c in wanted {
            let Source::Cell(name) = &c.source else {
                continue;
            };
            for v in h.versions(s.table.as_bytes(), &r.key, name, max)? {
                let value = match self.value_type {
                    Some(_) => decode(&v.value, c.ty),
                    // Mixed types in one column: each value's text (binary as \xHH).
                    None => match c.ty {
                        HType::Binary => Ok(Some(to_binary_key(&v.value).into_bytes())),
                        t => decode(&v.value, t),
                    },
                };
                let texts = vec![
                    decode(&r.key, key_ty),
                    Ok(Some(name.clone())),
                    Ok(Some(v.timestamp.to_string().into_bytes())),
                    value,
                ];
                let shown = vec![
                    show(&r.key),
                    show(name),
                    Value::from(v.timestamp),
                    show(&v.value),
                ];
                self.push(texts, shown, ctx, location)?;
            }
        }
        Ok(())
    }
}
