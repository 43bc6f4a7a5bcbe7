//! `stream` reader (DataX `streamreader`): generates rows from constants and generators
//! (`random` within bounds, `incr` sequences), repeatable with `seed`. With `channel` N the job
//! yields N x `sliceRecordCount` rows, as in DataX. Used for demos, tests and benchmarks.

use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datasync_codec::types::{parse_type, type_name};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::config::{lenient_u64, ConfigError};
use datasync_engine::{
    async_trait, Params, Plugin, PluginError, Reader, ReaderTask, SizeHint, TaskContext,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// `parameter` of the stream reader.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StreamReaderConfig {
    /// Columns: `{type, value}` constants, `{type, random: "lo,hi"}` or `{type, incr: "start,step"}`.
    pub column: Vec<StreamColumnSpec>,
    /// Rows per task.
    #[serde(deserialize_with = "lenient_u64")]
    #[schemars(with = "datasync_engine::schema::Lenient<u64>")]
    pub slice_record_count: u64,
    /// Seed for `random` columns; task i uses seed + i. Unset: a new seed each run.
    pub seed: Option<u64>,
}

/// One generated column.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StreamColumnSpec {
    /// Type: DataX (`long`, `double`, `string`, `date`, `bool`, `bytes`) or Arrow
    /// (`int64`, `decimal(12,2)`, `timestamp`, `date32`...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Column name (default `c0`, `c1`...).
    pub name: Option<String>,
    /// A constant; `null` for NULL.
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
    /// `"lo,hi"`: numbers in [lo, hi]; string/bytes length in [lo, hi]; dates between two
    /// date-times; bool: DataX's false:true ratio.
    pub random: Option<String>,
    /// `"start,step"` (step default 1): a sequence for long/double columns.
    pub incr: Option<String>,
    /// Pattern of date constants and bounds (default `yyyy-MM-dd HH:mm:ss`).
    pub date_format: Option<String>,
}

/// Keeps an explicit `null` as `Some(Value::Null)`; only an absent key is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Debug, Clone)]
enum Gen {
    Const(Option<String>),
    RandomInt(i128, i128),
    RandomFloat(f64, f64),
    RandomLen(usize, usize),
    RandomBool { falses: u64, trues: u64 },
    Incr(f64, f64),
    IncrInt(i64, i64),
}

#[derive(Debug, Clone)]
struct Column {
    field: Field,
    gen: Gen,
}

/// The stream reader.
#[derive(Debug, Clone)]
pub struct StreamReader {
    columns: Arc<Vec<Column>>,
    schema: SchemaRef,
    rows: u64,
    seed: u64,
}

const SUPPORTED: &str = "long, double, string, bytes, bool, date (timestamp), date32, decimal(p,s)";

fn split_pair(s: &str) -> Option<(&str, &str)> {
    let (a, b) = s.split_once(',')?;
    Some((a.trim(), b.trim()))
}

fn parse_dt(fmt: &str, s: &str) -> Option<i64> {
    let f = datasync_codec::DateFormat::parse(fmt).ok()?;
    let dt = f.parse_datetime(s)?;
    Some(dt.and_utc().timestamp_micros())
}

impl StreamColumnSpec {
    fn compile(&self, i: usize, at: &str) -> Result<Column, ConfigError> {
        let ty = parse_type(&self.ty).map_err(|e| ConfigError::new(format!("{at}.type"), e))?;
        let name = self.name.clone().unwrap_or_else(|| format!("c{i}"));
        let date_fmt = self.date_format.as_deref().unwrap_or("yyyy-MM-dd HH:mm:ss");
        let bad = |key: &str, what: &str| ConfigError::new(format!("{at}.{key}"), what.to_string());
        let given = [
            self.value.is_some(),
            self.random.is_some(),
            self.incr.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ConfigError::new(
                at.to_string(),
                "give exactly one of \"value\", \"random\" or \"incr\"",
            ));
        }
        let gen = if let Some(v) = &self.value {
            let text = match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            if let Some(t) = &text {
                check_const(&ty, t, date_fmt).map_err(|e| bad("value", &e))?;
            }
            Gen::Const(text)
        } else if let Some(r) = &self.random {
            let (lo, hi) = split_pair(r).ok_or_else(|| bad("random", "expected \"lo,hi\""))?;
            random_gen(&ty, lo, hi, date_fmt).map_err(|(key, m)| bad(key, &m))?
        } else {
            let spec = self.incr.as_deref().unwrap_or_default();
            let (start, step) = split_pair(spec).unwrap_or((spec.trim(), "1"));
            match &ty {
                DataType::Int64 => match (start.parse::<i64>(), step.parse::<i64>()) {
                    (Ok(a), Ok(b)) => Gen::IncrInt(a, b),
                    _ => return Err(bad("incr", "expected \"start,step\" integers")),
                },
                DataType::Float64 => match (start.parse::<f64>(), step.parse::<f64>()) {
                    (Ok(a), Ok(b)) => Gen::Incr(a, b),
                    _ => return Err(bad("incr", "expected \"start,step\" numbers")),
                },
                _ => return Err(bad("incr", "incr is supported for long and double columns")),
            }
        };
        match &ty {
            DataType::Int64
            | DataType::Float64
            | DataType::Utf8
            | DataType::Binary
            | DataType::Boolean
            | DataType::Timestamp(TimeUnit::Microsecond, None)
            | DataType::Date32
            | DataType::Decimal128(..) => {}
            other => {
                return Err(bad(
                    "type",
                    &format!(
                        "{} is not supported by stream; supported: {SUPPORTED}",
                        type_name(other)
                    ),
                ))
            }
        }
        Ok(Column {
            field: Field::new(name, ty, true),
            gen,
        })
    }
}

/// The generator of a `random: "lo,hi"` column of type `ty`; an error names the key at fault.
fn random_gen(
    ty: &DataType,
    lo: &str,
    hi: &str,
    date_fmt: &str,
) -> Result<Gen, (&'static str, String)> {
    let range = "expected \"lo,hi\" with lo <= hi";
    let gen = match ty {
        DataType::Int64 => {
            let (a, b) = (lo.parse::<i64>(), hi.parse::<i64>());
            match (a, b) {
                (Ok(a), Ok(b)) if a <= b => Gen::RandomInt(a.into(), b.into()),
                _ => return Err(("random", range.to_string())),
            }
        }
        DataType::Decimal128(_, s) => {
            let scale = 10f64.powi(i32::from(*s));
            match (lo.parse::<f64>(), hi.parse::<f64>()) {
                (Ok(a), Ok(b)) if a <= b => {
                    Gen::RandomInt((a * scale).round() as i128, (b * scale).round() as i128)
                }
                _ => return Err(("random", range.to_string())),
            }
        }
        DataType::Float64 => match (lo.parse::<f64>(), hi.parse::<f64>()) {
            (Ok(a), Ok(b)) if a <= b => Gen::RandomFloat(a, b),
            _ => return Err(("random", range.to_string())),
        },
        DataType::Utf8 | DataType::Binary => match (lo.parse::<usize>(), hi.parse::<usize>()) {
            (Ok(a), Ok(b)) if a <= b => Gen::RandomLen(a, b),
            _ => return Err(("random", "expected \"minLength,maxLength\"".to_string())),
        },
        DataType::Boolean => match (lo.parse::<u64>(), hi.parse::<u64>()) {
            (Ok(a), Ok(b)) => Gen::RandomBool {
                falses: a,
                trues: b,
            },
            _ => return Err(("random", "expected \"falses,trues\" weights".to_string())),
        },
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            match (parse_dt(date_fmt, lo), parse_dt(date_fmt, hi)) {
                (Some(a), Some(b)) if a <= b => Gen::RandomInt(a.into(), b.into()),
                _ => {
                    return Err((
                        "random",
                        format!("expected two date-times in {date_fmt}, earliest first"),
                    ))
                }
            }
        }
        DataType::Date32 => match (parse_dt("yyyy-MM-dd", lo), parse_dt("yyyy-MM-dd", hi)) {
            (Some(a), Some(b)) if a <= b => {
                Gen::RandomInt((a / 86_400_000_000).into(), (b / 86_400_000_000).into())
            }
            _ => {
                return Err((
                    "random",
                    "expected two dates yyyy-MM-dd, earliest first".to_string(),
                ))
            }
        },
        _ => {
            return Err((
                "type",
                format!(
                    "random is not supported for {}; supported: {SUPPORTED}",
                    type_name(ty)
                ),
            ))
        }
    };
    Ok(gen)
}

fn check_const(ty: &DataType, text: &str, date_fmt: &str) -> Result<(), String> {
    const_array(ty, Some(text), 1, date_fmt).map(|_| ())
}

/// A column of `n` copies of a constant.
fn const_array(
    ty: &DataType,
    text: Option<&str>,
    n: usize,
    date_fmt: &str,
) -> Result<ArrayRef, String> {
    let Some(t) = text else {
        return Ok(arrow_array::new_null_array(ty, n));
    };
    let bad = || format!("\"{t}\" is not a valid {}", type_name(ty));
    Ok(match ty {
        DataType::Int64 => Arc::new(Int64Array::from_value(
            t.trim().parse().map_err(|_| bad())?,
            n,
        )),
        DataType::Float64 => Arc::new(Float64Array::from_value(
            t.trim().parse().map_err(|_| bad())?,
            n,
        )),
        DataType::Boolean => {
            let b = if t.eq_ignore_ascii_case("true") {
                true
            } else if t.eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(bad());
            };
            Arc::new(BooleanArray::from(vec![b; n]))
        }
        DataType::Utf8 => Arc::new(arrow_array::StringArray::from_iter_values(
            std::iter::repeat_n(t, n),
        )),
        DataType::Binary => Arc::new(arrow_array::BinaryArray::from_iter_values(
            std::iter::repeat_n(t.as_bytes(), n),
        )),
        DataType::Timestamp(TimeUnit::Microsecond, None) => Arc::new(
            TimestampMicrosecondArray::from_value(parse_dt(date_fmt, t).ok_or_else(bad)?, n),
        ),
        DataType::Date32 => {
            let micros = parse_dt("yyyy-MM-dd", t).ok_or_else(bad)?;
            Arc::new(Date32Array::from_value((micros / 86_400_000_000) as i32, n))
        }
        DataType::Decimal128(p, s) => {
            let d: arrow_array::Decimal128Array = arrow_cast::cast(
                &(Arc::new(arrow_array::StringArray::from(vec![t])) as ArrayRef),
                &DataType::Decimal128(*p, *s),
            )
            .map_err(|_| bad())?
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .cloned()
            .ok_or_else(bad)?;
            if d.is_null(0) {
                return Err(bad());
            }
            Arc::new(
                Decimal128Array::from_value(d.value(0), n)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
            )
        }
        other => return Err(format!("{} constants are not supported", type_name(other))),
    })
}

use arrow_array::Array;

impl Plugin for StreamReader {
    const NAME: &'static str = "stream";
    const ALIASES: &'static [&'static str] = &["streamreader"];
    const DESCRIPTION: &'static str =
        "generated rows: constants, random values, sequences (demos, tests, benchmarks)";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (cfg,): (StreamReaderConfig,) = p.parts(&[])?;
        if cfg.column.is_empty() {
            return Err(ConfigError::new(
                format!("{}.column", p.path),
                "must list at least one column",
            ));
        }
        let columns = cfg
            .column
            .iter()
            .enumerate()
            .map(|(i, c)| c.compile(i, &format!("{}.column[{i}]", p.path)))
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
        ));
        let seed = cfg.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(42)
        });
        Ok(StreamReader {
            columns: Arc::new(columns),
            schema,
            rows: cfg.slice_record_count,
            seed,
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<(StreamReaderConfig,)>(g, &[])
    }

    fn template() -> Value {
        json!({
            "column": [
                {"name": "id", "type": "long", "incr": "1,1"},
                {"name": "amount", "type": "decimal(12,2)", "random": "0,99999"},
                {"name": "name", "type": "string", "random": "8,20"},
                {"name": "created", "type": "date", "random": "2024-01-01 00:00:00,2024-12-31 23:59:59"},
                {"name": "flag", "type": "bool", "value": "true"}
            ],
            "sliceRecordCount": "${rows}",
            "seed": 7
        })
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        vec![
            note("column", "Generated columns: {name, type, value} constants, {random: \"min,max\"} random values or lengths, {incr: \"start,step\"} sequences. Types: long double string date bool bytes decimal(p,s)."),
            note("sliceRecordCount", "Rows each channel generates."),
            note("seed", "Seed of the random values (the same seed gives the same rows); default random."),
        ]
    }
}

#[async_trait]
impl Reader for StreamReader {
    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        Ok(datasync_engine::Probe::only_ok(
            "source",
            "generated rows: nothing to connect to",
        ))
    }

    async fn split(&self, channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        Ok((0..channels.max(1) as u64).map(|i| self.task(i)).collect())
    }

    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |i| self.task(i))
    }
}

impl StreamReader {
    fn task(&self, index: u64) -> Box<dyn ReaderTask> {
        Box::new(StreamTask {
            reader: self.clone(),
            index,
        })
    }
}

struct StreamTask {
    reader: StreamReader,
    index: u64,
}

/// SplitMix64: tiny, fast, good enough for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: i128, hi: i128) -> i128 {
        let span = (hi - lo + 1) as u128;
        lo + ((u128::from(self.next()) * span) >> 64) as i128
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_text(rng: &mut Rng, len: usize, buf: &mut Vec<u8>) {
    buf.clear();
    while buf.len() < len {
        let mut r = rng.next();
        for _ in 0..10.min(len - buf.len()) {
            buf.push(ALNUM[(((r & 63) * 62) >> 6) as usize]);
            r >>= 6;
        }
    }
}

impl StreamTask {
    fn build(
        &self,
        rng: &mut Rng,
        start_row: u64,
        n: usize,
        consts: &[Option<ArrayRef>],
    ) -> Result<RecordBatch, PluginError> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.reader.columns.len());
        let mut text = Vec::new();
        for (col, cached) in self.reader.columns.iter().zip(consts) {
            let ty = col.field.data_type();
            let a: ArrayRef = match (&col.gen, cached) {
                (_, Some(c)) => c.slice(0, n),
                (Gen::IncrInt(a, s), _) => Arc::new(Int64Array::from_iter_values(
                    (0..n as i64).map(|i| a.wrapping_add(s.wrapping_mul(start_row as i64 + i))),
                )),
                (Gen::Incr(a, s), _) => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| a + s * (start_row + i as u64) as f64),
                )),
                (Gen::RandomFloat(lo, hi), _) => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| lo + (hi - lo) * rng.unit()),
                )),
                (Gen::RandomInt(lo, hi), _) => {
                    let vals = (0..n).map(|_| rng.range(*lo, *hi));
                    match ty {
                        DataType::Int64 => {
                            Arc::new(Int64Array::from_iter_values(vals.map(|v| v as i64)))
                        }
                        DataType::Timestamp(..) => Arc::new(
                            TimestampMicrosecondArray::from_iter_values(vals.map(|v| v as i64)),
                        ),
                        DataType::Date32 => {
                            Arc::new(Date32Array::from_iter_values(vals.map(|v| v as i32)))
                        }
                        DataType::Decimal128(p, s) => Arc::new(
                            Decimal128Array::from_iter_values(vals)
                                .with_precision_and_scale(*p, *s)
                                .map_err(PluginError::new)?,
                        ),
                        _ => unreachable!("random ints are compiled only for these types"),
                    }
                }
                (Gen::RandomBool { falses, trues }, _) => {
                    Arc::new(BooleanArray::from_iter((0..n).map(|_| {
                        Some(match (falses, trues) {
                            (0, _) => true,
                            (_, 0) => false,
                            (f, t) => rng.range(0, i128::from(f + t)) > i128::from(*f),
                        })
                    })))
                }
                (Gen::RandomLen(lo, hi), _) => {
                    if *ty == DataType::Utf8 {
                        let mut b = StringBuilder::with_capacity(n, n * (lo + hi) / 2 + 1);
                        for _ in 0..n {
                            let len = rng.range(*lo as i128, *hi as i128) as usize;
                            random_text(rng, len, &mut text);
                            b.append_value(std::str::from_utf8(&text).unwrap_or_default());
                        }
                        Arc::new(b.finish())
                    } else {
                        let mut b = BinaryBuilder::with_capacity(n, n * (lo + hi) / 2 + 1);
                        for _ in 0..n {
                            let len = rng.range(*lo as i128, *hi as i128) as usize;
                            random_text(rng, len, &mut text);
                            b.append_value(&text);
                        }
                        Arc::new(b.finish())
                    }
                }
                (Gen::Const(_), None) => unreachable!("constants are cached"),
            };
            arrays.push(a);
        }
        RecordBatch::try_new(self.reader.schema.clone(), arrays).map_err(PluginError::new)
    }
}

#[async_trait]
impl ReaderTask for StreamTask {
    fn planned(&self) -> Option<serde_json::Value> {
        datasync_engine::plugin::to_plan(&self.index)
    }

    fn describe(&self) -> String {
        format!("stream slice {} ({} rows)", self.index, self.reader.rows)
    }

    fn size_hint(&self) -> Option<SizeHint> {
        Some(SizeHint::Records(self.reader.rows))
    }

    async fn read(&mut self, mut out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let rows_per_batch = ctx.batch.rows.max(1);
        let mut rng = Rng(self
            .reader
            .seed
            .wrapping_add(self.index.wrapping_mul(0x9E37_79B9)));
        let consts = self
            .reader
            .columns
            .iter()
            .map(|c| match &c.gen {
                Gen::Const(v) => const_array(
                    c.field.data_type(),
                    v.as_deref(),
                    rows_per_batch,
                    "yyyy-MM-dd HH:mm:ss",
                )
                .map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(PluginError::new)?;
        let mut done = 0u64;
        while done < self.reader.rows {
            ctx.check_cancelled()?;
            let n = (self.reader.rows - done).min(rows_per_batch as u64) as usize;
            let batch = self.build(&mut rng, done, n, &consts)?;
            out.send(Batch::new(batch)).await?;
            ctx.counters.add_input_done(n as u64);
            done += n as u64;
        }
        Ok(())
    }
}
