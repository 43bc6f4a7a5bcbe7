//! DataX's table lists: `"t1,t2"` in one entry, and ranges such as `order_[0-63]` or
//! `db.t_[00-31]_bak` (zero-padded to the width of a start written with a leading zero).

/// Most tables one range may name (a typo such as `[0-99999999]` is an error, not a hang).
const MAX_RANGE: u64 = 100_000;

/// Expands every entry of a `table` list: comma-separated names, each possibly with one
/// `[start-end]` range after a name of word characters (`[schema.]name[a-b]suffix`); the bounds
/// may be given in either order. Other names pass unchanged.
pub fn expand_tables(entries: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in entries {
        for item in entry.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match range_of(item) {
                Some((head, a, b, tail)) => {
                    let (lo, hi) = (parse(a)?, parse(b)?);
                    let (lo_text, lo, hi) = if lo <= hi { (a, lo, hi) } else { (b, hi, lo) };
                    if hi - lo >= MAX_RANGE {
                        return Err(format!(
                            "\"{item}\" names {} tables; at most {MAX_RANGE} per range",
                            hi - lo + 1
                        ));
                    }
                    let width = if lo_text.starts_with('0') {
                        lo_text.len()
                    } else {
                        0
                    };
                    out.extend((lo..=hi).map(|k| format!("{head}{k:0width$}{tail}")));
                }
                None => out.push(item.to_string()),
            }
        }
    }
    Ok(out)
}

fn parse(n: &str) -> Result<u64, String> {
    n.parse()
        .map_err(|_| format!("\"{n}\" is not a table number"))
}

/// `(head, start, end, tail)` of `[schema.]name[start-end]tail`, when `item` has that shape.
fn range_of(item: &str) -> Option<(&str, &str, &str, &str)> {
    let open = item.find('[')?;
    let close = open + item[open..].find(']')?;
    let head = &item[..open];
    let (a, b) = item[open + 1..close].split_once('-')?;
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let name = head
        .rsplit_once('.')
        .map_or(head, |(schema, name)| if word(schema) { name } else { "" });
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    (word(name) && digits(a) && digits(b)).then_some((head, a, b, &item[close + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(v: &[&str]) -> Vec<String> {
        expand_tables(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn datax_table_ranges() {
        assert_eq!(ex(&["order_[0-2]"]), ["order_0", "order_1", "order_2"]);
        assert_eq!(ex(&["t_[00-02]"]), ["t_00", "t_01", "t_02"]);
        assert_eq!(
            ex(&["db.t_[9-11]_bak"]),
            ["db.t_9_bak", "db.t_10_bak", "db.t_11_bak"]
        );
        assert_eq!(ex(&["t_[2-1]"]), ["t_1", "t_2"]);
        assert_eq!(ex(&["a, b", "c"]), ["a", "b", "c"]);
        assert_eq!(
            ex(&["`odd[1-2]`", "\"x\".t[1-2]"]),
            ["`odd[1-2]`", "\"x\".t[1-2]"]
        );
        assert_eq!(ex(&["t_[000-063]"]).len(), 64);
        assert_eq!(ex(&["t_[000-063]"])[63], "t_063");
        assert!(expand_tables(&["t_[0-99999999]".to_string()]).is_err());
    }
}
