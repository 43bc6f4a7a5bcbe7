//! A Parquet reader task: its row groups read with projection, partition values and
//! constant columns added, types cast exactly to what the job declared.

use super::int96::{first_sub_micro, int96_as_micros, int96_roots, Shared};
use super::reader::{OutColumn, ParquetReader, ParquetReaderError, ParquetSplit};
use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch, StringArray};
use arrow_cast::cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::{async_trait, PluginError, ReaderTask, SizeHint, TaskContext};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;
use std::fs::File;
use std::sync::Arc;

pub(super) struct ParquetTask {
    pub(super) reader: ParquetReader,
    pub(super) split: ParquetSplit,
}

/// One output column resolved against a file's schema.
pub(super) struct Wanted {
    /// Output name.
    pub(super) name: String,
    /// Position in the file's schema, for a file column.
    pub(super) index: Option<usize>,
    /// The text of a partition key or constant (`None`: NULL).
    pub(super) constant: Option<String>,
    /// Type to convert to, if declared.
    pub(super) cast: Option<DataType>,
    /// Whether the value comes from a directory name (for error messages).
    pub(super) from_dir: bool,
}

impl Wanted {
    /// A column of the file.
    pub(super) fn file(name: &str, index: usize, cast: Option<DataType>) -> Self {
        Wanted {
            name: name.to_string(),
            index: Some(index),
            constant: None,
            cast,
            from_dir: false,
        }
    }

    /// A value the same on every row (a partition key, a `value`).
    pub(super) fn constant(
        name: &str,
        value: Option<String>,
        cast: DataType,
        from_dir: bool,
    ) -> Self {
        Wanted {
            name: name.to_string(),
            index: None,
            constant: value,
            cast: Some(cast),
            from_dir,
        }
    }
}

/// Where each output column comes from, resolved against one file's schema.
pub(super) enum Source {
    /// Position in the projected batch.
    Projected(usize),
    /// A constant array value (partition key or `value`), converted once per batch length.
    Constant(Option<String>),
}

impl ParquetTask {
    pub(super) fn schema_error(&self, message: String) -> ParquetReaderError {
        ParquetReaderError::Schema {
            path: self.split.path.clone(),
            message,
        }
    }

    pub(super) fn read_blocking(
        &self,
        out: BatchSender,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        let path = &self.split.path;
        if let Some(size) = self.split.size {
            let obj = self
                .reader
                .buckets
                .open(path, size, self.split.version.as_deref())?;
            return match self.reader.orc {
                true => self.read_orc(obj, out, ctx),
                false => self.read_from(obj, out, ctx),
            };
        }
        let file = File::open(path).map_err(|source| ParquetReaderError::Io {
            path: path.clone(),
            source,
        })?;
        match self.reader.orc {
            true => self.read_orc(file, out, ctx),
            false => self.read_from(file, out, ctx),
        }
    }

    /// Reads the split's row groups from `file` (a local file or an S3 object).
    fn read_from<T: ChunkReader + 'static>(
        &self,
        file: T,
        out: BatchSender,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        let path = &self.split.path;
        let perr = |source| ParquetReaderError::Parquet {
            path: path.clone(),
            source,
        };
        let file = Shared(Arc::new(file));
        let plain = ArrowReaderMetadata::load(&file, Default::default()).map_err(perr)?;
        let meta = int96_as_micros(plain.clone()).map_err(perr)?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file.clone(), meta);
        let file_schema = Arc::clone(builder.schema());
        let wanted = self.wanted(&file_schema)?;
        let roots = projected(&wanted);
        // Project only the file columns asked for; the decoder returns them in file order.
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let batch_rows = ctx.batch.rows.max(1);
        let reader = builder
            .with_projection(mask)
            .with_row_groups(self.split.row_groups.clone())
            .with_batch_size(batch_rows)
            .build()
            .map_err(perr)?;
        let batches = reader.map(|b| b.map_err(|e| perr(e.into())));
        let int96: Vec<usize> = int96_roots(&plain)
            .into_iter()
            .filter(|r| roots.contains(r))
            .collect();
        if int96.is_empty() {
            return self.emit(&file_schema, &wanted, &roots, batches, out, ctx);
        }
        // The INT96 columns again as nanoseconds, batch for batch, to find digits the
        // microseconds dropped (see the int96 module).
        let mask = ProjectionMask::roots(
            plain.metadata().file_metadata().schema_descr(),
            int96.iter().copied(),
        );
        let nanos = ParquetRecordBatchReaderBuilder::new_with_metadata(file, plain)
            .with_projection(mask)
            .with_row_groups(self.split.row_groups.clone())
            .with_batch_size(batch_rows)
            .build()
            .map_err(perr)?;
        let at: Vec<usize> = int96
            .iter()
            .filter_map(|r| roots.binary_search(r).ok())
            .collect();
        let names: Vec<String> = roots
            .iter()
            .map(|&r| file_schema.field(r).name().clone())
            .collect();
        let mut row = 0usize;
        let checked = batches.zip(nanos).map(move |(b, ns)| {
            let b = b?;
            let ns = ns.map_err(|e| perr(e.into()))?;
            if let Some((c, r, n)) = first_sub_micro(&b, &at, &ns) {
                return Err(self.schema_error(format!(
                    "column \"{}\" (INT96), row {}: the timestamp has {n} nanosecond(s) past its \
                     microseconds, which datasync does not carry (it would be cut)",
                    names[c],
                    row + r + 1
                )));
            }
            row += b.num_rows();
            Ok(b)
        });
        self.emit(&file_schema, &wanted, &roots, checked, out, ctx)
    }

    /// Reads an ORC file (hdfsreader `fileType: "orc"`) from `file`.
    fn read_orc<T: datasync_db::orc::orc_rust::reader::ChunkReader>(
        &self,
        file: T,
        out: BatchSender,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        use datasync_db::orc::{from_orc, orc_rust, schema_from_orc};
        let path = &self.split.path;
        let oerr = |message: String| ParquetReaderError::Orc {
            path: path.clone(),
            message,
        };
        let builder = datasync_db::orc::reader(file).map_err(|e| oerr(e.to_string()))?;
        let file_schema = schema_from_orc(&builder.schema()).map_err(oerr)?;
        let wanted = self.wanted(&file_schema)?;
        let roots = projected(&wanted);
        let names: Vec<&str> = roots
            .iter()
            .map(|i| file_schema.field(*i).name().as_str())
            .collect();
        let mask = orc_rust::projection::ProjectionMask::named_roots(
            builder.file_metadata().root_data_type(),
            &names,
        );
        let reader = builder
            .with_projection(mask)
            .with_batch_size(ctx.batch.rows.max(1))
            .build();
        let batches = reader.map(|b| {
            b.map_err(|e| e.to_string())
                .and_then(|b| from_orc(&b))
                .map_err(oerr)
        });
        self.emit(&file_schema, &wanted, &roots, batches, out, ctx)
    }

    /// Turns decoded batches (the `roots` file columns, in file order) into the job's columns:
    /// partition values and constants added, types cast exactly to what the job declared.
    fn emit(
        &self,
        file_schema: &Schema,
        wanted: &[Wanted],
        roots: &[usize],
        batches: impl Iterator<Item = Result<RecordBatch, ParquetReaderError>>,
        mut out: BatchSender,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        let sources: Vec<Source> = wanted
            .iter()
            .map(|w| match w.index {
                Some(i) => Source::Projected(roots.binary_search(&i).unwrap_or_default()),
                None => Source::Constant(w.constant.clone()),
            })
            .collect();
        let mut fields = Vec::with_capacity(wanted.len());
        for (w, _) in wanted.iter().zip(&sources) {
            let t = match (&w.cast, w.index) {
                // DataX's `date` is a date-time: on a timestamp column it keeps the time of
                // day (as the file reader's `date` does) rather than being cut to a day.
                (Some(DataType::Date32), Some(i))
                    if matches!(file_schema.field(i).data_type(), DataType::Timestamp(..)) =>
                {
                    match file_schema.field(i).data_type() {
                        DataType::Timestamp(unit, _) => DataType::Timestamp(*unit, None),
                        t => t.clone(),
                    }
                }
                (Some(t), _) => t.clone(),
                (None, Some(i)) => match file_schema.field(i).data_type() {
                    DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, None),
                    t => t.clone(),
                },
                (None, None) => DataType::Utf8,
            };
            fields.push(Field::new(&w.name, t, true));
        }
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        let mut done = 0usize;
        for batch in batches {
            ctx.check_cancelled()?;
            let batch = batch?;
            let n = batch.num_rows();
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(sources.len());
            for ((src, field), w) in sources.iter().zip(schema.fields()).zip(wanted) {
                let col = match src {
                    Source::Projected(i) => utc_wall_clock(batch.column(*i)),
                    Source::Constant(None) => new_null_array(field.data_type(), n),
                    Source::Constant(Some(v)) => Arc::new(StringArray::from(vec![v.as_str(); n])),
                };
                let col = if col.data_type() == field.data_type() {
                    col
                } else {
                    exact_cast(&col, field.data_type(), &strict, done).map_err(|e| {
                        self.schema_error(format!(
                            "column \"{}\"{}: cannot convert to {}: {e}",
                            w.name,
                            if w.from_dir {
                                " (from the directory name)"
                            } else {
                                ""
                            },
                            datasync_codec::types::type_name(field.data_type())
                        ))
                    })?
                };
                cols.push(col);
            }
            let out_batch = RecordBatch::try_new(Arc::clone(&schema), cols)
                .map_err(|e| self.schema_error(e.to_string()))?;
            ctx.counters.add_input_done(n as u64);
            out.send_blocking(Batch::new(out_batch))?;
            done += n;
        }
        Ok(())
    }

    /// The output columns, in the order the job asks for them: file columns (by name, index
    /// or `*`), partition values from the directory names, constants.
    fn wanted(&self, file_schema: &Schema) -> Result<Vec<Wanted>, ParquetReaderError> {
        let parts = &self.split.partitions;
        // The output columns, in the order asked for.
        let mut wanted: Vec<Wanted> = Vec::new();
        for (col, ty) in self.reader.columns.iter() {
            match col {
                OutColumn::All => {
                    for (i, f) in file_schema.fields().iter().enumerate() {
                        wanted.push(Wanted::file(f.name(), i, None));
                    }
                    for (k, v) in parts {
                        wanted.push(Wanted::constant(k, v.clone(), DataType::Utf8, true));
                    }
                }
                OutColumn::Name(n) => {
                    if let Some((i, f)) = file_schema
                        .fields()
                        .iter()
                        .enumerate()
                        .find(|(_, f)| f.name() == n)
                    {
                        wanted.push(Wanted::file(f.name(), i, ty.clone()));
                    } else if let Some((_, v)) = parts.iter().find(|(k, _)| k == n) {
                        let t = ty.clone().unwrap_or(DataType::Utf8);
                        wanted.push(Wanted::constant(n, v.clone(), t, true));
                    } else {
                        let names: Vec<&str> = file_schema
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect();
                        let keys: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
                        return Err(self.schema_error(format!(
                            "no column \"{n}\" (file columns: {}; partition keys: {})",
                            names.join(", "),
                            if keys.is_empty() {
                                "none".into()
                            } else {
                                keys.join(", ")
                            }
                        )));
                    }
                }
                OutColumn::Index(i) => {
                    let f = file_schema.fields().get(*i).ok_or_else(|| {
                        self.schema_error(format!(
                            "column index {i} is out of range: the file has {} columns",
                            file_schema.fields().len()
                        ))
                    })?;
                    wanted.push(Wanted::file(f.name(), *i, ty.clone()));
                }
                OutColumn::Value(v, t) => {
                    let name = format!("value_{}", wanted.len());
                    wanted.push(Wanted::constant(&name, Some(v.clone()), t.clone(), false));
                }
            }
        }
        Ok(wanted)
    }
}

/// `col` cast to `to`, refusing a cast that changes a value: a fraction into an integer, a
/// timestamp's time of day into a date or its digits below the new unit, a decimal's scale cut,
/// an integer beyond a double's 53 bits, a double out of a float's range. Each converted
/// value must convert back to itself (text is parsed by the text codecs' exact rules instead;
/// anything into text keeps it; a double's digits past a float's precision are the one
/// rounding let through). `first_row`: how many rows of the task came
/// before `col`, for the error.
fn exact_cast(
    col: &ArrayRef,
    to: &DataType,
    strict: &CastOptions,
    first_row: usize,
) -> Result<ArrayRef, String> {
    let from = col.data_type();
    let text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    if text(from) && datasync_codec::parses_text_into(to) {
        // Text (a string column, a partition value, a constant) parses as the text codecs
        // parse it: exactly, or not at all.
        use arrow_array::cast::AsArray;
        let utf8 = cast_with_options(col, &DataType::Utf8, strict).map_err(|e| e.to_string())?;
        let strings = utf8.as_string::<i32>();
        return datasync_codec::parse_text_column(strings, to).map_err(|(i, e)| {
            format!(
                "row {} of this task: \"{}\": {e}",
                first_row + i + 1,
                strings.value(i)
            )
        });
    }
    let out = cast_with_options(col, to, strict).map_err(|e| e.to_string())?;
    if text(from) || text(to) {
        return Ok(out);
    }
    let changed: Option<usize> = if matches!((from, to), (DataType::Float64, DataType::Float32)) {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float32Type, Float64Type};
        let (a, b) = (
            col.as_primitive::<Float64Type>(),
            out.as_primitive::<Float32Type>(),
        );
        (0..a.len()).find(|&i| {
            let (x, y) = (a.value(i), b.value(i));
            a.is_valid(i) && ((x.is_finite() && !y.is_finite()) || (x != 0.0 && y == 0.0))
        })
    } else {
        let back = match cast_with_options(&out, from, strict) {
            Ok(b) => b,
            // No way back to compare by (e.g. a list into a string was handled above).
            Err(_) => return Ok(out),
        };
        if back.to_data() == col.to_data() {
            None
        } else {
            (0..col.len()).find(|&i| back.slice(i, 1).to_data() != col.slice(i, 1).to_data())
        }
    };
    match changed {
        None => Ok(out),
        Some(i) => {
            let show = |a: &ArrayRef| {
                arrow_cast::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
                    .map(|f| f.value(i).to_string())
                    .unwrap_or_else(|_| "?".into())
            };
            Err(format!(
                "row {} of this task: {} would become {} (declare a type that holds it)",
                first_row + i + 1,
                show(col),
                show(&out)
            ))
        }
    }
}

/// The file columns `wanted` reads, by position, sorted and unique (the decoders return
/// projected columns in file order).
fn projected(wanted: &[Wanted]) -> Vec<usize> {
    let mut roots: Vec<usize> = wanted.iter().filter_map(|w| w.index).collect();
    roots.sort_unstable();
    roots.dedup();
    roots
}

/// Zoned timestamps (Parquet's UTC-adjusted ones) become UTC wall-clock timestamps without a
/// zone, as the SQL readers deliver `timestamptz`: the values are kept, the zone dropped.
pub(super) fn utc_wall_clock(a: &ArrayRef) -> ArrayRef {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        ArrowTimestampType, TimestampMicrosecondType, TimestampMillisecondType,
        TimestampNanosecondType, TimestampSecondType,
    };
    use arrow_schema::TimeUnit;
    fn zoneless<T: ArrowTimestampType>(a: &ArrayRef) -> ArrayRef {
        Arc::new(
            a.as_primitive::<T>()
                .clone()
                .with_timezone_opt(None::<String>),
        )
    }
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, Some(_)) => zoneless::<TimestampSecondType>(a),
        DataType::Timestamp(TimeUnit::Millisecond, Some(_)) => {
            zoneless::<TimestampMillisecondType>(a)
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {
            zoneless::<TimestampMicrosecondType>(a)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, Some(_)) => {
            zoneless::<TimestampNanosecondType>(a)
        }
        _ => Arc::clone(a),
    }
}

#[async_trait]
impl ReaderTask for ParquetTask {
    fn planned(&self) -> Option<serde_json::Value> {
        datasync_engine::plugin::to_plan(&self.split)
    }

    fn input_fingerprint(&self) -> Option<String> {
        match (self.split.size, &self.split.version) {
            // An S3 object as listed when the run split its input (a resumed run lists again).
            (Some(size), Some(v)) => Some(format!("{size}:{v}")),
            _ => crate::paths::file_fingerprint(&self.split.path),
        }
    }

    fn describe(&self) -> String {
        if self.reader.orc {
            return format!("orc {}", self.split.path.display());
        }
        format!(
            "parquet {} (row groups {})",
            self.split.path.display(),
            match self.split.row_groups.as_slice() {
                [] => "none".to_string(),
                [one] => one.to_string(),
                [first, .., last] => format!("{first}-{last}"),
            }
        )
    }

    fn size_hint(&self) -> Option<SizeHint> {
        Some(SizeHint::Records(self.split.rows))
    }

    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let task = ParquetTask {
            reader: self.reader.clone(),
            split: self.split.clone(),
        };
        datasync_engine::plugin::blocking(move || task.read_blocking(out, ctx)).await
    }
}
