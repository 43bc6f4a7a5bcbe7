//! `datasync template`: a job skeleton as JSON with `//` comments (which job files may hold, see
//! [`strip_comments`]): a comment above each parameter with what it does and its default, and
//! parameters that stand instead of another (a password instead of a key) shown commented out.

use serde_json::Value;

/// The comment of one parameter in `datasync template`.
#[derive(Debug, Clone, Copy)]
pub struct TemplateNote {
    /// The parameter's path inside the plugin's `parameter` object: `column`, or
    /// `connection[].querySql` for a member of the objects of a list.
    pub key: &'static str,
    /// What it does, its default and its choices.
    pub note: &'static str,
    /// For a parameter the skeleton leaves out (it stands instead of another one): its sample
    /// value as JSON text, shown commented out.
    pub alt: Option<&'static str>,
}

/// One object of the keys of each object in `parts`, in order (a later part's key replaces an
/// earlier one's value in place): a plugin's template from the shared option groups it embeds.
pub fn merged(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut out = serde_json::Map::new();
    for p in parts {
        if let Value::Object(o) = p {
            out.extend(o);
        }
    }
    Value::Object(out)
}

/// `base` with each note of `over` replacing the note of the same key (or added).
pub fn override_notes(mut base: Vec<TemplateNote>, over: Vec<TemplateNote>) -> Vec<TemplateNote> {
    for o in over {
        match base.iter_mut().find(|b| b.key == o.key) {
            Some(b) => *b = o,
            None => base.push(o),
        }
    }
    base
}

/// A note for a parameter the template holds.
pub const fn note(key: &'static str, note: &'static str) -> TemplateNote {
    TemplateNote {
        key,
        note,
        alt: None,
    }
}

/// A note for a parameter shown commented out, with its sample JSON value.
pub const fn alt(key: &'static str, value: &'static str, note: &'static str) -> TemplateNote {
    TemplateNote {
        key,
        note,
        alt: Some(value),
    }
}

/// Renders `v` as indented JSON with the notes of `notes` (each list applies to the object at
/// its path, e.g. `job.content[].reader.parameter`) as `//` comments.
pub fn render(v: &Value, notes: &[(&str, &[TemplateNote])]) -> String {
    let mut out = String::new();
    write(v, "", 0, notes, &mut out);
    out.push('\n');
    out
}

/// The note for the member at `path`, and the commented-out members of the object at `path`.
fn notes_at<'a>(
    path: &str,
    notes: &'a [(&str, &'a [TemplateNote])],
) -> impl Iterator<Item = (&'a str, &'a TemplateNote)> {
    let path = path.to_string();
    notes.iter().flat_map(move |(prefix, list)| {
        let path = path.clone();
        list.iter().filter_map(move |n| {
            let full = format!("{prefix}.{}", n.key);
            let (parent, key) = full.rsplit_once('.')?;
            (parent == path).then_some((&n.key[n.key.len() - key.len()..], n))
        })
    })
}

fn write(
    v: &Value,
    path: &str,
    indent: usize,
    notes: &[(&str, &[TemplateNote])],
    out: &mut String,
) {
    let pad = |n: usize| " ".repeat(n);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let here: Vec<(&str, &TemplateNote)> = notes_at(path, notes).collect();
            out.push_str("{\n");
            // Alternatives first, commented out with their comma: uncommenting one is enough.
            for (k, note) in here.iter().filter(|(k, _)| !m.contains_key(*k)) {
                if let Some(value) = note.alt {
                    comment(note.note, indent + 2, out);
                    out.push_str(&format!("{}// \"{k}\": {value},\n", pad(indent + 2)));
                }
            }
            let n = m.len();
            for (i, (k, val)) in m.iter().enumerate() {
                if let Some((_, note)) = here.iter().find(|(key, _)| key == k) {
                    comment(note.note, indent + 2, out);
                }
                out.push_str(&pad(indent + 2));
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push_str(": ");
                let child = format!("{path}.{k}");
                write(val, child.trim_start_matches('.'), indent + 2, notes, out);
                if i + 1 < n {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, item) in a.iter().enumerate() {
                out.push_str(&pad(indent + 2));
                write(item, &format!("{path}[]"), indent + 2, notes, out);
                if i + 1 < a.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

/// `// text` lines at `indent`, wrapped near 96 columns.
fn comment(text: &str, indent: usize, out: &mut String) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + 3 + line.len() + word.len() > 96 {
            out.push_str(&format!("{}// {line}\n", " ".repeat(indent)));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{}// {line}\n", " ".repeat(indent)));
    }
}

/// The job text with `//` and `/* */` comments outside strings replaced by spaces (line breaks
/// kept, so positions in errors stay right). DataX's own loader does not take comments. A
/// `/*` never closed is an error: (line, column) where it opens.
pub fn strip_comments(text: &str) -> Result<String, (usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match (c, b.get(i + 1)) {
            (b'"', _) => {
                in_str = true;
                out.push(c);
                i += 1;
            }
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                let opened = i;
                out.extend_from_slice(b"  ");
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    out.push(if b[i] == b'\n' { b'\n' } else { b' ' });
                    i += 1;
                }
                if i >= b.len() {
                    let before = &text[..opened];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
                    return Err((line, col));
                }
                out.extend_from_slice(b"  ");
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Only ASCII bytes were replaced, by ASCII: the text stays UTF-8.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_go_and_strings_stay() {
        let t = "{\n  // a comment \"with quotes\"\n  \"a\": \"x // not a comment\", /* b\n c */ \"b\": \"\\\"/*\"\n}";
        let s = strip_comments(t).unwrap();
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x // not a comment");
        assert_eq!(v["b"], "\"/*");
        assert_eq!(s.lines().count(), t.lines().count());
        assert_eq!(strip_comments("{\n  \"a\": 1 /* open\n}"), Err((2, 10)));
    }

    #[test]
    fn notes_become_comments_and_alternatives_commented_out_members() {
        let v = serde_json::json!({"p": {"user": "u", "conn": [{"url": "x"}]}});
        const N: &[TemplateNote] = &[
            note("user", "login user"),
            alt("password", "\"${pw}\"", "instead of a key"),
            note("conn[].url", "where"),
            alt("conn[].query", "[\"SELECT 1\"]", "instead of a table"),
        ];
        let text = render(&v, &[("p", N)]);
        assert!(
            text.contains("    // login user\n    \"user\": \"u\","),
            "{text}"
        );
        assert!(
            text.contains("    // instead of a key\n    // \"password\": \"${pw}\",\n    // login"),
            "{text}"
        );
        assert!(
            text.contains("        // where\n        \"url\": \"x\"\n"),
            "{text}"
        );
        assert!(
            text.contains("        // \"query\": [\"SELECT 1\"],\n        // where\n"),
            "{text}"
        );
        let back: Value = serde_json::from_str(&strip_comments(&text).unwrap()).unwrap();
        assert_eq!(back, v);
    }
}
