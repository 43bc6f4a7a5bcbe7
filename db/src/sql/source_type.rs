//! The source column's own type, recorded on an Arrow field where the Arrow type only carries
//! its values, so a SQL writer's `createTable` makes a column of the same kind.

use arrow_schema::Field;

/// Arrow field metadata key: the source column's own type where the Arrow type only carries
/// its values (exact decimal text, JSON, a MySQL TIME beyond a day...), so a SQL writer's
/// `createTable` can make a column of the same kind. Values: `decimal(p,s)`, `decimal` (no
/// declared precision), `json`, `time`, `interval`, `uuid`.
pub const SOURCE_TYPE: &str = "datasync.source_type";

/// `f` with its source type recorded (see [`SOURCE_TYPE`]).
pub fn with_source_type(f: Field, source_type: &str) -> Field {
    let mut m = f.metadata().clone();
    m.insert(SOURCE_TYPE.to_string(), source_type.to_string());
    f.with_metadata(m)
}

/// Arrow field metadata key: the field is part of the source table's primary key; the value is
/// its position in the key (1, 2, ...). A SQL writer's `createTable` makes the same key, so
/// `update`/upsert work on the created table.
pub const PRIMARY_KEY: &str = "datasync.primary_key";

/// `f` marked as the `position`-th (1-based) column of the source's primary key.
pub fn with_primary_key(f: Field, position: usize) -> Field {
    let mut m = f.metadata().clone();
    m.insert(PRIMARY_KEY.to_string(), position.to_string());
    f.with_metadata(m)
}

/// Where each column of the primary key `key` (in key order) stands among the result's
/// `names`; empty unless every key column is there (a part of a key is no key).
pub fn primary_key_positions(names: &[String], key: &[String]) -> Vec<usize> {
    let at: Vec<Option<usize>> = key
        .iter()
        .map(|k| names.iter().position(|n| n.eq_ignore_ascii_case(k)))
        .collect();
    if key.is_empty() || at.iter().any(Option::is_none) {
        return Vec::new();
    }
    at.into_iter().flatten().collect()
}

/// The names (as given by `names_of`) of the fields marked as the primary key, in key order.
pub fn primary_key_of<'a>(fields: impl Iterator<Item = (&'a Field, &'a str)>) -> Vec<&'a str> {
    let mut key: Vec<(usize, &str)> = fields
        .filter_map(|(f, name)| {
            f.metadata()
                .get(PRIMARY_KEY)
                .and_then(|p| p.parse().ok())
                .map(|p: usize| (p, name))
        })
        .collect();
    key.sort();
    key.into_iter().map(|(_, n)| n).collect()
}

/// The source type recorded on `f`, if any.
pub fn source_type(f: &Field) -> Option<&str> {
    f.metadata().get(SOURCE_TYPE).map(String::as_str)
}

/// `decimal(p,s)` of a source type, or `(None, None)` for `decimal` without precision; `None`
/// for other source types.
pub fn source_decimal(t: &str) -> Option<(Option<u32>, Option<u32>)> {
    if t == "decimal" {
        return Some((None, None));
    }
    let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
    let (p, s) = inner.split_once(',')?;
    Some((Some(p.trim().parse().ok()?), Some(s.trim().parse().ok()?)))
}

#[cfg(test)]
mod pk_tests {
    use super::*;

    #[test]
    fn a_key_is_marked_only_when_all_of_it_is_read() {
        let names: Vec<String> = ["b", "A", "c"].iter().map(|s| s.to_string()).collect();
        let key: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(primary_key_positions(&names, &key), vec![1, 0]);
        assert!(primary_key_positions(&names, &["a".into(), "z".into()]).is_empty());
        let fields = [
            with_primary_key(Field::new("x", arrow_schema::DataType::Int64, true), 2),
            Field::new("y", arrow_schema::DataType::Int64, true),
            with_primary_key(Field::new("z", arrow_schema::DataType::Int64, true), 1),
        ];
        let out = ["X", "Y", "Z"];
        assert_eq!(primary_key_of(fields.iter().zip(out)), vec!["Z", "X"]);
    }
}
