//! splitPk planning: integer key ranges, the NULL-key task, `querySql`, and the SELECT of
//! each split (also in key order, to go on after the last key read).

use super::ident::{quote_ident, unquote_ident, Dialect};

/// Splits the inclusive integer range `[min, max]` into at most `n` contiguous, non-empty,
/// inclusive ranges that cover it exactly (no key read twice, none missed).
pub fn split_ranges(min: i128, max: i128, n: usize) -> Vec<(i128, i128)> {
    if min > max {
        return Vec::new();
    }
    let span = (max - min) as u128 + 1;
    let n = (n.max(1) as u128).min(span);
    let mut out = Vec::with_capacity(n as usize);
    let mut lo = min;
    for i in 0..n {
        let size = span / n + u128::from(i < span % n);
        let hi = lo + size as i128 - 1;
        out.push((lo, hi));
        lo = hi + 1;
    }
    out
}

/// A range of a text key, compared by the server with the column's own collation: after
/// `after` (exclusive) up to `upto` (inclusive); `None` leaves that side open.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TextRange {
    /// Exclusive lower bound.
    pub after: Option<String>,
    /// Inclusive upper bound.
    pub upto: Option<String>,
}

/// One unit of reading for a SQL reader: a whole table, a key range of it, its NULL keys, or a
/// query. Plain data, so a task can be retried and a shard planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SqlSplit {
    /// `SELECT cols FROM table [WHERE where] [AND pk range | pk IS NULL]`.
    #[serde(rename_all = "camelCase")]
    Table {
        /// Index into the reader's `connection[]`.
        conn: usize,
        /// Table as written.
        table: String,
        /// Inclusive key range on splitPk (as decimal text in a plan: JSON numbers stop at
        /// 64 bits).
        #[serde(with = "key_range_text")]
        range: Option<(i128, i128)>,
        /// Range of a text splitPk (not NULL).
        text_range: Option<TextRange>,
        /// Only rows whose splitPk IS NULL.
        null_keys: bool,
    },
    /// A `querySql` as written.
    Query {
        /// Index into the reader's `connection[]`.
        conn: usize,
        /// The query.
        sql: String,
    },
}

/// A key range as two decimal strings, so keys past 64 bits survive JSON.
mod key_range_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        r: &Option<(i128, i128)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        r.map(|(a, b)| [a.to_string(), b.to_string()]).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<(i128, i128)>, D::Error> {
        let v: Option<[String; 2]> = Option::deserialize(d)?;
        v.map(|[a, b]| {
            let p = |t: &str| {
                t.parse::<i128>().map_err(|_| {
                    serde::de::Error::custom(format!("key \"{t}\" is not a whole number"))
                })
            };
            Ok((p(&a)?, p(&b)?))
        })
        .transpose()
    }
}

impl SqlSplit {
    /// Index into the reader's `connection[]`.
    pub fn conn(&self) -> usize {
        match self {
            SqlSplit::Table { conn, .. } | SqlSplit::Query { conn, .. } => *conn,
        }
    }

    /// The SELECT for this split. `columns` and `where_clause` are raw SQL, as DataX passes them.
    pub fn sql(
        &self,
        d: Dialect,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: Option<&str>,
    ) -> String {
        self.build_sql(d, columns, where_clause, split_pk, None)
    }

    /// For a key-range split: the SELECT that reads the split in key order, starting after key
    /// `after` (or at the range's start), so a read cut off by a lost connection can go on
    /// where it stopped; and where the key is in its result: `Some(i)` when `columns[i]` is the
    /// key already, `None` when it was added as an extra last column. `None` for other splits.
    pub fn keyed_sql(
        &self,
        d: Dialect,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: &str,
        after: Option<i128>,
    ) -> Option<(String, Option<usize>)> {
        match self {
            SqlSplit::Table {
                range: Some(_),
                null_keys: false,
                ..
            } => {
                let key = unquote_ident(split_pk);
                let at = columns
                    .iter()
                    .position(|c| unquote_ident(c.trim()).eq_ignore_ascii_case(&key));
                let sql = self.build_sql(
                    d,
                    columns,
                    where_clause,
                    Some(split_pk),
                    Some((after, at.is_none())),
                );
                Some((sql, at))
            }
            _ => None,
        }
    }

    fn build_sql(
        &self,
        d: Dialect,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: Option<&str>,
        keyed: Option<(Option<i128>, bool)>,
    ) -> String {
        match self {
            SqlSplit::Query { sql, .. } => sql.clone(),
            SqlSplit::Table {
                table,
                range,
                text_range,
                null_keys,
                ..
            } => {
                let mut cols = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns.join(", ")
                };
                let mut conds = Vec::new();
                if let Some(w) = where_clause.filter(|w| !w.trim().is_empty()) {
                    conds.push(format!("({w})"));
                }
                let mut order = String::new();
                if let Some(pk) = split_pk {
                    let pk = quote_ident(d, pk);
                    if let Some((lo, hi)) = range {
                        match keyed {
                            Some((Some(after), _)) => {
                                conds.push(format!("({pk} > {after} AND {pk} <= {hi})"))
                            }
                            _ => conds.push(format!("({pk} >= {lo} AND {pk} <= {hi})")),
                        }
                    }
                    if let Some(tr) = text_range {
                        let mut c = Vec::new();
                        if let Some(a) = &tr.after {
                            c.push(format!("{pk} > {}", literal(d, a)));
                        }
                        if let Some(u) = &tr.upto {
                            c.push(format!("{pk} <= {}", literal(d, u)));
                        }
                        if c.is_empty() {
                            c.push(format!("{pk} IS NOT NULL"));
                        }
                        conds.push(format!("({})", c.join(" AND ")));
                    }
                    if *null_keys {
                        conds.push(format!("{pk} IS NULL"));
                    }
                    if let Some((_, append)) = keyed {
                        // Qualified with the table: a select-list alias of the same name
                        // (`-id AS id`) must not decide the order or the value read.
                        let qualified = format!("{}.{pk}", quote_ident(d, table));
                        if append {
                            // Named apart, so a reader that wraps the query (PostgreSQL's
                            // casts to text) does not see the key's name twice.
                            let alias = quote_ident(d, "datasync_split_key");
                            cols.push_str(&format!(", {qualified} AS {alias}"));
                        }
                        order = format!(" ORDER BY {qualified}");
                    }
                }
                let mut sql = format!("SELECT {cols} FROM {}", quote_ident(d, table));
                if !conds.is_empty() {
                    sql.push_str(" WHERE ");
                    sql.push_str(&conds.join(" AND "));
                }
                sql.push_str(&order);
                sql
            }
        }
    }

    /// For logs and the report.
    pub fn describe(&self) -> String {
        match self {
            SqlSplit::Query { sql, .. } => format!(
                "query {}",
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            SqlSplit::Table {
                table,
                range: Some((lo, hi)),
                ..
            } => format!("table {table} keys {lo}..={hi}"),
            SqlSplit::Table {
                table,
                text_range: Some(tr),
                ..
            } => format!(
                "table {table} keys {}..{}",
                tr.after
                    .as_deref()
                    .map(|a| format!("> {a:?} "))
                    .unwrap_or_default(),
                tr.upto
                    .as_deref()
                    .map(|u| format!("= {u:?}"))
                    .unwrap_or_default()
            ),
            SqlSplit::Table {
                table,
                null_keys: true,
                ..
            } => format!("table {table} NULL keys"),
            SqlSplit::Table { table, .. } => format!("table {table}"),
        }
    }

    /// Key-range splits of `table` over `[lo, hi]` in at most `n` ranges, plus the NULL keys.
    pub fn key_ranges(
        conn: usize,
        table: &str,
        bounds: Option<(i128, i128)>,
        n: usize,
    ) -> Vec<SqlSplit> {
        let mut out: Vec<SqlSplit> = bounds
            .map(|(lo, hi)| split_ranges(lo, hi, n))
            .unwrap_or_default()
            .into_iter()
            .map(|r| SqlSplit::Table {
                conn,
                table: table.to_string(),
                range: Some(r),
                text_range: None,
                null_keys: false,
            })
            .collect();
        out.push(SqlSplit::null_keys(conn, table));
        out
    }

    /// The task reading the rows of `table` whose key IS NULL.
    fn null_keys(conn: usize, table: &str) -> SqlSplit {
        SqlSplit::Table {
            conn,
            table: table.to_string(),
            range: None,
            text_range: None,
            null_keys: true,
        }
    }

    /// Splits of `table` on a text key cut at `bounds` (ascending in the column's collation;
    /// each the last key of a part): one range per gap, the open ends, plus the NULL keys.
    /// Every non-NULL key falls in exactly one range whatever the collation, because the server
    /// compares with the column's own.
    pub fn text_key_ranges(conn: usize, table: &str, bounds: &[String]) -> Vec<SqlSplit> {
        let mut cuts: Vec<&String> = bounds.iter().collect();
        cuts.dedup();
        let mut edges: Vec<Option<String>> = vec![None];
        edges.extend(cuts.into_iter().map(|b| Some(b.clone())));
        edges.push(None);
        let mut out: Vec<SqlSplit> = edges
            .windows(2)
            .map(|w| SqlSplit::Table {
                conn,
                table: table.to_string(),
                range: None,
                text_range: Some(TextRange {
                    after: w[0].clone(),
                    upto: w[1].clone(),
                }),
                null_keys: false,
            })
            .collect();
        out.push(SqlSplit::null_keys(conn, table));
        out
    }
}

/// A string literal for `d` that needs no escaping rules of the session: MySQL a hex string
/// with a character set introducer (coercible, so the column's collation decides), PostgreSQL
/// an escape string, Oracle a quoted string.
pub fn literal(d: Dialect, s: &str) -> String {
    match d {
        Dialect::MySql => {
            let hex: String = s.bytes().map(|b| format!("{b:02X}")).collect();
            if hex.is_empty() {
                "''".to_string()
            } else {
                format!("_utf8mb4 X'{hex}'")
            }
        }
        Dialect::Postgres => format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
        // Oracle has no escapes in literals but the doubled quote. A key value came from the
        // database, so its character set holds it.
        Dialect::Oracle => format!("'{}'", s.replace('\'', "''")),
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    #[test]
    fn selects() {
        let s = SqlSplit::Table {
            conn: 0,
            table: "shop.orders".into(),
            range: Some((1, 50)),
            text_range: None,
            null_keys: false,
        };
        assert_eq!(
            s.sql(Dialect::MySql, &["id".into(), "amount*2".into()], Some("status = 'paid'"), Some("id")),
            "SELECT id, amount*2 FROM `shop`.`orders` WHERE (status = 'paid') AND (`id` >= 1 AND `id` <= 50)"
        );
        let cols = ["id".to_string(), "name".to_string()];
        assert_eq!(
            s.keyed_sql(Dialect::MySql, &cols, None, "id", None).unwrap(),
            (
                "SELECT id, name FROM `shop`.`orders` WHERE (`id` >= 1 AND `id` <= 50) ORDER BY `shop`.`orders`.`id`".to_string(),
                Some(0)
            )
        );
        assert_eq!(
            s.keyed_sql(Dialect::MySql, &cols[1..], Some("x > 0"), "id", Some(17)).unwrap(),
            (
                "SELECT name, `shop`.`orders`.`id` AS `datasync_split_key` FROM `shop`.`orders` WHERE (x > 0) AND (`id` > 17 AND `id` <= 50) ORDER BY `shop`.`orders`.`id`".to_string(),
                None
            )
        );
        let n = SqlSplit::Table {
            conn: 0,
            table: "t".into(),
            range: None,
            text_range: None,
            null_keys: true,
        };
        assert_eq!(n.keyed_sql(Dialect::MySql, &cols, None, "id", None), None);
        assert_eq!(
            n.sql(Dialect::Postgres, &[], None, Some("id")),
            "SELECT * FROM \"t\" WHERE \"id\" IS NULL"
        );
        let k = SqlSplit::key_ranges(0, "t", Some((1, 10)), 3);
        assert_eq!(k.len(), 4);
        assert_eq!(
            SqlSplit::key_ranges(0, "t", None, 3).len(),
            1,
            "empty table: only the NULL task"
        );
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn text_key_ranges_cover_every_key_once() {
        let k = SqlSplit::text_key_ranges(0, "t", &["b".into(), "b".into(), "m".into()]);
        assert_eq!(k.len(), 4, "(..b], (b..m], (m..), NULL");
        let sql: Vec<String> = k
            .iter()
            .map(|s| s.sql(Dialect::Postgres, &[], None, Some("k")))
            .collect();
        assert_eq!(sql[0], "SELECT * FROM \"t\" WHERE (\"k\" <= E'b')");
        assert_eq!(
            sql[1],
            "SELECT * FROM \"t\" WHERE (\"k\" > E'b' AND \"k\" <= E'm')"
        );
        assert_eq!(sql[2], "SELECT * FROM \"t\" WHERE (\"k\" > E'm')");
        assert_eq!(sql[3], "SELECT * FROM \"t\" WHERE \"k\" IS NULL");
        let one = SqlSplit::text_key_ranges(0, "t", &[]);
        assert_eq!(
            one[0].sql(Dialect::MySql, &[], Some("x = 1"), Some("k")),
            "SELECT * FROM `t` WHERE (x = 1) AND (`k` IS NOT NULL)"
        );
        assert_eq!(literal(Dialect::MySql, "a'é"), "_utf8mb4 X'6127C3A9'");
        assert_eq!(literal(Dialect::Postgres, "a'b\\c"), "E'a''b\\\\c'");
        assert_eq!(k[0].keyed_sql(Dialect::MySql, &[], None, "k", None), None);
    }
}
