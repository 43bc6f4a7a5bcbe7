//! The figures of one side, taken batch by batch.

use super::canon::{big_text, row_hashes, Canon, Column, Dec, Number};
use super::{find_column, RuleKind, Tolerance};
use arrow_array::RecordBatch;
use arrow_buffer::i256;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A running sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) enum Sum {
    /// No value yet.
    #[default]
    Empty,
    /// Exact: `unscaled / 10^scale`.
    Exact(i128, u8),
    /// Exact, past 38 digits: `unscaled / 10^scale` in 256 bits.
    Big(#[serde(with = "i256_text")] i256, u8),
    /// Floating point (a float column, or an exact sum past 76 digits): the sum and the
    /// compensation of Neumaier's summation, so the order the rows come in (tasks, batches)
    /// does not change the figure for all but the most contrived values.
    Float(
        #[serde(with = "super::canon::f64_bits")] f64,
        #[serde(with = "super::canon::f64_bits")] f64,
    ),
}

/// Adds `x` to the compensated sum `(s, c)`.
fn neumaier(s: f64, c: f64, x: f64) -> Sum {
    let t = s + x;
    let c = if s.abs() >= x.abs() {
        c + ((s - t) + x)
    } else {
        c + ((x - t) + s)
    };
    Sum::Float(t, c)
}

/// `a / 10^sa + b / 10^sb` exactly in 256 bits.
fn big_add(a: i256, sa: u8, b: i256, sb: u8) -> Sum {
    let scale = sa.max(sb);
    let up = |v: i256, s: u8| {
        i256::from_i128(10)
            .checked_pow(u32::from(scale - s))
            .and_then(|p| v.checked_mul(p))
    };
    match up(a, sa).zip(up(b, sb)).and_then(|(x, y)| x.checked_add(y)) {
        Some(x) => Sum::Big(x, scale),
        // Past 76 digits: a double, as a float column's sum.
        None => neumaier(
            Number::Big(a, sa).to_f64(),
            0.0,
            Number::Big(b, sb).to_f64(),
        ),
    }
}

impl Sum {
    /// The exact sum as unscaled digits in 256 bits and a scale (`None`: not exact).
    fn exact(self) -> Option<(i256, u8)> {
        match self {
            Sum::Exact(v, s) => Some((i256::from_i128(v), s)),
            Sum::Big(v, s) => Some((v, s)),
            _ => None,
        }
    }

    fn add(self, n: Number) -> Sum {
        match (self, n) {
            (Sum::Empty, Number::Huge(f)) => Sum::Float(f, 0.0),
            (Sum::Empty, Number::Exact(d)) => Sum::Exact(d.unscaled, d.scale),
            (Sum::Empty, Number::Big(v, s)) => Sum::Big(v, s),
            (Sum::Empty, Number::Float(f)) => Sum::Float(f, 0.0),
            (Sum::Exact(v, s), Number::Exact(d)) => {
                let scale = s.max(d.scale);
                let cur = Dec {
                    unscaled: v,
                    scale: s,
                }
                .at_scale(scale);
                match cur
                    .zip(d.at_scale(scale))
                    .and_then(|(a, b)| a.checked_add(b))
                {
                    Some(x) => Sum::Exact(x, scale),
                    None => big_add(i256::from_i128(v), s, i256::from_i128(d.unscaled), d.scale),
                }
            }
            (Sum::Exact(..) | Sum::Big(..), Number::Exact(_) | Number::Big(..)) => {
                let (a, sa) = self.exact().unwrap_or_default();
                let (b, sb) = match n {
                    Number::Exact(d) => (i256::from_i128(d.unscaled), d.scale),
                    Number::Big(v, s) => (v, s),
                    _ => (i256::ZERO, 0),
                };
                big_add(a, sa, b, sb)
            }
            (Sum::Exact(..) | Sum::Big(..), Number::Huge(f) | Number::Float(f)) => {
                neumaier(self.to_f64().unwrap_or_default(), 0.0, f)
            }
            (Sum::Float(a, c), n) => neumaier(a, c, n.to_f64()),
        }
    }

    fn merge(self, other: Sum) -> Sum {
        match other {
            Sum::Empty => self,
            Sum::Exact(v, s) => self.add(Number::Exact(Dec {
                unscaled: v,
                scale: s,
            })),
            Sum::Big(v, s) => self.add(Number::Big(v, s)),
            Sum::Float(f, c) => self.add(Number::Float(f)).add(Number::Float(c)),
        }
    }

    /// The nearest double (`None`: no value, or not kept).
    fn to_f64(self) -> Option<f64> {
        match self {
            Sum::Empty => None,
            Sum::Float(f, c) => Some(f + c),
            s => s.exact().map(|(v, sc)| Number::Big(v, sc).to_f64()),
        }
    }
}

/// An `i256` in the run state: its decimal text.
mod i256_text {
    use arrow_buffer::i256;
    pub fn serialize<S: serde::Serializer>(v: &i256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i256, D::Error> {
        let t = <String as serde::Deserialize>::deserialize(d)?;
        i256::from_string(&t).ok_or_else(|| serde::de::Error::custom(format!("not a number: {t}")))
    }
}

/// The figures of one column.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct ColumnFigures {
    nulls: u64,
    sum: Sum,
    /// A value that is not a number (a sum of this column is refused).
    not_number: Option<String>,
    min: Option<Canon<'static>>,
    max: Option<Canon<'static>>,
}

impl ColumnFigures {
    fn take(&mut self, v: Option<Canon<'_>>) {
        let Some(v) = v else {
            self.nulls += 1;
            return;
        };
        match v.number() {
            Some(n) => self.sum = self.sum.add(n),
            None if self.not_number.is_none() => self.not_number = Some(v.show()),
            None => {}
        }
        if self.min.as_ref().is_none_or(|m| v.order(m).is_lt()) {
            self.min = Some(v.owned());
        }
        if self.max.as_ref().is_none_or(|m| v.order(m).is_gt()) {
            self.max = Some(v.owned());
        }
    }

    fn merge(&mut self, o: &ColumnFigures) {
        self.nulls += o.nulls;
        self.sum = self.sum.merge(o.sum);
        if self.not_number.is_none() {
            self.not_number.clone_from(&o.not_number);
        }
        if let Some(m) = &o.min {
            if self.min.as_ref().is_none_or(|x| m.order(x).is_lt()) {
                self.min = Some(m.clone());
            }
        }
        if let Some(m) = &o.max {
            if self.max.as_ref().is_none_or(|x| m.order(x).is_gt()) {
                self.max = Some(m.clone());
            }
        }
    }
}

/// The figures of one side: rows, the row checksum, and per rule column its figures.
/// Serialised into a shard's report (container-task mode), merged by `datasync commit`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// Rows seen.
    pub rows: u64,
    /// Wrapping sum of the rows' hashes.
    pub checksum: u64,
    columns: BTreeMap<String, ColumnFigures>,
    /// Rule columns that were not there, and why.
    missing: BTreeMap<String, String>,
    /// The names of the columns the batches had (the first batch's).
    #[serde(default)]
    pub names: Vec<String>,
    /// Rule columns this side does not read back (a Hive partition column).
    pub(crate) unread: std::collections::BTreeSet<String>,
    /// The columns holding numbers (the first batch's): a writer may store them as text
    /// (a Parquet STRING for a decimal wider than Hive's), read back as the numbers again.
    #[serde(default)]
    pub numbers: std::collections::BTreeSet<String>,
}

/// One figure, as compared.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Figure {
    Count(u64),
    Sum(Sum),
    Value(Option<Canon<'static>>),
    Checksum(u64, u64),
    Missing(String),
}

impl Figure {
    pub(super) fn show(&self) -> String {
        match self {
            Figure::Count(n) => n.to_string(),
            Figure::Sum(Sum::Empty) | Figure::Value(None) => "NULL".into(),
            Figure::Sum(Sum::Exact(v, s)) => Dec::new(*v, *s as i8).to_string(),
            Figure::Sum(Sum::Big(v, s)) => big_text(*v, *s),
            Figure::Sum(Sum::Float(f, c)) => (f + c).to_string(),
            Figure::Value(Some(v)) => v.show(),
            Figure::Checksum(c, rows) => format!("{c:016x} ({rows} rows)"),
            Figure::Missing(_) => "?".into(),
        }
    }
}

impl Figures {
    /// Adds another part's figures (a task's) to these.
    pub fn merge(&mut self, o: &Figures) {
        self.rows += o.rows;
        self.checksum = self.checksum.wrapping_add(o.checksum);
        for (k, c) in &o.columns {
            self.columns.entry(k.clone()).or_default().merge(c);
        }
        for (k, m) in &o.missing {
            self.missing.entry(k.clone()).or_insert_with(|| m.clone());
        }
        self.unread.extend(o.unread.iter().cloned());
        if self.names.is_empty() {
            self.names.clone_from(&o.names);
            self.numbers.clone_from(&o.numbers);
        }
    }

    /// Marks a rule column as not available on this side.
    pub fn set_missing(&mut self, column: &str, why: String) {
        self.missing.insert(column.to_string(), why);
    }

    pub(super) fn figure(&self, kind: RuleKind, column: &str) -> Figure {
        // The checksum's trouble is kept under "", a column's under its name.
        let key = if kind == RuleKind::Checksum {
            ""
        } else {
            column
        };
        if let Some(why) = self.missing.get(key).filter(|_| kind != RuleKind::Count) {
            return Figure::Missing(why.clone());
        }
        let col = self.columns.get(column).cloned().unwrap_or_default();
        match kind {
            RuleKind::Count => Figure::Count(self.rows),
            RuleKind::Checksum => Figure::Checksum(self.checksum, self.rows),
            RuleKind::Nulls => Figure::Count(col.nulls),
            RuleKind::Min => Figure::Value(col.min),
            RuleKind::Max => Figure::Value(col.max),
            RuleKind::Sum => match col.not_number {
                Some(v) => Figure::Missing(format!(
                    "column {column} holds values that are not numbers (such as \"{v}\"): \
                     sum needs a numeric column"
                )),
                None => Figure::Sum(col.sum),
            },
        }
    }
}

/// Which columns go into the row checksum.
#[derive(Debug, Clone)]
pub enum HashColumns {
    /// The batch's columns at these positions (`None`: all), in order.
    Positions(Option<Vec<usize>>),
    /// These columns by name, in this order.
    Named(Vec<String>),
}

/// Takes the figures of batches as they pass (one per task and attempt; see
/// [`datasync_channel::BatchTap`]).
#[derive(Debug)]
pub struct Tally {
    /// (rule column as the reader names it, the name to look up in the batches; `None`: not
    /// on this side).
    columns: Vec<(String, Option<String>)>,
    hash: Option<HashColumns>,
    /// Text columns (by the name looked up) read as the decimal numbers they hold: the
    /// target's copies of the reader's number columns (see [`Figures::numbers`]).
    as_numbers: std::collections::BTreeSet<String>,
    figures: Mutex<Figures>,
    /// The reader side: the rules are checked against the rows the reader produces, and a
    /// rule that cannot hold (no such column, a sum of text) stops the job before its batch
    /// reaches the writer.
    stop: Option<(std::sync::Arc<crate::control::JobControl>, Vec<String>)>,
}

impl Tally {
    /// A tally of the rule columns (see [`Tally::columns`]) and, with `hash`, the checksum.
    pub fn new(columns: Vec<(String, Option<String>)>, hash: Option<HashColumns>) -> Tally {
        Tally {
            columns,
            hash,
            as_numbers: Default::default(),
            figures: Mutex::new(Figures::default()),
            stop: None,
        }
    }

    /// Reads the text columns `names` as the decimal numbers they hold (text that is not
    /// one stays text, and so differs from a number).
    pub fn reading_as_numbers(mut self, names: std::collections::BTreeSet<String>) -> Tally {
        self.as_numbers = names;
        self
    }

    fn column<'b>(&self, batch: &'b RecordBatch, i: usize) -> Column<'b> {
        let number = self.as_numbers.contains(batch.schema_ref().field(i).name());
        Column::of_as(batch, i, number)
    }

    /// The reader side's tally: `sums` are the columns summed; a batch without a rule's
    /// column, or with a summed column that is not a number, stops the job through `control`.
    pub fn checking(
        mut self,
        control: std::sync::Arc<crate::control::JobControl>,
        sums: Vec<String>,
    ) -> Tally {
        self.stop = Some((control, sums));
        self
    }

    /// A fresh tally of the same columns.
    pub fn fresh(&self) -> Tally {
        Tally {
            stop: self.stop.clone(),
            as_numbers: self.as_numbers.clone(),
            ..Tally::new(self.columns.clone(), self.hash.clone())
        }
    }

    fn check_source(&self, batch: &RecordBatch) -> Result<(), String> {
        let Some((_, sums)) = &self.stop else {
            return Ok(());
        };
        let schema = batch.schema();
        for (key, _) in &self.columns {
            let i = find_column(batch, key).map_err(|e| {
                format!(
                    "job.verify: a rule names column {key}, which the reader does not produce \
                     ({e})"
                )
            })?;
            let f = schema.field(i);
            let decimal_text = f
                .metadata()
                .get("datasync.source_type")
                .is_some_and(|t| t.starts_with("decimal"));
            if sums.contains(key) && !f.data_type().is_numeric() && !decimal_text {
                return Err(format!(
                    "job.verify: sum({key}): the column is {}, not a number",
                    f.data_type()
                ));
            }
        }
        Ok(())
    }

    /// The figures so far.
    pub fn figures(&self) -> Figures {
        self.figures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Takes one batch's figures.
    pub fn take(&self, batch: &RecordBatch) -> Result<(), String> {
        let rows = batch.num_rows();
        let mut part = Figures {
            rows: rows as u64,
            names: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            numbers: batch
                .schema()
                .fields()
                .iter()
                .filter(|f| super::canon::holds_numbers(f))
                .map(|f| f.name().clone())
                .collect(),
            ..Figures::default()
        };
        for (key, lookup) in &self.columns {
            let Some(name) = lookup else {
                part.unread.insert(key.clone());
                continue;
            };
            let i = match find_column(batch, name) {
                Ok(i) => i,
                Err(e) => {
                    part.missing.insert(key.clone(), e);
                    continue;
                }
            };
            let col = self.column(batch, i);
            let f = part.columns.entry(key.clone()).or_default();
            for r in 0..rows {
                f.take(col.get(r));
            }
        }
        if let Some(h) = &self.hash {
            let positions: Vec<usize> = match h {
                HashColumns::Positions(None) => (0..batch.num_columns()).collect(),
                HashColumns::Positions(Some(p)) => p.clone(),
                HashColumns::Named(names) => names
                    .iter()
                    .map(|n| {
                        find_column(batch, n)
                            .map_err(|e| format!("checksum: the target read back has {e}"))
                    })
                    .collect::<Result<_, _>>()?,
            };
            let cols: Vec<Column<'_>> = positions
                .iter()
                .filter(|i| **i < batch.num_columns())
                .map(|i| self.column(batch, *i))
                .collect();
            part.checksum = row_hashes(&cols, rows)
                .into_iter()
                .fold(0u64, u64::wrapping_add);
        }
        if let Ok(mut f) = self.figures.lock() {
            f.merge(&part);
        }
        Ok(())
    }
}

impl datasync_channel::BatchTap for Tally {
    fn observe(&self, batch: &RecordBatch) -> bool {
        if let Some((control, _)) = &self.stop {
            if let Err(why) = self.check_source(batch) {
                control.stop(crate::control::StopReason::Failed(why));
                return false;
            }
        }
        if let Err(e) = self.take(batch) {
            if let Ok(mut f) = self.figures.lock() {
                f.missing.insert(String::new(), e);
            }
        }
        true
    }
}

fn within(src: f64, tgt: f64, tol: Tolerance) -> bool {
    // NaN = NaN and an infinity equals itself here: the figures are the same.
    if src == tgt || (src.is_nan() && tgt.is_nan()) {
        return true;
    }
    // An infinity or NaN against anything else: no tolerance covers it (a relative one of
    // an infinite figure would be infinite).
    if !src.is_finite() || !tgt.is_finite() {
        return false;
    }
    let d = (src - tgt).abs();
    d == 0.0 || tol.abs.is_some_and(|a| d <= a) || tol.rel.is_some_and(|r| d <= r * src.abs())
}

/// Floating point sums depend on the order of the additions: without a tolerance they are
/// compared to this relative difference.
const FLOAT_REL: f64 = 1e-9;

/// Whether the figures match under `tol`, and a note on how they were compared.
pub(super) fn matches(src: &Figure, tgt: &Figure, tol: Tolerance) -> (bool, Option<String>) {
    let given = tol.abs.is_some() || tol.rel.is_some();
    let float = |a: f64, b: f64| {
        if given {
            (within(a, b, tol), None)
        } else {
            (
                within(
                    a,
                    b,
                    Tolerance {
                        abs: None,
                        rel: Some(FLOAT_REL),
                    },
                ),
                Some(format!(
                    "floating point, compared to a relative {FLOAT_REL}"
                )),
            )
        }
    };
    match (src, tgt) {
        (Figure::Count(a), Figure::Count(b)) => (within(*a as f64, *b as f64, tol), None),
        (Figure::Sum(a), Figure::Sum(b)) => match (a, b) {
            (Sum::Empty, Sum::Empty) => (true, None),
            (x, y) if !given && x.exact().is_some() && y.exact().is_some() => {
                let text = |s: &Sum| s.exact().map(|(v, sc)| big_text(v, sc));
                (text(x) == text(y), None)
            }
            _ => match (a.to_f64(), b.to_f64()) {
                (Some(x), Some(y)) => float(x, y),
                _ => (false, None),
            },
        },
        (Figure::Value(a), Figure::Value(b)) => match (a, b) {
            (None, None) => (true, None),
            (Some(x), Some(y)) if x.tag_eq(y) && x.show() == y.show() => (true, None),
            (Some(x), Some(y)) => match (x.number(), y.number()) {
                (Some(Number::Exact(p)), Some(Number::Exact(q))) if !given => (p == q, None),
                // Exact numbers past 38 digits are equal when their canonical texts are
                // (tested above); no float comparison makes them so.
                (Some(p), Some(q)) if !given && p.is_exact() && q.is_exact() => (false, None),
                (Some(p), Some(q)) => float(p.to_f64(), q.to_f64()),
                _ => (x.order(y).is_eq() && x.show() == y.show(), None),
            },
            _ => (false, None),
        },
        (Figure::Checksum(a, ar), Figure::Checksum(b, br)) => (a == b && ar == br, None),
        _ => (false, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_infinity_is_within_no_tolerance_of_a_number() {
        let rel = Tolerance {
            abs: None,
            rel: Some(FLOAT_REL),
        };
        let loose = Tolerance {
            abs: Some(1e300),
            rel: Some(1.0),
        };
        for tol in [rel, loose, Tolerance::default()] {
            assert!(!within(f64::NEG_INFINITY, 5.0, tol));
            assert!(!within(f64::INFINITY, 5.0, tol));
            assert!(!within(5.0, f64::INFINITY, tol));
            assert!(!within(f64::NAN, 5.0, tol));
            assert!(within(f64::INFINITY, f64::INFINITY, tol));
            assert!(within(f64::NAN, f64::NAN, tol));
        }
        assert!(within(100.0, 100.0 + 1e-8, rel));
        assert!(!within(100.0, 101.0, rel));
    }
}
