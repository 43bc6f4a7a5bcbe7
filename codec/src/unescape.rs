//! DataX's `csvReaderConfig.escapeMode: 2` (its CSV reader's backslash mode): inside a quoted
//! field a backslash starts an escape: `\n \r \t \b \f \e \v \a`, `\` + the quote character,
//! `\\`, octal `\0`-`\777` (or `\o` + 3 digits), `\x` + 2 hex digits, `\u` + 4 hex digits and
//! `\d` + 3 decimal digits; a backslash before any other character stands for that character.
//! Outside quotes a backslash is an ordinary character.
//!
//! The CSV parser (the `csv` crate) knows only "backslash keeps the next byte", which would
//! turn `\n` into `n`. So the (UTF-8) text is rewritten before it: escapes inside quoted fields
//! become the characters they stand for, and an escaped quote becomes a doubled quote, which
//! the parser then reads as one quote.

use std::io::{self, BufRead, Read};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// At the start of a field (`record_start`: also of a record).
    FieldStart,
    Unquoted,
    Quoted,
    /// After a backslash inside quotes.
    Escape,
    /// Reading the digits of a numeric escape.
    Number {
        radix: u32,
        max: u8,
        len: u8,
        value: u32,
        /// The letter that started it (`x`, `u`, ...; `0` for a bare octal escape).
        letter: u8,
    },
    /// After a quote that may close the field.
    AfterQuote,
    /// A comment line, up to its end.
    Comment,
}

/// Reads delimited text, rewriting backslash escapes inside quoted fields (see the module).
pub struct Unescape<R> {
    inner: R,
    quote: u8,
    delimiter: u8,
    terminator: Option<u8>,
    comment: Option<u8>,
    state: State,
    record_start: bool,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> Unescape<R> {
    /// `terminator`: a custom record terminator (`None`: CR or LF).
    pub fn new(
        inner: R,
        quote: u8,
        delimiter: u8,
        terminator: Option<u8>,
        comment: Option<u8>,
    ) -> Self {
        Unescape {
            inner,
            quote,
            delimiter,
            terminator,
            comment,
            state: State::FieldStart,
            record_start: true,
            out: Vec::new(),
            pos: 0,
        }
    }

    fn is_record_end(&self, b: u8) -> bool {
        match self.terminator {
            Some(t) => b == t,
            None => b == b'\n' || b == b'\r',
        }
    }

    /// Writes the character an escape stands for (a quote doubled).
    fn emit_char(&mut self, c: char) {
        if c as u32 == u32::from(self.quote) {
            self.out.extend_from_slice(&[self.quote, self.quote]);
        } else {
            let mut buf = [0u8; 4];
            self.out
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }

    fn step(&mut self, b: u8) {
        match self.state {
            State::FieldStart | State::Unquoted => {
                if self.state == State::FieldStart && self.record_start && Some(b) == self.comment {
                    self.state = State::Comment;
                } else if self.state == State::FieldStart && b == self.quote {
                    self.state = State::Quoted;
                } else if b == self.delimiter {
                    self.state = State::FieldStart;
                    self.record_start = false;
                    self.out.push(b);
                    return;
                } else if self.is_record_end(b) {
                    self.state = State::FieldStart;
                    self.record_start = true;
                    self.out.push(b);
                    return;
                } else {
                    self.state = State::Unquoted;
                }
                self.record_start = false;
                self.out.push(b);
            }
            State::Comment => {
                if self.is_record_end(b) {
                    self.state = State::FieldStart;
                    self.record_start = true;
                }
                self.out.push(b);
            }
            State::Quoted => {
                if b == b'\\' {
                    self.state = State::Escape;
                } else {
                    if b == self.quote {
                        self.state = State::AfterQuote;
                    }
                    self.out.push(b);
                }
            }
            State::AfterQuote => {
                // A doubled quote inside the field, or whatever follows the closing quote
                // (the parser's own rules apply to it).
                if b == self.quote {
                    self.state = State::Quoted;
                    self.out.push(b);
                } else {
                    self.state = State::Unquoted;
                    self.step(b);
                }
            }
            State::Escape => {
                self.state = State::Quoted;
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
                    radix,
                    max,
                    len,
                    value,
                    letter: b,
                };
                self.state = match b {
                    b'0'..=b'7' => number(8, 3, 1, u32::from(b - b'0')),
                    b'u' | b'U' => number(16, 4, 0, 0),
                    b'x' | b'X' => number(16, 2, 0, 0),
                    b'o' | b'O' => number(8, 3, 0, 0),
                    b'd' | b'D' => number(10, 3, 0, 0),
                    _ => {
                        // `\\`, `\"`, `\,` ...: the character itself.
                        if b == self.quote {
                            self.out.extend_from_slice(&[b, b]);
                        } else {
                            self.out.push(b);
                        }
                        State::Quoted
                    }
                };
                if let State::Number { max, len, .. } = self.state {
                    if len == max {
                        self.finish_number();
                    }
                }
            }
            State::Number {
                radix,
                max,
                len,
                value,
                letter,
            } => match char::from(b).to_digit(radix) {
                Some(d) => {
                    self.state = State::Number {
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

    /// Ends a numeric escape: its character, or (no digits, or not a character such as a lone
    /// surrogate) the escape's text (digits in lower case).
    fn finish_number(&mut self) {
        if let State::Number {
            radix,
            len,
            value,
            letter,
            ..
        } = self.state
        {
            self.state = State::Quoted;
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
    }
}

impl<R: BufRead> Read for Unescape<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                // A numeric escape cut by the end of the input still stands for its character.
                self.finish_number();
                if self.out.is_empty() {
                    return Ok(0);
                }
                break;
            }
            let chunk = chunk.to_vec();
            self.inner.consume(chunk.len());
            for b in chunk {
                self.step(b);
            }
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

    fn run(input: &str) -> String {
        let mut r = Unescape::new(
            io::BufReader::with_capacity(3, input.as_bytes()),
            b'"',
            b',',
            None,
            Some(b'#'),
        );
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap_or_default();
        s
    }

    #[test]
    fn escapes_inside_quotes_become_their_characters() {
        assert_eq!(run(r#""a\nb","t\tx""#), "\"a\nb\",\"t\tx\"");
        assert_eq!(run(r#""say \"hi\"""#), r#""say ""hi""""#);
        assert_eq!(run(r#""back\\slash""#), r#""back\slash""#);
        assert_eq!(run(r#""\x41\u00e9\101\d066\o103""#), "\"AéABC\"");
        assert_eq!(run(r#""\q""#), "\"q\"");
        assert_eq!(run(r#""\x4""#), "\"\u{4}\"");
        assert_eq!(run(r#""\u""#), r#""\u""#);
        assert_eq!(run(r#""\u0022""#), r#""""""#);
        assert_eq!(run(r#""\uD800x""#), r#""\ud800x""#);
    }

    #[test]
    fn backslashes_outside_quotes_and_in_comments_stay() {
        assert_eq!(run("a\\nb,\"x\"\\n\n"), "a\\nb,\"x\"\\n\n");
        assert_eq!(run("# \"c\\n\nz"), "# \"c\\n\nz");
        assert_eq!(run("\"a\"\"b\\n\""), "\"a\"\"b\n\"");
    }
}
