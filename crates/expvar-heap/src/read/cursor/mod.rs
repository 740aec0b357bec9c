//! The JSON cursor: moves over a body's bytes, checking RFC 8259's grammar as it goes (and UTF-8
//! inside strings, the only place a valid body has non-ASCII bytes), and decodes only the values
//! asked for. Everything else is skipped in word-at-a-time loops, and nesting is skipped without
//! recursion, so no body can overflow the stack. By stage:
//!
//! - this module: the cursor, its position, whitespace, separators, keys and values;
//! - `skip`: the grammar, once: where a value, string, number, key or literal ends, or where and
//!   why the body stops being JSON;
//! - `compact`: the fast paths for the compact shapes Go writes (the rings, `BySize`, `cmdline`,
//!   `memstats` keys), each giving up to the general path at anything else;
//! - `number`: numbers decoded, exactly;
//! - `trusted`: values passed over by their structure alone, in JSON its host wrote itself.

mod compact;
mod number;
mod skip;
mod trusted;

use std::borrow::Cow;

pub(crate) use number::uint_value;
use skip::{Key, after_ws, key, literal_end, number_end, skip, stop, string_end};

/// Where and why the body stopped being JSON.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub what: &'static str,
    pub pos: usize,
}

pub(crate) type Parsed<T> = Result<T, SyntaxError>;

/// A JSON value as far as a type check needs it: numbers and strings decoded, the rest skipped.
pub(crate) enum Value<'a> {
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Null,
    /// Anything else, named for an error message ("a boolean", "an array", "an object").
    Other(&'static str),
}

/// The cursor over a body. It reads bytes, not text: the grammar outside strings is ASCII, and
/// string content is checked as UTF-8 where it is not ASCII, so a body read to its end without an
/// error is valid UTF-8 (no pass over the whole body checks it first).
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// The text between two positions of the cursor, which it has read (so it is UTF-8; an empty
    /// text if it were not).
    pub fn text(&self, start: usize, end: usize) -> &'a str {
        std::str::from_utf8(&self.bytes[start..end]).unwrap_or_default()
    }

    /// The bytes between two positions of the cursor.
    pub fn text_bytes(&self, start: usize, end: usize) -> &'a [u8] {
        &self.bytes[start..end]
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub fn error(&self, what: &'static str) -> SyntaxError {
        SyntaxError { what, pos: self.pos }
    }

    /// `what` went wrong here, or the body ended too soon.
    pub fn eof_or(&self, what: &'static str) -> SyntaxError {
        stop(self.bytes, self.pos, what)
    }

    #[inline(always)]
    pub fn skip_ws(&mut self) {
        self.pos = after_ws(self.bytes, self.pos);
    }

    /// After a member or element: true when another follows (`,`), false at the `close` byte.
    #[inline(always)]
    pub fn next_or_close(&mut self, close: u8, what: &'static str) -> Parsed<bool> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.eof_or(what)),
        }
    }

    /// Opens an object or array already seen at `pos`: true when it has a first member.
    pub fn open(&mut self, close: u8) -> bool {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            false
        } else {
            true
        }
    }

    /// An object key and its colon, as bytes: borrowed from the body unless it has escapes (for
    /// keys compared with known names, with no check that they are UTF-8 text again).
    #[inline(always)]
    pub fn key_bytes(&mut self) -> Parsed<Cow<'a, [u8]>> {
        self.skip_ws();
        let start = self.pos;
        let Key { string_end, escaped, colon_end } = key(self.bytes, start)?;
        let key = if escaped {
            Cow::Owned(self.string()?.into_owned().into_bytes())
        } else {
            Cow::Borrowed(&self.bytes[start + 1..string_end - 1])
        };
        self.pos = colon_end;
        Ok(key)
    }

    /// Any value at `pos` (whitespace already skipped), decoded as far as a type check needs.
    pub fn value(&mut self) -> Parsed<Value<'a>> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'{') => {
                self.skip_value()?;
                Ok(Value::Other("an object"))
            }
            Some(b'[') => {
                self.skip_value()?;
                Ok(Value::Other("an array"))
            }
            Some(b't') => self.literal("true").map(|()| Value::Other("a boolean")),
            Some(b'f') => self.literal("false").map(|()| Value::Other("a boolean")),
            Some(b'n') => self.literal("null").map(|()| Value::Null),
            _ => Err(self.eof_or("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &'static str) -> Parsed<()> {
        self.pos = literal_end(self.bytes, self.pos, word.as_bytes())?;
        Ok(())
    }

    /// Skips one value of any depth, validating it ([`skip`]), and returns how deeply it nests.
    pub fn skip_value(&mut self) -> Parsed<usize> {
        let (end, depth) = skip(self.bytes, self.pos)?;
        self.pos = end;
        Ok(depth)
    }

    /// Moves past a number, checking RFC 8259's grammar; true when it is a plain integer.
    fn number_end(&mut self) -> Parsed<bool> {
        let (end, integer) = number_end(self.bytes, self.pos)?;
        self.pos = end;
        Ok(integer)
    }

    /// Moves past a string, checking it; returns whether it had escapes.
    fn skip_string(&mut self) -> Parsed<bool> {
        let (end, escaped) = string_end(self.bytes, self.pos)?;
        self.pos = end;
        Ok(escaped)
    }

    /// A string, borrowed from the body unless it has escapes.
    pub fn string(&mut self) -> Parsed<Cow<'a, str>> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(self.text(start + 1, self.pos - 1)));
        }
        Ok(Cow::Owned(unescape(self.text(start + 1, self.pos - 1))))
    }
}

/// A string's content whose escapes [`string_end`] checked, each escape decoded: a surrogate
/// pair as its character, and a lone surrogate (which JSON's grammar allows and no UTF-8 text can
/// hold) as U+FFFD.
fn unescape(content: &str) -> String {
    let hex = |at: usize| u32::from_str_radix(&content[at..at + 4], 16).unwrap_or(0xFFFD);
    let mut out = String::with_capacity(content.len());
    let mut pos = 0;
    while let Some(found) = content[pos..].find('\\') {
        let at = pos + found;
        out.push_str(&content[pos..at]);
        let (decoded, len) = match content.as_bytes()[at + 1] {
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let unit = hex(at + 2);
                let pair = (0xD800..0xDC00).contains(&unit)
                    && content[at + 6..].starts_with("\\u")
                    && (0xDC00..0xE000).contains(&hex(at + 8));
                if pair {
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (hex(at + 8) - 0xDC00);
                    (char::from_u32(code).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(unit).unwrap_or('\u{FFFD}'), 6)
                }
            }
            other => (char::from(other), 2), // `"`, `\\` or `/`
        };
        out.push(decoded);
        pos = at + len;
    }
    out.push_str(&content[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_a_lone_surrogate_is_a_replacement_character() {
        for (json, text) in [
            (r#""plain""#, "plain"),
            (r#""a\"b\\c\/d\b\f\n\r\t""#, "a\"b\\c/d\u{8}\u{c}\n\r\t"),
            (r#""\u00e9\u4e2d\ud83d\ude00!""#, "é中😀!"),
            (r#""\udfdf6c""#, "\u{FFFD}6c"),
            (r#""\ud83dx\ud83d""#, "\u{FFFD}x\u{FFFD}"),
            (r#""\ud83d\u0041""#, "\u{FFFD}A"),
        ] {
            let mut cursor = Cursor::new(json.as_bytes());
            assert_eq!(cursor.string().unwrap(), text, "{json}");
            assert_eq!(cursor.pos, json.len());
            // serde_json agrees wherever it decodes the string at all.
            if let Ok(decoded) = serde_json::from_str::<String>(json) {
                assert_eq!(decoded, text, "{json}");
            }
        }
    }
}
