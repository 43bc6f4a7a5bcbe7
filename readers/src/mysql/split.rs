//! Splits as plain data, and how one becomes a SELECT.

use datasync_engine::sql::{quote_ident, Dialect};

/// One unit of reading: a whole table, a key range of it, its NULL keys, or a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MysqlSplit {
    /// `SELECT cols FROM table [WHERE where] [AND pk range]`.
    Table {
        /// Index into `connection[]`.
        conn: usize,
        /// Table as written.
        table: String,
        /// Inclusive key range on splitPk.
        range: Option<(i128, i128)>,
        /// Only rows whose splitPk IS NULL.
        null_keys: bool,
    },
    /// A `querySql` as written.
    Query {
        /// Index into `connection[]`.
        conn: usize,
        /// The query.
        sql: String,
    },
}

impl MysqlSplit {
    /// The SELECT for this split.
    pub fn sql(
        &self,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: Option<&str>,
    ) -> String {
        match self {
            MysqlSplit::Query { sql, .. } => sql.clone(),
            MysqlSplit::Table {
                table,
                range,
                null_keys,
                ..
            } => {
                let cols = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns.join(", ")
                };
                let mut conds = Vec::new();
                if let Some(w) = where_clause.filter(|w| !w.trim().is_empty()) {
                    conds.push(format!("({w})"));
                }
                if let Some(pk) = split_pk {
                    let pk = quote_ident(Dialect::MySql, pk);
                    if let Some((lo, hi)) = range {
                        conds.push(format!("({pk} >= {lo} AND {pk} <= {hi})"));
                    }
                    if *null_keys {
                        conds.push(format!("{pk} IS NULL"));
                    }
                }
                let mut sql = format!("SELECT {cols} FROM {}", quote_ident(Dialect::MySql, table));
                if !conds.is_empty() {
                    sql.push_str(" WHERE ");
                    sql.push_str(&conds.join(" AND "));
                }
                sql
            }
        }
    }

    /// For logs and the report.
    pub fn describe(&self) -> String {
        match self {
            MysqlSplit::Query { sql, .. } => format!(
                "query {}",
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            MysqlSplit::Table {
                table,
                range: Some((lo, hi)),
                ..
            } => format!("table {table} keys {lo}..={hi}"),
            MysqlSplit::Table {
                table,
                null_keys: true,
                ..
            } => format!("table {table} NULL keys"),
            MysqlSplit::Table { table, .. } => format!("table {table}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects() {
        let s = MysqlSplit::Table {
            conn: 0,
            table: "shop.orders".into(),
            range: Some((1, 50)),
            null_keys: false,
        };
        assert_eq!(
            s.sql(&["id".into(), "amount*2".into()], Some("status = 'paid'"), Some("id")),
            "SELECT id, amount*2 FROM `shop`.`orders` WHERE (status = 'paid') AND (`id` >= 1 AND `id` <= 50)"
        );
        let n = MysqlSplit::Table {
            conn: 0,
            table: "t".into(),
            range: None,
            null_keys: true,
        };
        assert_eq!(
            n.sql(&[], None, Some("id")),
            "SELECT * FROM `t` WHERE `id` IS NULL"
        );
    }
}
