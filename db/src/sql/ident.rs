//! Identifiers: quoting per dialect, splitting dotted names, unquoting.

/// SQL dialects, for quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL / MariaDB / OceanBase MySQL mode: backticks.
    MySql,
    /// PostgreSQL: double quotes.
    Postgres,
    /// Oracle: double quotes; an unquoted name is upper-cased first, as Oracle resolves it.
    Oracle,
}

impl Dialect {
    /// The system's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::MySql => "MySQL",
            Dialect::Postgres => "PostgreSQL",
            Dialect::Oracle => "Oracle",
        }
    }

    /// `expr` as text in this system's SQL.
    pub fn text_of(self, expr: &str) -> String {
        match self {
            Dialect::MySql => format!("CAST({expr} AS CHAR)"),
            Dialect::Postgres => format!("{expr}::text"),
            Dialect::Oracle => format!("TO_CHAR({expr})"),
        }
    }

    /// A condition keeping about one row in `every`, by a deterministic non-negative hash of
    /// the (quoted) key expression `key`.
    pub fn sample_filter(self, key: &str, every: u64) -> String {
        match self {
            Dialect::MySql => format!("CRC32({key}) % {every} = 0"),
            Dialect::Postgres => format!("abs(hashtext({key}::text)::bigint) % {every} = 0"),
            // Oracle has no `%` operator.
            Dialect::Oracle => format!("MOD(ORA_HASH({key}), {every}) = 0"),
        }
    }
}

/// Quotes an identifier; a dotted name (`db.table`) is quoted part by part. A part the user
/// quoted already (`"Odd Sch"`, `` `t` ``, either quote character) is kept as written, and dots
/// inside quotes do not split.
pub fn quote_ident(d: Dialect, name: &str) -> String {
    let q = match d {
        Dialect::MySql => '`',
        Dialect::Postgres | Dialect::Oracle => '"',
    };
    split_ident(name)
        .into_iter()
        .map(|part| {
            if is_quoted(&part) {
                part
            } else {
                let part = if d == Dialect::Oracle {
                    part.to_uppercase()
                } else {
                    part
                };
                let doubled = part.replace(q, &format!("{q}{q}"));
                format!("{q}{doubled}{q}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `name` as the server resolves it when written unquoted in SQL: each unquoted part folded
/// the way the server folds one (PostgreSQL: ASCII letters to lower case; Oracle: to upper
/// case; MySQL: as written), quoted parts kept as written. A job's names go through this
/// where DataX hands them to the server unquoted, so that a later quoting finds the same
/// object the server's own folding would (and `@table` in preSql/postSql names it too).
pub fn fold_unquoted(d: Dialect, name: &str) -> String {
    split_ident(name)
        .into_iter()
        .map(|part| match d {
            _ if is_quoted(&part) => part,
            Dialect::Postgres => part.to_ascii_lowercase(),
            Dialect::Oracle => part.to_uppercase(),
            Dialect::MySql => part,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The schema `table` names (if any) and its table name, as the server stores them (quotes
/// removed).
pub fn schema_and_name(table: &str) -> (Option<String>, String) {
    let parts = split_ident(table);
    let name = parts.last().map(|p| unquote_ident(p)).unwrap_or_default();
    let schema = (parts.len() > 1).then(|| unquote_ident(&parts[parts.len() - 2]));
    (schema, name)
}

/// The parts of a dotted name, as written (quoted parts keep their quotes; a dot inside
/// quotes does not split).
pub fn split_ident(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut open: Option<char> = None;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match open {
            Some(q) if c == q => {
                cur.push(c);
                if chars.peek() == Some(&q) {
                    cur.push(q);
                    chars.next();
                } else {
                    open = None;
                }
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '`' => {
                open = Some(c);
                cur.push(c);
            }
            None if c == '.' => parts.push(std::mem::take(&mut cur)),
            None => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn is_quoted(part: &str) -> bool {
    part.len() >= 2
        && ((part.starts_with('"') && part.ends_with('"'))
            || (part.starts_with('`') && part.ends_with('`')))
}

/// One identifier as the server stores it: surrounding quotes removed and doubled quotes
/// undone (`"Na""me"` -> `Na"me`); an unquoted name as written.
pub fn unquote_ident(part: &str) -> String {
    if !is_quoted(part) {
        return part.to_string();
    }
    let q = &part[..1];
    part[1..part.len() - 1].replace(&format!("{q}{q}"), q)
}
