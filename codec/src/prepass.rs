//! What DataX's CSV reader (javacsv) does that the `csv` crate cannot, done on the (UTF-8)
//! text before it parses:
//!
//! - `csvReaderConfig.escapeMode: 2`: a backslash starts an escape: `\n \r \t \b \f \e \v \a`,
//!   `\` + the quote character, `\\`, octal `\0`-`\777` (or `\o` + 3 digits), `\x` + 2 hex
//!   digits, `\u` + 4 hex digits and `\d` + 3 decimal digits; a backslash before any other
//!   character stands for that character. With quotes in use, escapes count inside quoted
//!   fields only; without (`useTextQualifier: false`, or the text format), in every field.
//! - `trimWhitespace`: spaces and tabs around a field are dropped, but not inside quotes; a
//!   quote after leading spaces still opens a quoted field (`1, "a,b" ,2` is three fields),
//!   and a comment line may start after spaces.
//!
//! Escapes become the characters they stand for; an escaped quote becomes a doubled quote,
//! which the parser reads as one. Without quotes in the input, every field with a value is
//! written quoted (the parser is then told to read quotes), so a decoded delimiter or line
//! break stays inside its field.

use std::io::{self, BufRead, Read};

/// What the pass does.
#[derive(Debug, Clone, Copy)]
pub struct PrepassConfig {
    /// The quote character (when quotes are in use).
    pub quote: u8,
    /// Whether the input uses quotes.
    pub quoting: bool,
    /// escapeMode 2.
    pub escapes: bool,
    /// trimWhitespace.
    pub trim: bool,
    /// The field delimiter.
    pub delimiter: u8,
    /// A custom record terminator (`None`: CR or LF).
    pub terminator: Option<u8>,
    /// The comment character.
    pub comment: Option<u8>,
}

impl PrepassConfig {
    /// Whether the input needs the pass at all.
    pub fn needed(&self) -> bool {
        self.escapes || self.trim
    }
    /// Whether every field is quoted by the pass (escapes without quotes in the input).
    fn requote(&self) -> bool {
        self.escapes && !self.quoting
    }
    /// Whether the parser must read quotes after the pass.
    pub fn parser_quoting(&self) -> bool {
        self.quoting || self.requote()
    }
    /// The quote character the parser must use after the pass.
    pub fn parser_quote(&self) -> u8 {
        if self.quoting {
            self.quote
        } else {
            b'"'
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// In an unquoted field.
    Unquoted,
    /// In a field the input quotes.
    Quoted,
    /// After a backslash; `quoted`: inside a field the input quotes.
    Escape { quoted: bool },
    /// Reading the digits of a numeric escape.
    Number {
        quoted: bool,
        radix: u32,
        max: u8,
        len: u8,
        value: u32,
        /// The letter that started it (`x`, `u`, ...; the digit of a bare octal escape).
        letter: u8,
    },
    /// After a quote that may close the field.
    AfterQuote,
    /// A comment line, up to its end.
    Comment,
}

/// Reads delimited text through the pass (see the module).
pub struct Prepass<R> {
    inner: R,
    cfg: PrepassConfig,
    state: State,
    /// At the start of a record (a comment may start here).
    record_start: bool,
    /// The pass opened a quote for the current field.
    opened: bool,
    /// Spaces held back at the end of an unquoted field while trimming.
    pending: Vec<u8>,
    /// The input chunk being passed.
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> Prepass<R> {
    /// The pass over `inner`.
    pub fn new(inner: R, cfg: PrepassConfig) -> Self {
        Prepass {
            inner,
            cfg,
            state: State::FieldStart,
            record_start: true,
            opened: false,
            pending: Vec::new(),
            input: Vec::new(),
            out: Vec::new(),
            pos: 0,
        }
    }

    fn is_record_end(&self, b: u8) -> bool {
        match self.cfg.terminator {
            Some(t) => b == t,
            None => b == b'\n' || b == b'\r',
        }
    }

    /// A space or tab that trimming drops (never the delimiter: tab-separated files).
    fn is_space(&self, b: u8) -> bool {
        self.cfg.trim && (b == b' ' || b == b'\t') && b != self.cfg.delimiter
    }

    /// Writes a byte of a value inside quotes (the parser's quote doubled).
    fn emit_quoted(&mut self, b: u8) {
        let q = self.cfg.parser_quote();
        if b == q {
            self.out.extend_from_slice(&[q, q]);
        } else {
            self.out.push(b);
        }
    }

    /// Writes the character an escape stands for (inside quotes, the pass's or the input's).
    fn emit_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.emit_quoted(b);
        }
    }

    /// Ends the current field: held-back spaces dropped, the pass's quote closed.
    fn end_field(&mut self) {
        self.pending.clear();
        if self.opened {
            self.out.push(self.cfg.parser_quote());
            self.opened = false;
        }
    }

    fn step(&mut self, b: u8) {
        match self.state {
            State::FieldStart => self.field_start(b),
            State::Unquoted => self.unquoted(b),
            State::Comment => {
                self.out.push(b);
                if self.is_record_end(b) {
                    self.state = State::FieldStart;
                    self.record_start = true;
                }
            }
            State::Quoted => {
                if self.cfg.escapes && b == b'\\' {
                    self.state = State::Escape { quoted: true };
                } else {
                    if b == self.cfg.quote {
                        self.state = State::AfterQuote;
                    }
                    self.out.push(b);
                }
            }
            State::AfterQuote => {
                if b == self.cfg.quote {
                    // A doubled quote inside the field.
                    self.state = State::Quoted;
                    self.out.push(b);
                } else if !self.is_space(b) {
                    // Whatever follows the closing quote: the parser's own rules apply.
                    self.state = State::Unquoted;
                    self.unquoted(b);
                }
            }
            State::Escape { quoted } => self.escape(b, quoted),
            State::Number {
                quoted,
                radix,
                max,
                len,
                value,
                letter,
            } => match char::from(b).to_digit(radix) {
                Some(d) => {
                    self.state = State::Number {
                        quoted,
                        radix,
                        max,
                        len: len + 1,
                        value: value * radix + d,
                        letter,
                    };
                    if len + 1 == max {
                        self.finish_number();
                    }
                }
                None => {
                    self.finish_number();
                    self.step(b);
                }
            },
        }
    }

    fn field_start(&mut self, b: u8) {
        if self.is_space(b) {
            return;
        }
        if self.record_start && Some(b) == self.cfg.comment {
            self.state = State::Comment;
            self.out.push(b);
            return;
        }
        if b == self.cfg.delimiter {
            self.record_start = false;
            self.out.push(b);
            return;
        }
        if self.is_record_end(b) {
            self.record_start = true;
            self.out.push(b);
            return;
        }
        self.record_start = false;
        if self.cfg.quoting && b == self.cfg.quote {
            self.state = State::Quoted;
            self.out.push(b);
            return;
        }
        self.state = State::Unquoted;
        if self.cfg.requote() {
            self.out.push(self.cfg.parser_quote());
            self.opened = true;
        }
        self.unquoted(b);
    }

    fn unquoted(&mut self, b: u8) {
        if b == self.cfg.delimiter || self.is_record_end(b) {
            self.end_field();
            self.out.push(b);
            self.state = State::FieldStart;
            self.record_start = b != self.cfg.delimiter;
            return;
        }
        if self.is_space(b) {
            self.pending.push(b);
            return;
        }
        if !self.pending.is_empty() {
            let held = std::mem::take(&mut self.pending);
            for s in held {
                self.out.push(s);
            }
        }
        if self.opened && b == b'\\' {
            self.state = State::Escape { quoted: false };
        } else if self.opened {
            self.emit_quoted(b);
        } else {
            self.out.push(b);
        }
    }

    fn escape(&mut self, b: u8, quoted: bool) {
        self.state = if quoted {
            State::Quoted
        } else {
            State::Unquoted
        };
        let simple = match b {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'e' => Some(0x1b),
            b'v' => Some(0x0b),
            b'a' => Some(0x07),
            _ => None,
        };
        if let Some(c) = simple {
            self.out.push(c);
            return;
        }
        let number = |radix, max, len, value| State::Number {
            quoted,
            radix,
            max,
            len,
            value,
            letter: b,
        };
        match b {
            b'0'..=b'7' => self.state = number(8, 3, 1, u32::from(b - b'0')),
            b'u' | b'U' => self.state = number(16, 4, 0, 0),
            b'x' | b'X' => self.state = number(16, 2, 0, 0),
            b'o' | b'O' => self.state = number(8, 3, 0, 0),
            b'd' | b'D' => self.state = number(10, 3, 0, 0),
            // `\\`, `\"`, `\,` ...: the character itself.
            _ => self.emit_quoted(b),
        }
    }

    /// Ends a numeric escape: its character, or (no digits, or not a character such as a lone
    /// surrogate) the escape's text (digits in lower case).
    fn finish_number(&mut self) {
        let State::Number {
            quoted,
            radix,
            len,
            value,
            letter,
            ..
        } = self.state
        else {
            return;
        };
        self.state = if quoted {
            State::Quoted
        } else {
            State::Unquoted
        };
        match char::from_u32(value) {
            Some(c) if len > 0 => self.emit_char(c),
            _ => {
                let width = usize::from(len);
                let digits = match (len, radix) {
                    (0, _) => String::new(),
                    (_, 16) => format!("{value:0width$x}"),
                    (_, 8) => format!("{value:0width$o}"),
                    _ => format!("{value:0width$}"),
                };
                self.out.push(b'\\');
                self.out.push(letter);
                self.out.extend_from_slice(digits.as_bytes());
            }
        }
    }

    /// The end of the input: a numeric escape still stands for its character, a lone
    /// backslash for itself; the last field is closed.
    fn finish(&mut self) {
        self.finish_number();
        if let State::Escape { .. } = self.state {
            self.emit_quoted(b'\\');
        }
        self.end_field();
        self.state = State::FieldStart;
    }
}

impl<R: BufRead> Read for Prepass<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                self.finish();
                if self.out.is_empty() {
                    return Ok(0);
                }
                break;
            }
            // Copied into a buffer kept across reads: `step` needs `self` whole.
            let mut input = std::mem::take(&mut self.input);
            input.clear();
            input.extend_from_slice(chunk);
            self.inner.consume(input.len());
            for &b in &input {
                self.step(b);
            }
            self.input = input;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(input: &str, quoting: bool, escapes: bool, trim: bool) -> String {
        let cfg = PrepassConfig {
            quote: b'"',
            quoting,
            escapes,
            trim,
            delimiter: b',',
            terminator: None,
            comment: Some(b'#'),
        };
        let mut r = Prepass::new(io::BufReader::with_capacity(3, input.as_bytes()), cfg);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap_or_default();
        s
    }

    fn esc(input: &str) -> String {
        pass(input, true, true, false)
    }

    #[test]
    fn escapes_inside_quotes_become_their_characters() {
        assert_eq!(esc(r#""a\nb","t\tx""#), "\"a\nb\",\"t\tx\"");
        assert_eq!(esc(r#""say \"hi\"""#), r#""say ""hi""""#);
        assert_eq!(esc(r#""back\\slash""#), r#""back\slash""#);
        assert_eq!(esc(r#""\x41\u00e9\101\d066\o103""#), "\"AéABC\"");
        assert_eq!(esc(r#""\q""#), "\"q\"");
        assert_eq!(esc(r#""\x4""#), "\"\u{4}\"");
        assert_eq!(esc(r#""\u""#), r#""\u""#);
        assert_eq!(esc(r#""\u0022""#), r#""""""#);
        assert_eq!(esc(r#""\uD800x""#), r#""\ud800x""#);
    }

    #[test]
    fn backslashes_outside_quotes_and_in_comments_stay() {
        assert_eq!(esc("a\\nb,\"x\"\\n\n"), "a\\nb,\"x\"\\n\n");
        assert_eq!(esc("# \"c\\n\nz"), "# \"c\\n\nz");
        assert_eq!(esc("\"a\"\"b\\n\""), "\"a\"\"b\n\"");
    }

    #[test]
    fn without_quotes_escapes_count_everywhere_and_fields_are_quoted_for_the_parser() {
        let p = |s| pass(s, false, true, false);
        assert_eq!(p("a\\,b,c\\nd,\n"), "\"a,b\",\"c\nd\",\n");
        assert_eq!(p("say \"hi\",x\\\\y\n"), "\"say \"\"hi\"\"\",\"x\\y\"\n");
        assert_eq!(p(",,\n\n"), ",,\n\n", "empty fields and lines stay empty");
        assert_eq!(
            p("tail\\"),
            "\"tail\\\"",
            "a lone backslash at the end stands for itself"
        );
    }

    #[test]
    fn trimming_keeps_quoted_values_and_finds_quotes_and_comments_after_spaces() {
        let t = |s| pass(s, true, false, true);
        assert_eq!(t("1, \"x,y\" ,z \n"), "1,\"x,y\",z\n");
        assert_eq!(t(" \" a b \" , c d \n"), "\" a b \",c d\n");
        assert_eq!(t("  #2,b\n3\n"), "#2,b\n3\n");
        let te = |s| pass(s, true, true, true);
        assert_eq!(
            te(", 'x' ,\n"),
            ",'x',\n",
            "another quote character is data here"
        );
        assert_eq!(te(" \"x\\ny\" ,\n"), "\"x\ny\",\n");
        let cfg = PrepassConfig {
            quote: b'"',
            quoting: true,
            escapes: false,
            trim: true,
            delimiter: b'\t',
            terminator: None,
            comment: None,
        };
        let mut r = Prepass::new(" a \t\t b\n".as_bytes(), cfg);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap_or_default();
        assert_eq!(s, "a\t\tb\n", "a tab delimiter is not trimmed away");
    }
}
