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
