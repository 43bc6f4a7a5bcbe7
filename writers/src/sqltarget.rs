//! What the SQL writers share about their target: the `connection[]` entry, its validation,
//! and matching the writer's `column` list to the incoming batches.

use arrow_array::RecordBatch;
use datasync_engine::config::{join_path, one_or_many, ConfigError};
use datasync_engine::values::column_names;
use serde::Deserialize;

/// One `connection[]` entry of a SQL writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlWriterConnection {
    /// URL (or URLs tried in order).
    #[serde(deserialize_with = "one_or_many")]
    pub jdbc_url: Vec<String>,
    /// Target table (one).
    #[serde(deserialize_with = "one_or_many")]
    pub table: Vec<String>,
}

/// Checks that the writer names one connection with one table and some columns; returns the
/// connection, its table and the path of its `jdbcUrl`.
pub fn single_target<'a>(
    connection: &'a [SqlWriterConnection],
    column: &[String],
    path: &str,
) -> Result<(&'a SqlWriterConnection, String, String), ConfigError> {
    let at = join_path(path, "connection");
    let first = match connection {
        [one] => one,
        [] => return Err(ConfigError::new(at, "needs one entry")),
        _ => {
            return Err(ConfigError::new(
                at,
                "write to one connection per job (found several)",
            ))
        }
    };
    let table = match first.table.as_slice() {
        [t] if !t.trim().is_empty() => t.clone(),
        _ => {
            return Err(ConfigError::new(
                format!("{at}[0].table"),
                "name exactly one target table",
            ))
        }
    };
    if column.is_empty() {
        return Err(ConfigError::new(
            join_path(path, "column"),
            "list the target columns, or [\"*\"]",
        ));
    }
    Ok((first, table, format!("{at}[0].jdbcUrl")))
}

/// The target column names for `batch`: the configured list (which must match the batch's
/// width) or, for `["*"]`, the batch's own names.
pub fn target_columns(column: &[String], batch: &RecordBatch) -> Result<Vec<String>, String> {
    if column == ["*"] {
        return Ok(column_names(batch));
    }
    if column.len() != batch.num_columns() {
        return Err(format!(
            "the writer lists {} columns ({}) but the reader produces {} ({})",
            column.len(),
            column.join(", "),
            batch.num_columns(),
            column_names(batch).join(", ")
        ));
    }
    Ok(column.to_vec())
}

/// `CREATE TABLE IF NOT EXISTS` for `createTable`: the batch's Arrow types mapped by `ddl`
/// (the system's type table) under the target column `names`.
pub fn create_table_sql(
    d: datasync_engine::sql::Dialect,
    table: &str,
    batch: &RecordBatch,
    names: &[String],
    ddl: fn(&arrow_schema::DataType) -> Option<String>,
) -> Result<String, String> {
    let mut cols = Vec::with_capacity(names.len());
    for (f, name) in batch.schema().fields().iter().zip(names) {
        let t = ddl(f.data_type()).ok_or_else(|| {
            format!(
                "createTable: no {d:?} type for column {name} of type {}",
                f.data_type()
            )
        })?;
        cols.push(format!(
            "{} {t}",
            datasync_engine::sql::quote_ident(d, name)
        ));
    }
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        datasync_engine::sql::quote_ident(d, table),
        cols.join(", ")
    ))
}
