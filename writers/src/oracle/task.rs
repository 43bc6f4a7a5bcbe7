//! A writer task: each batch converted to typed binds (a value the target would round is a
//! dirty row), sent as one array-bound INSERT or MERGE per `batchSize` rows with Oracle's batch
//! errors on (the rows it refuses become dirty records, the rest stay), committed per batch.

use super::config::OracleWriteMode;
use super::sql::{create_stage_sql, create_table_oracle, insert_sql, merge_sql, move_sql, q};
use super::writer::OracleWriter;
use crate::sqlsteps::SqlWriterSteps;
use crate::sqltarget::{create_table_sql, staging_comment, staging_table, target_columns};
use arrow_array::RecordBatch;
use arrow_schema::DataType;
use datasync_codec::ValueWriter;
use datasync_db::oracle::oracle::sql_type::{OracleType, Timestamp, ToSql};
use datasync_db::oracle::{ddl_for, number_text, OracleConn, OracleError};
use datasync_db::sql::{Dialect, DriverError};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::{async_trait, PluginError, TaskContext};

/// How an incoming column is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BindKind {
    Int,
    F32,
    F64,
    Text,
    Bytes,
    Date,
    Ts,
    TsTz,
}

/// What the target column does to a value without an error (checked before writing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rounds {
    /// Nothing.
    No,
    /// NUMBER(p,s): fraction digits beyond s (or, s < 0, non-zero digits in the last -s places).
    Scale(i8),
    /// DATE / TIMESTAMP(n): fractional seconds beyond n digits.
    Fraction(u8),
}

/// One bound value.
#[derive(Debug, Clone)]
enum BindVal {
    Null,
    Int(i64),
    F32(f32),
    F64(f64),
    Text(String),
    Bytes(Vec<u8>),
    Ts(Timestamp),
}

static NULL_TEXT: Option<String> = None;

impl BindVal {
    fn as_sql(&self) -> &dyn ToSql {
        match self {
            BindVal::Null => &NULL_TEXT,
            BindVal::Int(v) => v,
            BindVal::F32(v) => v,
            BindVal::F64(v) => v,
            BindVal::Text(v) => v,
            BindVal::Bytes(v) => v,
            BindVal::Ts(v) => v,
        }
    }
}

/// What a task settles at its first batch.
struct Plan {
    /// The statement each batch runs (into the target, or into the staging table).
    sql: String,
    kinds: Vec<BindKind>,
    rounds: Vec<Rounds>,
    /// Target column names, for messages.
    names: Vec<String>,
}

pub(super) struct OracleTask {
    writer: OracleWriter,
    /// The table this task writes: the target, or its staging table.
    table: String,
    stage_ready: bool,
}

impl OracleTask {
    pub(super) fn new(writer: OracleWriter) -> Self {
        let table = writer.table.clone();
        OracleTask {
            writer,
            table,
            stage_ready: false,
        }
    }

    async fn create_table(
        &self,
        c: &OracleConn,
        batch: &RecordBatch,
        names: &[String],
    ) -> Result<(), PluginError> {
        let w = &self.writer;
        w.create_once(
            || {
                create_table_sql(Dialect::Oracle, &w.table, batch, names, ddl_for, |t| {
                    !t.contains("LOB")
                })
                .map(|shared| create_table_oracle(&shared))
                .map_err(PluginError::new)
            },
            |sql| async move {
                match c.execute(&sql).await {
                    Ok(()) => Ok(()),
                    // ORA-00955: the name is taken (the table exists).
                    Err(OracleError::Query { source, .. })
                        if source.db_error().is_some_and(|d| d.code() == 955) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            },
        )
        .await
    }

    /// Table staging: (re)creates this task's staging table with the written columns and
    /// records the statement that moves its rows into the target.
    async fn create_stage(
        &mut self,
        c: &OracleConn,
        task: usize,
        names: &[String],
        key: Option<&[String]>,
    ) -> Result<(), PluginError> {
        let w = self.writer.clone();
        let stage = staging_table(&w.table, task);
        w.spec.staged.set(task, stage.clone(), String::new());
        for sql in [
            w.drop_table_sql(&q(&stage)),
            create_stage_sql(&w.table, &stage, names),
            format!(
                "COMMENT ON TABLE {} IS '{}'",
                q(&stage),
                staging_comment(&w.table).replace('\'', "''")
            ),
        ] {
            c.execute(&sql).await?;
        }
        w.spec
            .staged
            .set(task, stage.clone(), move_sql(&w.table, &stage, names, key));
        self.table = stage;
        self.stage_ready = true;
        Ok(())
    }

    /// Settles the statement, the binds and the rounding checks from the first batch.
    async fn plan(
        &mut self,
        c: &OracleConn,
        batch: &RecordBatch,
        task: usize,
    ) -> Result<Plan, PluginError> {
        let w = self.writer.clone();
        let names = target_columns(&w.spec.params.column, batch).map_err(PluginError::new)?;
        if w.spec.params.create_table {
            self.create_table(c, batch, &names).await?;
        }
        let probe = format!("SELECT * FROM {} WHERE 1 = 0", q(&w.table));
        let target = c.columns(&probe).await?;
        // Each written column as the target spells it (see `resolve`), and what it rounds.
        let names: Vec<String> = names.iter().map(|n| resolve(n, &target)).collect();
        let rounds = names
            .iter()
            .map(|n| {
                let stored = datasync_db::sql::unquote_ident(n);
                target
                    .iter()
                    .find(|(t, _)| *t == stored)
                    .map_or(Rounds::No, |(_, ty)| rounds_of(ty))
            })
            .collect();
        let key = if w.cfg.write_mode == OracleWriteMode::Insert {
            None
        } else {
            Some(w.merge_key(c).await?.ok_or_else(|| {
                PluginError::new(format!(
                    "writeMode {}: {} has no primary or unique key for MERGE to match rows on, \
                     so every row would be inserted (and a rerun would insert them again); add \
                     a key, or use writeMode insert",
                    w.cfg.write_mode.name(),
                    w.table
                ))
            })?)
        };
        if w.staging() && !self.stage_ready {
            self.create_stage(c, task, &names, key.as_deref()).await?;
        }
        let kinds = batch
            .schema()
            .fields()
            .iter()
            .zip(&names)
            .map(|(f, n)| {
                bind_kind(f.data_type()).ok_or_else(|| {
                    PluginError::new(format!(
                        "column {n}: no Oracle binding for {}",
                        datasync_codec::types::type_name(f.data_type())
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sql = match (&key, self.stage_ready) {
            (Some(key), false) => merge_sql(&w.table, &names, key),
            _ => insert_sql(&self.table, &names),
        };
        Ok(Plan {
            sql,
            kinds,
            rounds,
            names,
        })
    }

    /// Writes every batch, one transaction each; `done` counts the committed units and rows.
    async fn write_batches(
        &mut self,
        mut input: BatchReceiver,
        ctx: &TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        let c = self.writer.conn.connect().await?;
        let mut plan: Option<Plan> = None;
        while let Some(b) = input.recv().await {
            let batch = &b.data;
            if batch.num_rows() == 0 {
                continue;
            }
            if plan.is_none() {
                plan = Some(self.plan(&c, batch, ctx.task_id).await?);
            }
            let Some(p) = &plan else { continue };
            let (rows, bad) = bind_rows(batch, p);
            for (r, e) in bad {
                self.writer.dirty(ctx, batch, r, e)?;
            }
            let mut refused = Vec::new();
            for chunk in rows.chunks(self.writer.cfg.batch_size) {
                let types = bind_types(&p.kinds, chunk);
                let vals: Vec<Vec<BindVal>> = chunk.iter().map(|(_, v)| v.clone()).collect();
                let sql = p.sql.clone();
                let errs = c
                    .call(move |conn| execute_many(conn, &sql, &types, &vals))
                    .await;
                match errs {
                    Ok(errs) => refused.extend(errs.into_iter().map(|(i, m)| (chunk[i].0, m))),
                    Err(e) => {
                        let _ = c.rollback().await;
                        return Err(c.query_error(&p.sql, e).into());
                    }
                }
            }
            if let Err(e) = c.commit().await {
                let lost =
                    matches!(&e, OracleError::Query { source, .. } if source.connection_lost());
                if lost
                    && self.writer.cfg.write_mode == OracleWriteMode::Insert
                    && !self.writer.staging()
                {
                    return Err(PluginError::new(format!(
                        "{}: the connection was lost while committing a unit ({e}); it may or \
                         may not have landed, and writeMode insert cannot replay it without \
                         risking duplicates (update/replace or stagingMode table can)",
                        c.url
                    )));
                }
                return Err(e.into());
            }
            for (r, m) in &refused {
                self.writer.dirty(ctx, batch, *r, m.clone())?;
            }
            let ok = rows.len() - refused.len();
            crate::sqltarget::count_unit(ctx, done, ok, batch.num_rows(), b.bytes as u64);
            ctx.check_cancelled()?;
        }
        Ok(())
    }
}

#[async_trait]
impl crate::sqltarget::UnitTask for OracleTask {
    async fn write_units(
        &mut self,
        input: BatchReceiver,
        ctx: TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        self.stage_ready = false;
        self.table = self.writer.table.clone();
        self.write_batches(input, &ctx, done).await
    }
}

/// One array-bound execution with batch errors on: the rows Oracle refused (index into
/// `rows`, its message); any other failure is the statement's.
fn execute_many(
    conn: &datasync_db::oracle::oracle::Connection,
    sql: &str,
    types: &[OracleType],
    rows: &[Vec<BindVal>],
) -> datasync_db::oracle::oracle::Result<Vec<(usize, String)>> {
    let mut b = conn
        .batch(sql, rows.len().max(1))
        .with_batch_errors()
        .build()?;
    for (i, t) in types.iter().enumerate() {
        b.set_type(i + 1, t)?;
    }
    for r in rows {
        let params: Vec<&dyn ToSql> = r.iter().map(BindVal::as_sql).collect();
        b.append_row(&params)?;
    }
    match b.execute() {
        Ok(()) => Ok(Vec::new()),
        Err(e) => match e.batch_errors() {
            Some(errs) => Ok(errs
                .iter()
                .map(|d| (d.offset() as usize, d.message().to_string()))
                .collect()),
            None => Err(e),
        },
    }
}

/// A written column's name as the target table spells it, quoted: Oracle's reading of an
/// unquoted name (upper case) when the table has it, else the one column whose name matches
/// exactly or, failing that, ignoring case (a reader's lower-case names into a table created
/// with quoted lower-case names); a quoted name stays as written.
fn resolve(name: &str, target: &[(String, OracleType)]) -> String {
    if name.starts_with('"') {
        return name.to_string();
    }
    let quoted = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
    let upper = name.to_uppercase();
    if target.iter().any(|(t, _)| *t == upper) {
        return quoted(&upper);
    }
    if target.iter().any(|(t, _)| t == name) {
        return quoted(name);
    }
    let mut like = target.iter().filter(|(t, _)| t.eq_ignore_ascii_case(name));
    match (like.next(), like.next()) {
        (Some((t, _)), None) => quoted(t),
        _ => q(name),
    }
}

/// How an Arrow type is bound (`None`: it cannot be).
fn bind_kind(t: &DataType) -> Option<BindKind> {
    Some(match t {
        // Booleans and every integer type that fits an i64 (UInt64 is bound as text below).
        t if *t == DataType::Boolean || (t.is_integer() && *t != DataType::UInt64) => BindKind::Int,
        DataType::Float32 => BindKind::F32,
        DataType::Float64 => BindKind::F64,
        // Exact decimal text, converted by Oracle ('.' is the session's decimal point).
        DataType::UInt64 | DataType::Decimal128(..) | DataType::Decimal256(..) => BindKind::Text,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::List(_) | DataType::Time64(_) => {
            BindKind::Text
        }
        DataType::Binary | DataType::LargeBinary => BindKind::Bytes,
        DataType::Date32 => BindKind::Date,
        DataType::Timestamp(_, None) => BindKind::Ts,
        DataType::Timestamp(_, Some(_)) => BindKind::TsTz,
        _ => return None,
    })
}

/// The rounding a target column of type `t` applies silently.
fn rounds_of(t: &OracleType) -> Rounds {
    match t {
        OracleType::Number(p, s) if *p > 0 => Rounds::Scale(*s),
        OracleType::Date => Rounds::Fraction(0),
        OracleType::Timestamp(n) | OracleType::TimestampTZ(n) | OracleType::TimestampLTZ(n) => {
            Rounds::Fraction(*n)
        }
        _ => Rounds::No,
    }
}

/// Why the target would change `text` (a value's exact text), if it would.
fn rounding(text: &str, r: Rounds) -> Option<String> {
    match r {
        Rounds::No => None,
        Rounds::Scale(s) => {
            let t = number_text(text).ok()?;
            let (int, frac) = t
                .trim_start_matches('-')
                .split_once('.')
                .unwrap_or((&t, ""));
            let int = int.trim_start_matches('-');
            if s >= 0 && frac.len() > s as usize {
                return Some(format!(
                    "{text} has {} digit(s) after the point; the column keeps {s} and would round it",
                    frac.len()
                ));
            }
            let tens = usize::from(s.unsigned_abs());
            if s < 0 && (!frac.is_empty() || (int != "0" && !int.ends_with(&"0".repeat(tens)))) {
                return Some(format!(
                    "{text} is not a multiple of 1{}; the column (scale {s}) would round it",
                    "0".repeat(tens)
                ));
            }
            None
        }
        Rounds::Fraction(n) => {
            let frac = text
                .rsplit_once('.')
                .map(|(_, f)| f.trim_end_matches('0'))?;
            (text.contains(':') && frac.len() > usize::from(n)).then(|| {
                if n == 0 {
                    format!("{text} has fractional seconds; the column holds whole seconds (DATE) and would drop them")
                } else {
                    format!("{text} has {} fractional-second digits; the column keeps {n}", frac.len())
                }
            })
        }
    }
}

/// The batch's rows as binds (row number, values), and the rows that cannot be written as
/// they are (row number, why).
#[allow(clippy::type_complexity)]
fn bind_rows(batch: &RecordBatch, p: &Plan) -> (Vec<(usize, Vec<BindVal>)>, Vec<(usize, String)>) {
    let writers: Vec<Result<ValueWriter<'_>, String>> =
        batch.columns().iter().map(ValueWriter::new).collect();
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut bad = Vec::new();
    let mut buf = Vec::new();
    'rows: for r in 0..batch.num_rows() {
        let mut vals = Vec::with_capacity(p.kinds.len());
        for (i, col) in batch.columns().iter().enumerate() {
            if col.is_null(r) {
                vals.push(BindVal::Null);
                continue;
            }
            let name = &p.names[i];
            let v = writers[i].as_ref().map_err(Clone::clone).and_then(|w| {
                buf.clear();
                w.write(r, &mut buf, None)?;
                bind_val(
                    &buf,
                    p.kinds[i],
                    p.rounds.get(i).copied().unwrap_or(Rounds::No),
                )
            });
            match v {
                Ok(v) => vals.push(v),
                Err(e) => {
                    bad.push((r, format!("column {name}: {e}")));
                    continue 'rows;
                }
            }
        }
        rows.push((r, vals));
    }
    (rows, bad)
}

/// One value's exact text (from the batch) as a bind of `kind`, unless the target would round it.
fn bind_val(text: &[u8], kind: BindKind, r: Rounds) -> Result<BindVal, String> {
    if kind == BindKind::Bytes {
        return Ok(BindVal::Bytes(text.to_vec()));
    }
    let t = std::str::from_utf8(text).map_err(|e| format!("not UTF-8 text ({e})"))?;
    if let Some(why) = rounding(t, r) {
        return Err(why);
    }
    Ok(match kind {
        BindKind::Int => BindVal::Int(match t {
            "true" => 1,
            "false" => 0,
            _ => t.parse().map_err(|_| format!("{t} is not an integer"))?,
        }),
        BindKind::F32 => BindVal::F32(datasync_codec::parse_float(t, true)? as f32),
        BindKind::F64 => BindVal::F64(datasync_codec::parse_float(t, false)?),
        BindKind::Text => BindVal::Text(t.to_string()),
        BindKind::Bytes => BindVal::Bytes(text.to_vec()),
        BindKind::Date | BindKind::Ts | BindKind::TsTz => {
            let ts = timestamp(t)?;
            BindVal::Ts(if kind == BindKind::TsTz {
                ts.and_tz_offset(0).map_err(|e| e.to_string())?
            } else {
                ts
            })
        }
    })
}

/// `YYYY-MM-DD[ HH:MM:SS[.f...]]` as an Oracle timestamp.
fn timestamp(t: &str) -> Result<Timestamp, String> {
    use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
    let dt = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| format!("{t} is not a date-time"))?;
    Timestamp::new(
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond(),
    )
    .map_err(|e| e.to_string())
}

/// Bind types for one chunk: variable-length types sized to the chunk's longest value.
fn bind_types(kinds: &[BindKind], rows: &[(usize, Vec<BindVal>)]) -> Vec<OracleType> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let longest = rows
                .iter()
                .map(|(_, v)| match &v[i] {
                    BindVal::Text(s) => s.len(),
                    BindVal::Bytes(b) => b.len(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0)
                .max(1) as u32;
            match k {
                BindKind::Int => OracleType::Int64,
                BindKind::F32 => OracleType::BinaryFloat,
                BindKind::F64 => OracleType::BinaryDouble,
                BindKind::Text if longest > 32_767 => OracleType::CLOB,
                BindKind::Text => OracleType::Varchar2(longest),
                BindKind::Bytes if longest > 32_767 => OracleType::BLOB,
                BindKind::Bytes => OracleType::Raw(longest),
                BindKind::Date => OracleType::Date,
                BindKind::Ts => OracleType::Timestamp(9),
                BindKind::TsTz => OracleType::TimestampTZ(9),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_target_would_round_are_refused() {
        assert_eq!(rounding("12.34", Rounds::Scale(2)), None);
        assert_eq!(rounding("12.3400", Rounds::Scale(2)), None);
        assert!(rounding("12.345", Rounds::Scale(2))
            .unwrap()
            .contains("3 digit(s)"));
        assert!(rounding("0.5", Rounds::Scale(0)).is_some());
        assert_eq!(rounding("-0", Rounds::Scale(0)), None);
        assert_eq!(rounding("1200", Rounds::Scale(-2)), None);
        assert!(rounding("1250", Rounds::Scale(-2)).is_some());
        assert!(rounding("1e-3", Rounds::Scale(2)).is_some());
        assert_eq!(rounding("not a number", Rounds::Scale(2)), None);
        assert_eq!(rounding("2024-01-01 10:00:00", Rounds::Fraction(0)), None);
        assert_eq!(
            rounding("2024-01-01 10:00:00.000", Rounds::Fraction(0)),
            None
        );
        assert!(rounding("2024-01-01 10:00:00.5", Rounds::Fraction(0))
            .unwrap()
            .contains("DATE"));
        assert!(rounding("2024-01-01 10:00:00.1234567", Rounds::Fraction(6)).is_some());
        assert_eq!(
            rounding("2024-01-01 10:00:00.123456", Rounds::Fraction(6)),
            None
        );
        assert_eq!(rounding("3.5", Rounds::No), None);
    }

    #[test]
    fn binds_are_exact() {
        assert!(matches!(
            bind_val(b"true", BindKind::Int, Rounds::No),
            Ok(BindVal::Int(1))
        ));
        assert!(matches!(
            bind_val(b"-9223372036854775808", BindKind::Int, Rounds::No),
            Ok(BindVal::Int(i64::MIN))
        ));
        assert!(
            matches!(bind_val(b"NaN", BindKind::F64, Rounds::No), Ok(BindVal::F64(x)) if x.is_nan())
        );
        assert!(
            matches!(bind_val(b"-Infinity", BindKind::F32, Rounds::No), Ok(BindVal::F32(x)) if x == f32::NEG_INFINITY)
        );
        assert!(
            matches!(bind_val(b"12345678901234567890.12", BindKind::Text, Rounds::Scale(2)), Ok(BindVal::Text(t)) if t == "12345678901234567890.12")
        );
        assert!(bind_val(b"1.005", BindKind::Text, Rounds::Scale(2)).is_err());
        let ts = match bind_val(
            b"2024-02-29 23:59:59.123456789",
            BindKind::Ts,
            Rounds::Fraction(9),
        ) {
            Ok(BindVal::Ts(ts)) => ts,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (ts.year(), ts.month(), ts.day(), ts.nanosecond()),
            (2024, 2, 29, 123_456_789)
        );
        match bind_val(b"2024-02-29", BindKind::Date, Rounds::Fraction(0)) {
            Ok(BindVal::Ts(ts)) => assert_eq!((ts.hour(), ts.minute()), (0, 0)),
            other => panic!("{other:?}"),
        }
        assert!(bind_val(b"2024-02-30", BindKind::Date, Rounds::No).is_err());
        match bind_val(b"2024-01-01 00:00:00", BindKind::TsTz, Rounds::No) {
            Ok(BindVal::Ts(ts)) => assert!(ts.with_tz() && ts.tz_offset() == 0),
            other => panic!("{other:?}"),
        }
        assert_eq!(bind_kind(&DataType::Float16), None);
        let target = vec![
            ("ID".to_string(), OracleType::Number(9, 0)),
            ("note".to_string(), OracleType::Varchar2(9)),
            ("Mixed".to_string(), OracleType::Varchar2(9)),
        ];
        assert_eq!(resolve("id", &target), "\"ID\"");
        assert_eq!(resolve("note", &target), "\"note\"");
        assert_eq!(resolve("MIXED", &target), "\"Mixed\"");
        assert_eq!(resolve("\"x\"", &target), "\"x\"");
        assert_eq!(resolve("other", &target), "\"OTHER\"");
        let rows = vec![(
            0,
            vec![BindVal::Text("abc".into()), BindVal::Bytes(vec![0; 40_000])],
        )];
        assert_eq!(
            bind_types(&[BindKind::Text, BindKind::Bytes], &rows),
            vec![OracleType::Varchar2(3), OracleType::BLOB]
        );
    }
}
