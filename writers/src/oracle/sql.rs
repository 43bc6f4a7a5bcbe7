//! The Oracle writer's SQL text: INSERT and MERGE with positional binds, the staging table's
//! statements, createTable, DROP that tolerates a missing table. Pure.

use datasync_db::sql::{quote_ident, Dialect};

/// `name` quoted for Oracle.
pub(super) fn q(name: &str) -> String {
    quote_ident(Dialect::Oracle, name)
}

/// `INSERT INTO t (a, b) VALUES (:1, :2)`.
pub(super) fn insert_sql(table: &str, names: &[String]) -> String {
    let cols: Vec<String> = names.iter().map(|n| q(n)).collect();
    let binds: Vec<String> = (1..=names.len()).map(|i| format!(":{i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        q(table),
        cols.join(", "),
        binds.join(", ")
    )
}

/// MERGE of `source` (a subquery or table, aliased `s`) into `table` on `key`: matched rows get
/// the other written columns, others are inserted.
fn merge_from(table: &str, source: &str, names: &[String], key: &[String]) -> String {
    let is_key = |n: &String| {
        key.iter().any(|k| {
            datasync_db::sql::unquote_ident(k)
                .eq_ignore_ascii_case(&datasync_db::sql::unquote_ident(n))
        })
    };
    let on: Vec<String> = key
        .iter()
        .map(|k| format!("t.{} = s.{}", q(k), q(k)))
        .collect();
    let set: Vec<String> = names
        .iter()
        .filter(|n| !is_key(n))
        .map(|n| format!("t.{} = s.{}", q(n), q(n)))
        .collect();
    let cols: Vec<String> = names.iter().map(|n| q(n)).collect();
    let vals: Vec<String> = names.iter().map(|n| format!("s.{}", q(n))).collect();
    let matched = if set.is_empty() {
        String::new()
    } else {
        format!(" WHEN MATCHED THEN UPDATE SET {}", set.join(", "))
    };
    format!(
        "MERGE INTO {} t USING {source} s ON ({}){matched} WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        q(table),
        on.join(" AND "),
        cols.join(", "),
        vals.join(", ")
    )
}

/// Array-bound MERGE of one row of binds per execution row.
pub(super) fn merge_sql(table: &str, names: &[String], key: &[String]) -> String {
    let sel: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!(":{} AS {}", i + 1, q(n)))
        .collect();
    merge_from(
        table,
        &format!("(SELECT {} FROM DUAL)", sel.join(", ")),
        names,
        key,
    )
}

/// The statement that moves a staging table's rows into the target.
pub(super) fn move_sql(
    table: &str,
    stage: &str,
    names: &[String],
    key: Option<&[String]>,
) -> String {
    let cols: Vec<String> = names.iter().map(|n| q(n)).collect();
    match key {
        None => format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            q(table),
            cols.join(", "),
            cols.join(", "),
            q(stage)
        ),
        Some(key) => merge_from(table, &q(stage), names, key),
    }
}

/// A staging table with the written columns of `table` (types and NOT NULLs; no rows).
pub(super) fn create_stage_sql(table: &str, stage: &str, names: &[String]) -> String {
    let cols: Vec<String> = names.iter().map(|n| q(n)).collect();
    format!(
        "CREATE TABLE {} AS SELECT {} FROM {} WHERE 1 = 0",
        q(stage),
        cols.join(", "),
        q(table)
    )
}

/// DROP TABLE that does nothing when the table is gone (ORA-00942), for Oracle releases
/// before 23ai that have no IF EXISTS.
pub(super) fn drop_if_exists_sql(quoted: &str) -> String {
    format!(
        "BEGIN EXECUTE IMMEDIATE 'DROP TABLE {} PURGE'; EXCEPTION WHEN OTHERS THEN \
         IF SQLCODE != -942 THEN RAISE; END IF; END;",
        quoted.replace('\'', "''")
    )
}

/// createTable's statement for Oracle: the shared column list without IF NOT EXISTS (which
/// Oracle before 23ai lacks; an existing table answers ORA-00955, taken as done).
pub(super) fn create_table_oracle(shared: &str) -> String {
    shared.replacen("CREATE TABLE IF NOT EXISTS ", "CREATE TABLE ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn insert_and_merge_text() {
        assert_eq!(
            insert_sql("pay.orders", &v(&["id", "amount"])),
            "INSERT INTO \"PAY\".\"ORDERS\" (\"ID\", \"AMOUNT\") VALUES (:1, :2)"
        );
        assert_eq!(
            merge_sql("t", &v(&["id", "amount", "\"Note\""]), &v(&["ID"])),
            "MERGE INTO \"T\" t USING (SELECT :1 AS \"ID\", :2 AS \"AMOUNT\", :3 AS \"Note\" FROM DUAL) s \
             ON (t.\"ID\" = s.\"ID\") WHEN MATCHED THEN UPDATE SET t.\"AMOUNT\" = s.\"AMOUNT\", \
             t.\"Note\" = s.\"Note\" WHEN NOT MATCHED THEN INSERT (\"ID\", \"AMOUNT\", \"Note\") \
             VALUES (s.\"ID\", s.\"AMOUNT\", s.\"Note\")"
        );
        // Only key columns: nothing to update when matched.
        let m = merge_sql("t", &v(&["a", "b"]), &v(&["a", "b"]));
        assert!(!m.contains("WHEN MATCHED"), "{m}");
        assert_eq!(
            move_sql("t", "datasync_stg_r_1", &v(&["a"]), None),
            "INSERT INTO \"T\" (\"A\") SELECT \"A\" FROM \"DATASYNC_STG_R_1\""
        );
        assert!(move_sql("t", "stg", &v(&["a", "b"]), Some(&v(&["a"])))
            .starts_with("MERGE INTO \"T\" t USING \"STG\" s ON (t.\"A\" = s.\"A\")"));
        assert_eq!(
            create_stage_sql("s.t", "s.stg", &v(&["a"])),
            "CREATE TABLE \"S\".\"STG\" AS SELECT \"A\" FROM \"S\".\"T\" WHERE 1 = 0"
        );
        assert_eq!(
            drop_if_exists_sql("\"S\".\"X\""),
            "BEGIN EXECUTE IMMEDIATE 'DROP TABLE \"S\".\"X\" PURGE'; EXCEPTION WHEN OTHERS THEN \
             IF SQLCODE != -942 THEN RAISE; END IF; END;"
        );
        assert_eq!(
            create_table_oracle("CREATE TABLE IF NOT EXISTS \"T\" (\"A\" NUMBER(10))"),
            "CREATE TABLE \"T\" (\"A\" NUMBER(10))"
        );
    }
}
