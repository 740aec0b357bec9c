//! The JSON cursor: moves over a body already known to be UTF-8, checking RFC 8259's grammar as it
//! goes, and decodes only the values asked for. Everything else is skipped in tight byte loops,
//! and nesting is skipped without recursion, so no body can overflow the stack.

use std::borrow::Cow;

use crate::scan::{digit_run, string_stop};

/// Where and why the body stopped being JSON.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub what: &'static str,
    pub pos: usize,
}

pub(crate) type Parsed<T> = Result<T, SyntaxError>;

/// A JSON value as far as a type check needs it: numbers and strings decoded, the rest skipped.
pub(crate) enum Scalar<'a> {
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Null,
    /// Anything else, named for an error message ("a boolean", "an array", "an object").
    Other(&'static str),
}

/// The cursor over a body.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Cursor { text, bytes: text.as_bytes(), pos: 0 }
    }

    /// The text between two positions of the cursor.
    pub fn text(&self, start: usize, end: usize) -> &'a str {
        &self.text[start..end]
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub fn error(&self, what: &'static str) -> SyntaxError {
        SyntaxError { what, pos: self.pos }
    }

    /// `what` went wrong here, or the body ended too soon.
    pub fn eof_or(&self, what: &'static str) -> SyntaxError {
        if self.pos >= self.bytes.len() {
            self.error("unexpected end of the body")
        } else {
            self.error(what)
        }
    }

    pub fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace, or fails with `what`.
    fn expect(&mut self, byte: u8, what: &'static str) -> Parsed<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.eof_or(what))
        }
    }

    /// After a member or element: true when another follows (`,`), false at the `close` byte.
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

    /// An object key and its colon.
    pub fn key(&mut self) -> Parsed<Cow<'a, str>> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string as the object key"));
        }
        let key = self.string()?;
        self.expect(b':', "expected ':' after an object key")?;
        Ok(key)
    }

    /// Any value at `pos` (whitespace already skipped), decoded as far as a type check needs.
    pub fn scalar(&mut self) -> Parsed<Scalar<'a>> {
        match self.peek() {
            Some(b'"') => Ok(Scalar::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'{') => {
                self.skip_value()?;
                Ok(Scalar::Other("an object"))
            }
            Some(b'[') => {
                self.skip_value()?;
                Ok(Scalar::Other("an array"))
            }
            Some(b't') => self.literal("true").map(|()| Scalar::Other("a boolean")),
            Some(b'f') => self.literal("false").map(|()| Scalar::Other("a boolean")),
            Some(b'n') => self.literal("null").map(|()| Scalar::Null),
            _ => Err(self.eof_or("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &'static str) -> Parsed<()> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.eof_or("expected a JSON value"))
        }
    }

    /// Skips one value of any depth, validating it, with no recursion: `stack` holds the open
    /// containers (`]` or `}` to close each). Returns how deeply the value nests (0 for a scalar,
    /// 1 for a flat array or object), counted as serde_json counts against its recursion limit.
    pub fn skip_value(&mut self) -> Parsed<usize> {
        let mut stack: Vec<u8> = Vec::new();
        let mut deepest = 0;
        loop {
            // A value.
            self.skip_ws();
            match self.peek() {
                Some(b'[') => match self.skip_integer_array() {
                    Some(depth) => deepest = deepest.max(stack.len() + depth),
                    None => {
                        deepest = deepest.max(stack.len() + 1);
                        if self.open(b']') {
                            stack.push(b']');
                            continue;
                        }
                    }
                },
                Some(b'{') => {
                    deepest = deepest.max(stack.len() + 1);
                    if self.open(b'}') {
                        stack.push(b'}');
                        self.skip_key()?;
                        continue;
                    }
                }
                Some(b'"') => {
                    self.skip_string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number_end()?;
                }
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                _ => return Err(self.eof_or("expected a JSON value")),
            }
            // What follows it: more of the same container, or the end of one or more.
            loop {
                let Some(&close) = stack.last() else { return Ok(deepest) };
                let what = if close == b']' {
                    "expected ',' or ']' after an array element"
                } else {
                    "expected ',' or '}' after an object member"
                };
                if self.next_or_close(close, what)? {
                    if close == b'}' {
                        self.skip_key()?;
                    }
                    break;
                }
                stack.pop();
            }
        }
    }

    /// An object key and its colon, checked and not kept.
    fn skip_key(&mut self) -> Parsed<()> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string as the object key"));
        }
        self.skip_string()?;
        self.expect(b':', "expected ':' after an object key")
    }

    /// The fast path of [`Cursor::skip_value`] for what most of a body is: arrays written without
    /// spaces whose elements are unsigned integers or flat objects of unsigned integers, as Go
    /// writes `PauseNs`, `PauseEnd` and `BySize`. Moves past one and returns its depth (1, or 2
    /// with objects), or returns `None` with the position unchanged for the general path (which
    /// then reports any error).
    fn skip_integer_array(&mut self) -> Option<usize> {
        let start = self.pos;
        let mut depth = 1;
        self.pos += 1;
        loop {
            let element = match self.peek() {
                Some(b'{') => {
                    depth = 2;
                    self.skip_flat_object()
                }
                _ => self.skip_plain_integer(),
            };
            match (element, self.peek()) {
                (true, Some(b',')) => self.pos += 1,
                (true, Some(b']')) => {
                    self.pos += 1;
                    return Some(depth);
                }
                _ => {
                    self.pos = start;
                    return None;
                }
            }
        }
    }

    /// `{"Key":1,"Other":2}` with plain keys and unsigned integers; false at anything else.
    fn skip_flat_object(&mut self) -> bool {
        self.pos += 1;
        loop {
            if self.peek() != Some(b'"') {
                return false;
            }
            let key_start = self.pos + 1;
            let Some(len) = string_stop(&self.bytes[key_start..]) else {
                return false;
            };
            self.pos = key_start + len;
            if self.bytes.get(self.pos..self.pos + 2) != Some(b"\":") {
                return false;
            }
            self.pos += 2;
            if !self.skip_plain_integer() {
                return false;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// An unsigned integer as JSON writes it (`0`, or digits not starting with 0).
    fn skip_plain_integer(&mut self) -> bool {
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        true
    }

    /// A number: exact when it is an integer that fits, else as a float.
    fn number(&mut self) -> Parsed<Scalar<'a>> {
        let start = self.pos;
        let integer = self.number_end()?;
        let text = &self.text[start..self.pos];
        if integer {
            if let Ok(n) = text.parse::<u64>() {
                return Ok(Scalar::Uint(n));
            }
            match text.parse::<i64>() {
                Ok(0) => return Ok(Scalar::Uint(0)), // -0
                Ok(n) => return Ok(Scalar::Int(n)),
                Err(_) => {}
            }
        }
        // Fractions, exponents and integers beyond 64 bits; the grammar was checked, so it parses.
        Ok(Scalar::Float(text.parse().unwrap_or(f64::NAN)))
    }

    /// Moves past a number, checking RFC 8259's grammar; true when it is a plain integer.
    fn number_end(&mut self) -> Parsed<bool> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.eof_or("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.eof_or("invalid number: expected a digit after '.'"));
            }
            self.digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.eof_or("invalid number: expected a digit in the exponent"));
            }
            self.digits();
            integer = false;
        }
        Ok(integer)
    }

    /// Moves past a run of digits.
    fn digits(&mut self) {
        self.pos += digit_run(&self.bytes[self.pos..]);
    }

    /// Moves past a string, checking it; returns whether it had escapes.
    fn skip_string(&mut self) -> Parsed<bool> {
        self.pos += 1; // the opening quote
        let mut escaped = false;
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(offset) = string_stop(rest) else {
                self.pos = self.bytes.len();
                return Err(self.error("unexpected end of the body"));
            };
            self.pos += offset;
            match self.bytes[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            let hex = self.bytes.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.eof_or("invalid \\u escape in a string"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.eof_or("invalid escape in a string")),
                    }
                }
                _ => return Err(self.error("control character in a string")),
            }
        }
    }

    /// A string, borrowed from the body unless it has escapes.
    pub fn string(&mut self) -> Parsed<Cow<'a, str>> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        let inner = &self.text[start + 1..self.pos - 1];
        if !escaped {
            return Ok(Cow::Borrowed(inner));
        }
        // The escapes were checked by skip_string; serde_json decodes them (surrogate pairs too).
        serde_json::from_str::<String>(&self.text[start..self.pos])
            .map(Cow::Owned)
            .map_err(|_| SyntaxError { what: "invalid \\u escape in a string", pos: start })
    }
}
