//! The Parquet writer's tasks: batches converted to the declared Hive types, routed to their
//! partitions, written into staged files (rolled by size), bad rows made dirty.

use super::convert::{convert, BadRows};
use super::file::OpenFile;
use super::writer::{Inner, ParquetWriterError, MAX_OPEN_FILES};
use crate::publish::io;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow_schema::DataType;
use datasync_codec::hive::{partition_dir, HiveType};
use datasync_codec::values::{column_names, dirty_row};
use datasync_codec::ValueWriter;
use datasync_engine::channel::BatchReceiver;
use datasync_engine::plugin::BlockingWriterTask;
use datasync_engine::{run_id, PluginError, TaskContext};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::sync::Arc;

#[derive(Clone)]
pub(super) struct ParquetTask {
    pub(super) w: Arc<Inner>,
    pub(super) task: usize,
}

/// A partition's open file and how many files the task has written there.
struct Part {
    open: Option<OpenFile>,
    seq: usize,
    used: u64,
}

/// The per-task state on the blocking thread.
struct TaskWriter {
    w: Arc<Inner>,
    task: usize,
    prefix: String,
    parts: HashMap<String, Part>,
    tick: u64,
}

impl TaskWriter {
    /// Writes the good rows of `batch` (those not in `bad`) to their partitions: the static
    /// values plus each row's dynamic partition texts, keeping their order within each.
    pub(super) fn write_grouped(
        &mut self,
        batch: &RecordBatch,
        dyn_texts: &[Vec<Option<String>>],
        bad: &BTreeMap<usize, String>,
        keys: &[String],
    ) -> Result<(), ParquetWriterError> {
        let rows = batch.num_rows();
        // Group the good rows by partition, keeping their order within each.
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for r in (0..rows).filter(|r| !bad.contains_key(r)) {
            let mut values: Vec<Option<String>> = self
                .w
                .static_parts
                .iter()
                .map(|(_, v)| Some(v.clone()))
                .collect();
            values.extend(dyn_texts.iter().map(|t| t[r].clone()));
            let rel = partition_dir(keys, &values);
            let g = *index.entry(rel.clone()).or_insert_with(|| {
                groups.push((rel, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(r as u32);
        }
        for (rel, idx) in groups {
            let take = UInt32Array::from(idx);
            let cols = batch
                .columns()
                .iter()
                .map(|c| arrow_select::take::take(c.as_ref(), &take, None))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ParquetWriterError::from)?;
            let sub = RecordBatch::try_new(Arc::clone(&self.w.layout.schema), cols)
                .map_err(ParquetWriterError::from)?;
            self.write(&rel, &sub)?;
        }
        Ok(())
    }

    fn write(&mut self, rel: &str, batch: &RecordBatch) -> Result<(), ParquetWriterError> {
        self.tick += 1;
        let open_count = self.parts.values().filter(|p| p.open.is_some()).count();
        let needs_open = self.parts.get(rel).is_none_or(|p| p.open.is_none());
        if needs_open && open_count >= MAX_OPEN_FILES {
            let lru = self
                .parts
                .iter()
                .filter(|(_, p)| p.open.is_some())
                .min_by_key(|(_, p)| p.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = lru {
                if let Some(f) = self.parts.get_mut(&k).and_then(|p| p.open.take()) {
                    close_file(&self.w, self.task, f)?;
                }
            }
        }
        let part = self.parts.entry(rel.to_string()).or_insert(Part {
            open: None,
            seq: 0,
            used: 0,
        });
        part.used = self.tick;
        if part.open.is_none() {
            let dir = self.w.staging.join(rel);
            crate::publish::create_dirs(&dir)?;
            // A shard attempt names its files (see `datasync_engine::shard::set_attempt`).
            let tag = datasync_engine::shard::attempt()
                .map(|a| format!("{a}_"))
                .unwrap_or_default();
            let path = dir.join(format!(
                "{}{tag}{:04}{}",
                self.prefix,
                part.seq,
                self.w.format.extension()
            ));
            part.seq += 1;
            part.open = Some(OpenFile::create(&path, Arc::clone(&self.w.layout))?);
        }
        if let Some(f) = &mut part.open {
            f.write(batch)?;
            if f.full() {
                if let Some(f) = part.open.take() {
                    close_file(&self.w, self.task, f)?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ParquetWriterError> {
        for p in self.parts.values_mut() {
            if let Some(f) = p.open.take() {
                close_file(&self.w, self.task, f)?;
            }
        }
        Ok(())
    }

    /// Removes files an earlier attempt of this task staged.
    fn clear_earlier_attempt(&self) -> Result<(), ParquetWriterError> {
        fn walk(dir: &Path, prefix: &str) -> Result<(), ParquetWriterError> {
            let rd = match fs::read_dir(dir) {
                Ok(rd) => rd,
                Err(_) => return Ok(()),
            };
            for e in rd.flatten() {
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&path, prefix)?;
                } else if e.file_name().to_string_lossy().starts_with(prefix) {
                    fs::remove_file(&path).map_err(io("cannot remove", &path))?;
                }
            }
            Ok(())
        }
        walk(&self.w.staging, &self.prefix)
    }
}

/// Finishes a file and records its size for task `task` (see `Writer::task_staged`).
fn close_file(w: &Inner, task: usize, f: OpenFile) -> Result<(), ParquetWriterError> {
    let (path, bytes) = f.finish()?;
    let rel = path.strip_prefix(&w.staging).unwrap_or(&path);
    w.sizes.record(task, &rel.display().to_string(), bytes);
    Ok(())
}

/// Text of each row of a partition column, as Hive names the partition.
fn partition_texts(a: &ArrayRef) -> Result<Vec<Option<String>>, String> {
    let w = ValueWriter::new(a)?;
    let mut buf = Vec::new();
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                return Ok(None);
            }
            buf.clear();
            w.write(i, &mut buf, None)?;
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        })
        .collect()
}

/// Retry-safe: files of an earlier attempt are removed from staging first.
impl BlockingWriterTask for ParquetTask {
    fn write_blocking(self, mut input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        let (w, task) = (self.w, self.task);
        let mut tw = TaskWriter {
            prefix: format!("{}__{}_{task:05}_", w.stem, run_id()),
            w: Arc::clone(&w),
            task,
            parts: HashMap::new(),
            tick: 0,
        };
        tw.clear_earlier_attempt()?;
        w.sizes.start(task);
        let want = w.columns.len() + w.dynamic_parts.len();
        let keys = w.partition_keys();
        let static_rel = w.static_rel();
        while let Some(b) = input.recv_blocking() {
            ctx.check_cancelled()?;
            let data = &b.data;
            if data.num_columns() != want {
                return Err(ParquetWriterError::Columns {
                    got: data.num_columns(),
                    names: column_names(data).join(", "),
                    want,
                    declared: w
                        .columns
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .chain(w.dynamic_parts.iter().map(|(n, _)| n.as_str()))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .into());
            }
            let mut bad: BTreeMap<usize, String> = BTreeMap::new();
            let mut convert_col = |i: usize, name: &str, t: &HiveType| {
                let mut b = BadRows::default();
                let out = convert(data.column(i), t, &mut b).map_err(|m| {
                    PluginError::new(ParquetWriterError::Target(format!(
                        "column \"{name}\": {m}"
                    )))
                })?;
                for (row, why) in b.0 {
                    bad.entry(row)
                        .or_insert_with(|| format!("column \"{name}\": {why}"));
                }
                Ok::<_, PluginError>(out)
            };
            let mut cols = Vec::with_capacity(w.columns.len());
            for (i, (name, t)) in w.columns.iter().enumerate() {
                let out = convert_col(i, name, t)?;
                let out: ArrayRef = match out.data_type() {
                    DataType::Timestamp(..) => Arc::new(
                        out.as_primitive::<TimestampMicrosecondType>()
                            .clone()
                            .with_timezone("UTC"),
                    ),
                    _ => out,
                };
                cols.push(out);
            }
            let mut dyn_texts = Vec::with_capacity(w.dynamic_parts.len());
            for (j, (name, t)) in w.dynamic_parts.iter().enumerate() {
                let out = convert_col(w.columns.len() + j, name, t)?;
                dyn_texts.push(partition_texts(&out).map_err(|m| {
                    PluginError::new(ParquetWriterError::Target(format!(
                        "column \"{name}\": {m}"
                    )))
                })?);
            }
            for (row, why) in &bad {
                ctx.dirty(dirty_row(data, *row, why.clone(), None))?;
            }
            let mut batch = RecordBatch::try_new(Arc::clone(&w.layout.schema), cols)
                .map_err(ParquetWriterError::from)?;
            let rows = data.num_rows();
            let good = rows - bad.len();
            if good == 0 {
                continue;
            }
            if dyn_texts.is_empty() {
                if !bad.is_empty() {
                    let keep: BooleanArray =
                        (0..rows).map(|r| Some(!bad.contains_key(&r))).collect();
                    batch = arrow_select::filter::filter_record_batch(&batch, &keep)
                        .map_err(ParquetWriterError::from)?;
                }
                tw.write(&static_rel, &batch)?;
            } else {
                tw.write_grouped(&batch, &dyn_texts, &bad, &keys)?;
            }
            ctx.counters.add_written(
                good as u64,
                (b.bytes as u64 * good as u64) / rows.max(1) as u64,
            );
        }
        tw.finish()?;
        Ok(())
    }
}
