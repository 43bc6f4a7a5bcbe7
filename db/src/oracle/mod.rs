//! Oracle over the `oracle` crate (ODPI-C). The Oracle client library (Instant Client) is loaded
//! at run time: the binary builds and every other plugin runs without it, and an Oracle job
//! without it fails before it touches anything with [`CLIENT_HELP`].

mod conn;
mod types;
mod url;

pub use conn::{
    client_status, runtime, OracleConn, OracleConnConfig, OracleError, CLIENT_HELP,
    SESSION_DEFAULTS,
};
pub use types::{
    arrow_type, datetime_text, ddl_for, ddl_type, number_text, OracleKind, TYPE_TABLE,
};
pub use url::{parse_oracle_url, OracleUrl, ORACLE_URL_FORMS};

pub use datasync_codec::float_text;
pub use oracle;

use crate::sql::{quote_ident, Dialect};

/// A query of the table's extents in ROWID order: the first and last ROWID each extent can
/// hold, and its size in blocks. Needs DBA_EXTENTS and DBA_OBJECTS (SELECT_CATALOG_ROLE);
/// USER_EXTENTS does not say where an extent is, so it cannot give ROWIDs.
pub fn extents_sql(table: &str) -> String {
    let (owner, name) = owner_and_name(table);
    format!(
        "SELECT ROWIDTOCHAR(DBMS_ROWID.ROWID_CREATE(1, o.DATA_OBJECT_ID, e.RELATIVE_FNO, \
         e.BLOCK_ID, 0)), ROWIDTOCHAR(DBMS_ROWID.ROWID_CREATE(1, o.DATA_OBJECT_ID, \
         e.RELATIVE_FNO, e.BLOCK_ID + e.BLOCKS - 1, 32767)), e.BLOCKS \
         FROM DBA_EXTENTS e JOIN DBA_OBJECTS o ON o.OWNER = e.OWNER \
         AND o.OBJECT_NAME = e.SEGMENT_NAME \
         AND NVL(o.SUBOBJECT_NAME, '-') = NVL(e.PARTITION_NAME, '-') \
         AND o.OBJECT_TYPE LIKE 'TABLE%' \
         WHERE e.OWNER = {owner} AND e.SEGMENT_NAME = {} AND o.DATA_OBJECT_ID IS NOT NULL \
         ORDER BY o.DATA_OBJECT_ID, e.RELATIVE_FNO, e.BLOCK_ID",
        name
    )
}

/// The owner expression and the table name literal of `table` as Oracle stores them: an
/// unquoted part upper-cased, a quoted one as written; no schema = the current schema.
pub fn owner_and_name(table: &str) -> (String, String) {
    let stored = |part: &str| {
        if part.starts_with('"') {
            crate::sql::unquote_ident(part)
        } else {
            part.to_uppercase()
        }
    };
    let parts = crate::sql::split_ident(table);
    let name = parts.last().map(|p| stored(p)).unwrap_or_default();
    let owner = match parts.len() {
        0 | 1 => "SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')".to_string(),
        n => crate::sql::literal(Dialect::Oracle, &stored(&parts[n - 2])),
    };
    (owner, crate::sql::literal(Dialect::Oracle, &name))
}

/// Where to cut a table whose extents (in ROWID order: first ROWID, last ROWID, blocks) are
/// `extents` into at most `n` reads of about equal blocks: the last ROWID of each read but the
/// last. The reads are `ROWID <= c1`, `c1 < ROWID <= c2`, ..., `ROWID > c(n-1)`: every row is
/// in exactly one, also one in an extent added after planning.
pub fn rowid_cuts(extents: &[(String, String, u64)], n: usize) -> Vec<String> {
    let total: u64 = extents.iter().map(|e| e.2).sum();
    if n < 2 || extents.len() < 2 || total == 0 {
        return Vec::new();
    }
    let per = total.div_ceil(n as u64);
    let mut cuts = Vec::new();
    let mut acc = 0u64;
    for (i, (_, last, blocks)) in extents.iter().enumerate() {
        acc += blocks;
        if acc >= per * (cuts.len() as u64 + 1) && i + 1 < extents.len() && cuts.len() + 1 < n {
            cuts.push(last.clone());
        }
    }
    cuts
}

/// The SELECT of one ROWID range of `table` (see [`rowid_cuts`]): `columns` and `where_clause`
/// raw, as the job writes them.
pub fn rowid_range_sql(
    table: &str,
    columns: &[String],
    where_clause: Option<&str>,
    after: Option<&str>,
    upto: Option<&str>,
) -> String {
    let cols = if columns.is_empty() {
        "*".to_string()
    } else {
        columns.join(", ")
    };
    let lit = |r: &str| format!("CHARTOROWID('{}')", r.replace('\'', "''"));
    let mut conds = Vec::new();
    if let Some(w) = where_clause.filter(|w| !w.trim().is_empty()) {
        conds.push(format!("({w})"));
    }
    if let Some(a) = after {
        conds.push(format!("ROWID > {}", lit(a)));
    }
    if let Some(u) = upto {
        conds.push(format!("ROWID <= {}", lit(u)));
    }
    let mut sql = format!("SELECT {cols} FROM {}", quote_ident(Dialect::Oracle, table));
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql
}

/// The query of about how many rows `table` holds (optimizer statistics; NULL when never
/// gathered).
pub fn row_estimate_sql(table: &str) -> String {
    let (owner, name) = owner_and_name(table);
    format!(
        "SELECT TO_CHAR(NUM_ROWS) FROM ALL_TABLES WHERE OWNER = {owner} AND TABLE_NAME = {}",
        name
    )
}

/// The query of `table`'s primary key columns, in key order.
pub fn primary_key_sql(table: &str) -> String {
    let (owner, name) = owner_and_name(table);
    format!(
        "SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc \
         ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME \
         WHERE c.CONSTRAINT_TYPE = 'P' AND c.OWNER = {owner} AND c.TABLE_NAME = {} \
         ORDER BY cc.POSITION",
        name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_literals() {
        assert_eq!(
            quote_ident(Dialect::Oracle, "scott.emp"),
            "\"SCOTT\".\"EMP\""
        );
        assert_eq!(quote_ident(Dialect::Oracle, "order"), "\"ORDER\"");
        assert_eq!(
            quote_ident(Dialect::Oracle, "\"MixedCase\".t"),
            "\"MixedCase\".\"T\""
        );
        assert_eq!(quote_ident(Dialect::Oracle, "a\"b"), "\"A\"\"B\"");
        assert_eq!(
            crate::sql::literal(Dialect::Oracle, "it's \\n"),
            "'it''s \\n'"
        );
    }

    #[test]
    fn split_predicates() {
        use crate::sql::{SqlSplit, TextRange};
        let s = SqlSplit::Table {
            conn: 0,
            table: "pay.orders".into(),
            range: Some((1, 500)),
            text_range: None,
            null_keys: false,
        };
        assert_eq!(
            s.sql(Dialect::Oracle, &["id".into(), "amount".into()], Some("status = 'OK'"), Some("id")),
            "SELECT id, amount FROM \"PAY\".\"ORDERS\" WHERE (status = 'OK') AND (\"ID\" >= 1 AND \"ID\" <= 500)"
        );
        let (keyed, at) = s
            .keyed_sql(Dialect::Oracle, &["amount".into()], None, "id", Some(42))
            .unwrap();
        assert_eq!(at, None);
        assert_eq!(
            keyed,
            "SELECT amount, \"PAY\".\"ORDERS\".\"ID\" AS \"DATASYNC_SPLIT_KEY\" FROM \"PAY\".\"ORDERS\" WHERE (\"ID\" > 42 AND \"ID\" <= 500) ORDER BY \"PAY\".\"ORDERS\".\"ID\""
        );
        let t = SqlSplit::Table {
            conn: 0,
            table: "t".into(),
            range: None,
            text_range: Some(TextRange {
                after: Some("k'1".into()),
                upto: None,
            }),
            null_keys: false,
        };
        assert_eq!(
            t.sql(Dialect::Oracle, &[], None, Some("code")),
            "SELECT * FROM \"T\" WHERE (\"CODE\" > 'k''1')"
        );
    }

    #[test]
    fn rowid_ranges_cover_every_extent_once() {
        let ext: Vec<(String, String, u64)> = (0..10)
            .map(|i| {
                (
                    format!("AAAS{i}A"),
                    format!("AAAS{i}Z"),
                    if i == 3 { 80 } else { 8 },
                )
            })
            .collect();
        let cuts = rowid_cuts(&ext, 4);
        assert!(cuts.len() <= 3 && !cuts.is_empty(), "{cuts:?}");
        // Cuts are extent ends, ascending, never the last extent's.
        let ends: Vec<&String> = ext.iter().map(|e| &e.1).collect();
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        assert!(cuts.iter().all(|c| ends.contains(&c) && *c != ext[9].1));
        assert!(rowid_cuts(&ext[..1], 4).is_empty());
        assert!(rowid_cuts(&ext, 1).is_empty());
        assert_eq!(
            rowid_range_sql("t", &["a".into()], Some("a > 0"), Some("AAAS1Z"), Some("AAAS5Z")),
            "SELECT a FROM \"T\" WHERE (a > 0) AND ROWID > CHARTOROWID('AAAS1Z') AND ROWID <= CHARTOROWID('AAAS5Z')"
        );
        assert_eq!(
            rowid_range_sql("t", &[], None, None, Some("AAAS1Z")),
            "SELECT * FROM \"T\" WHERE ROWID <= CHARTOROWID('AAAS1Z')"
        );
        assert!(extents_sql("pay.orders").contains("e.OWNER = 'PAY' AND e.SEGMENT_NAME = 'ORDERS'"));
        assert!(extents_sql("\"Mixed\"").contains("SEGMENT_NAME = 'Mixed'"));
    }
}
