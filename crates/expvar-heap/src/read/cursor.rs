//! The JSON cursor: moves over a body's bytes, checking RFC 8259's grammar as it goes (and UTF-8
//! inside strings, the only place a valid body has non-ASCII bytes), and decodes only the values
//! asked for. Everything else is skipped in word-at-a-time loops, with fast paths for the
//! compact arrays Go writes, and nesting is skipped without recursion, so no body can overflow
//! the stack.

use std::borrow::Cow;

use crate::scan::{
    bytes_to_inspect, digit_run, digits_value, leading_digits, load, non_digit_bytes,
};

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

/// Four `0,` elements, eight bytes: how an idle program's rings are mostly written.
const FOUR_ZEROS: u64 = u64::from_le_bytes(*b"0,0,0,0,");

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

    /// The bytes after the cursor.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos.min(self.bytes.len())..]
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

    #[inline(always)]
    pub fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace, or fails with `what`.
    #[inline(always)]
    fn expect(&mut self, byte: u8, what: &'static str) -> Parsed<()> {
        if self.peek() != Some(byte) {
            self.skip_ws();
            if self.peek() != Some(byte) {
                return Err(self.eof_or(what));
            }
        }
        self.pos += 1;
        Ok(())
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

    /// An object key of at most 16 bytes of plain ASCII (no escape) right followed by its colon,
    /// as Go writes `memstats`: moves past both and returns the key's length and its bytes as two
    /// zero-padded little-endian words (compared with known keys without a byte loop); `None`,
    /// not moving, at anything else.
    #[inline(always)]
    pub fn short_key(&mut self) -> Option<(usize, [u64; 2])> {
        let bytes = self.bytes;
        if bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let start = self.pos + 1;
        let first = load(bytes, start);
        let stops = bytes_to_inspect(first);
        let (len, words) = if stops != 0 {
            let len = (stops.trailing_zeros() / 8) as usize;
            (len, [first & low_bytes(len), 0])
        } else {
            let second = load(bytes, start + 8);
            let stops = bytes_to_inspect(second);
            if stops == 0 {
                return None;
            }
            let len = (stops.trailing_zeros() / 8) as usize;
            (8 + len, [first, second & low_bytes(len)])
        };
        if bytes.get(start + len..start + len + 2) != Some(b"\":") {
            return None;
        }
        self.pos = start + len + 2;
        Some((len, words))
    }

    /// At `[`: an array written without spaces of non-empty strings of plain ASCII (no escape,
    /// no control character): moves past it and returns its text; `None`, not moving, at
    /// anything else (an empty array included).
    pub fn compact_plain_strings(&mut self) -> Option<&'a str> {
        let bytes = self.bytes;
        if bytes.get(self.pos) != Some(&b'[') {
            return None;
        }
        let mut pos = self.pos + 1;
        loop {
            if bytes.get(pos) != Some(&b'"') {
                return None;
            }
            let start = pos + 1;
            pos = start;
            loop {
                let stops = bytes_to_inspect(load(bytes, pos));
                if stops != 0 {
                    pos += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                pos += 8;
            }
            if pos == start || bytes.get(pos) != Some(&b'"') {
                return None;
            }
            match bytes.get(pos + 1) {
                Some(b',') => pos += 2,
                Some(b']') => {
                    let text = self.text(self.pos, pos + 2);
                    self.pos = pos + 2;
                    return Some(text);
                }
                _ => return None,
            }
        }
    }

    /// A plain unsigned integer (`0`, or digits not starting with 0) that fits 64 bits and is
    /// right followed by `,`, `}` or `]`: moves past it and returns it; `None`, not moving, at
    /// anything else.
    #[inline(always)]
    pub fn plain_uint(&mut self) -> Option<u64> {
        let word = load(self.bytes, self.pos);
        let n = leading_digits(word);
        if n == 0 || (n > 1 && word as u8 == b'0') {
            return None;
        }
        let (end, value) = if n < 8 {
            (self.pos + n, digits_value(word, n))
        } else {
            let end = self.pos + 8 + digit_run(&self.bytes[self.pos + 8..]);
            (end, uint_value(&self.bytes[self.pos..end])?)
        };
        if !matches!(self.bytes.get(end), Some(b',' | b'}' | b']')) {
            return None;
        }
        self.pos = end;
        Some(value)
    }

    /// An object key and its colon, as bytes: borrowed from the body unless it has escapes (for
    /// keys compared with known names, with no check that they are UTF-8 text again).
    pub fn key_bytes(&mut self) -> Parsed<Cow<'a, [u8]>> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string as the object key"));
        }
        let start = self.pos;
        let key = if self.skip_string()? {
            self.pos = start;
            Cow::Owned(self.string()?.into_owned().into_bytes())
        } else {
            Cow::Borrowed(&self.bytes[start + 1..self.pos - 1])
        };
        self.expect(b':', "expected ':' after an object key")?;
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
        if let Some((end, depth)) = skip_valid(self.bytes, self.pos) {
            self.pos = end;
            return Ok(depth);
        }
        // Not JSON, or nested too deeply for the fast path: again, saying what and where.
        let mut stack: Vec<u8> = Vec::new();
        let mut deepest = 0;
        loop {
            // A value.
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {
                    self.skip_string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number_end()?;
                }
                Some(b'[') => match self.compact_array() {
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
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                _ => return Err(self.eof_or("expected a JSON value")),
            }
            // What follows it: more of the same container, or the end of one or more.
            loop {
                let Some(&close) = stack.last() else { return Ok(deepest) };
                if close == b'}' {
                    if self.next_or_close(b'}', "expected ',' or '}' after an object member")? {
                        self.skip_key()?;
                        break;
                    }
                } else if self.next_or_close(b']', "expected ',' or ']' after an array element")? {
                    break;
                }
                stack.pop();
            }
        }
    }

    /// An object key and its colon, checked and not kept.
    #[inline(always)]
    fn skip_key(&mut self) -> Parsed<()> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string as the object key"));
        }
        self.skip_string()?;
        self.expect(b':', "expected ':' after an object key")
    }

    /// The fast paths of [`Cursor::skip_value`] for what most of a body is: arrays written
    /// without spaces whose elements are unsigned integers (`PauseNs`, `PauseEnd`) or flat
    /// objects of them (`BySize`), as Go writes them. Moves past one and returns its depth (1, or
    /// 2 with objects), or returns `None` with the position unchanged for the general path (which
    /// then reports any error).
    fn compact_array(&mut self) -> Option<usize> {
        let start = self.pos;
        let found = if self.bytes.get(start + 1) == Some(&b'{') {
            self.compact_object_array().then_some(2)
        } else {
            self.compact_uint_array(None).map(|_| 1)
        };
        if found.is_none() {
            self.pos = start;
        }
        found
    }

    /// At `[`: an array of unsigned integers written without spaces (`[0,12,3]`). Moves past it and
    /// returns how many elements it has, writing where the first ones start (from the `[`) into
    /// `starts` when given, and leaving those of runs of zeros as they were (`ZERO_ENTRY`); `None`
    /// (position somewhere inside) at anything else, a number above 2^64-1 included when values
    /// are kept.
    pub fn compact_uint_array(&mut self, mut starts: Option<&mut [u16]>) -> Option<usize> {
        let bytes = self.bytes;
        let open = self.pos;
        let mut pos = self.pos + 1;
        let mut count = 0;
        if bytes.get(pos) == Some(&b']') {
            self.pos = pos + 1;
            return Some(0);
        }
        // Where 24 bytes are left: an element and its separator read from three words of one
        // chunk, with no bounds check per byte or word.
        while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<24>) {
            let word = |i: usize| u64::from_le_bytes(*chunk[8 * i..].first_chunk().unwrap());
            let first = word(0);
            // Four `0,`: kept entries start as zeros (`ZERO_ENTRY`), so only the count moves.
            if first == FOUR_ZEROS {
                pos += 8;
                count += 4;
                continue;
            }
            let mut stops = non_digit_bytes(first);
            let mut at = 0;
            while stops == 0 {
                at += 1;
                if at == 3 {
                    return None; // 24 digits: beyond 64 bits, left to the general path
                }
                stops = non_digit_bytes(word(at));
            }
            let in_word = (stops.trailing_zeros() / 8) as usize;
            let n = 8 * at + in_word;
            // No digit, or a leading zero.
            if n == 0 || (n > 1 && first as u8 == b'0') {
                return None;
            }
            if let Some(starts) = starts.as_deref_mut() {
                // Kept entries are decoded later, when needed: here only their place, and
                // that they fit 64 bits (19 digits always do; more, the general path judges).
                if n > 19 {
                    return None;
                }
                if let Some(slot) = starts.get_mut(count) {
                    *slot = u16::try_from(pos - open).ok().filter(|&at| at != u16::MAX)?;
                }
            }
            count += 1;
            pos += n + 1;
            match (word(at) >> (8 * in_word)) as u8 {
                b',' => {}
                b']' => {
                    self.pos = pos;
                    return Some(count);
                }
                _ => return None,
            }
        }
        // The last bytes of the body.
        loop {
            let word = load(bytes, pos);
            let n = leading_digits(word);
            if n == 0 || (n > 1 && word as u8 == b'0') {
                return None;
            }
            let mut end = pos + n;
            if n == 8 {
                end += digit_run(&bytes[end..]);
            }
            if let Some(starts) = starts.as_deref_mut() {
                if end - pos > 19 {
                    return None;
                }
                if let Some(slot) = starts.get_mut(count) {
                    *slot = u16::try_from(pos - open).ok().filter(|&at| at != u16::MAX)?;
                }
            }
            count += 1;
            match bytes.get(end) {
                Some(b',') => pos = end + 1,
                Some(b']') => {
                    self.pos = end + 1;
                    return Some(count);
                }
                _ => return None,
            }
        }
    }

    /// At `[{`: an array of flat objects whose members are unsigned integers, without spaces
    /// (`[{"Size":0,"Mallocs":1},{"Size":8,"Mallocs":0}]`), every object with the keys of the
    /// first in the same order. The first object is checked key by key; the text between the
    /// numbers of the next ones must be the same bytes (`{"Size":`, `,"Mallocs":`), compared
    /// eight at a time. False (position somewhere inside) at anything else.
    fn compact_object_array(&mut self) -> bool {
        const KEPT: usize = 8;
        let bytes = self.bytes;
        // The first object: each member's text before its number, remembered.
        let mut pos = self.pos + 1;
        let mut texts = [Fixed::EMPTY; KEPT];
        let mut members = 0;
        loop {
            let start = pos;
            pos += 1; // the object's `{`, or the `,` before a member
            let Some(len) = plain_key_len(bytes, pos) else { return false };
            pos += len;
            if members == KEPT {
                return false;
            }
            let Some(text) = Fixed::new(&bytes[start..pos]) else { return false };
            texts[members] = text;
            members += 1;
            let Some(end) = plain_uint_end(bytes, pos) else { return false };
            pos = end;
            match bytes.get(pos) {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return false,
            }
        }
        // The next objects: the same texts, then each's number.
        let texts = &texts[..members];
        loop {
            // Where 32 bytes are left: a member (its text and a number of up to 7 digits) read
            // from one chunk; anything else by the member's general check below.
            if bytes.get(pos + 1) == Some(&b',') {
                let mut at = pos + 2;
                let mut all = true;
                for text in texts {
                    let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<32>) else {
                        all = false;
                        break;
                    };
                    let word = |i: usize| u64::from_le_bytes(*chunk[i..].first_chunk().unwrap());
                    if !text.is_in(word(0), word(8)) {
                        return false;
                    }
                    let number = word(text.len.min(16));
                    let n = (non_digit_bytes(number).trailing_zeros() / 8) as usize;
                    if n == 0 || n == 8 || (n > 1 && number as u8 == b'0') {
                        all = false;
                        break;
                    }
                    at += text.len + n;
                }
                if all {
                    if bytes.get(at) != Some(&b'}') {
                        return false;
                    }
                    pos = at;
                    continue;
                }
            }
            // At the `}` of an object.
            match bytes.get(pos + 1) {
                Some(b',') => pos += 2,
                Some(b']') => {
                    self.pos = pos + 2;
                    return true;
                }
                _ => return false,
            }
            for text in texts {
                if !text.is_at(bytes, pos) {
                    return false;
                }
                let Some(end) = plain_uint_end(bytes, pos + text.len) else { return false };
                pos = end;
            }
            if bytes.get(pos) != Some(&b'}') {
                return false;
            }
        }
    }

    /// A number: exact when it is an integer that fits, else as a float.
    fn number(&mut self) -> Parsed<Value<'a>> {
        let start = self.pos;
        let integer = self.number_end()?;
        let digits = &self.bytes[start..self.pos];
        if integer {
            match digits.split_first() {
                Some((b'-', magnitude)) => match uint_value(magnitude) {
                    Some(0) => return Ok(Value::Uint(0)), // -0
                    Some(n) if n <= 1 << 63 => {
                        return Ok(Value::Int(0i64.wrapping_sub_unsigned(n)));
                    }
                    _ => {}
                },
                _ => {
                    if let Some(n) = uint_value(digits) {
                        return Ok(Value::Uint(n));
                    }
                }
            }
        }
        // Fractions, exponents and integers beyond 64 bits; the grammar was checked, so it parses.
        Ok(Value::Float(self.text(start, self.pos).parse().unwrap_or(f64::NAN)))
    }

    /// Moves past a number, checking RFC 8259's grammar; true when it is a plain integer.
    fn number_end(&mut self) -> Parsed<bool> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let word = load(self.bytes, self.pos);
        let n = leading_digits(word);
        if n == 0 {
            return Err(self.eof_or("invalid number"));
        }
        if word as u8 == b'0' {
            // A leading zero stands alone: what follows it is not part of the number.
            self.pos += 1;
        } else {
            self.pos += n;
            if n == 8 {
                self.digits();
            }
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
        self.pos += digit_run(self.rest());
    }

    /// Moves past a string, checking it; returns whether it had escapes.
    fn skip_string(&mut self) -> Parsed<bool> {
        self.pos += 1; // the opening quote
        let mut escaped = false;
        loop {
            let stops = bytes_to_inspect(load(self.bytes, self.pos));
            if stops == 0 {
                self.pos += 8;
                continue;
            }
            self.pos += (stops.trailing_zeros() / 8) as usize;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
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
                Some(lead @ 0x80..) => {
                    // One UTF-8 sequence, checked by the standard library (overlong forms and
                    // surrogates included); an invalid one is reported as the body not being
                    // UTF-8 by `read_body`.
                    let len = match lead {
                        0xC2..=0xDF => 2,
                        0xE0..=0xEF => 3,
                        0xF0..=0xF4 => 4,
                        _ => 0,
                    };
                    match self.bytes.get(self.pos..self.pos + len) {
                        Some(sequence) if len > 0 && std::str::from_utf8(sequence).is_ok() => {
                            self.pos += len
                        }
                        _ => return Err(self.error("invalid UTF-8 in a string")),
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unexpected end of the body")),
            }
        }
    }

    /// A string, borrowed from the body unless it has escapes.
    pub fn string(&mut self) -> Parsed<Cow<'a, str>> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(self.text(start + 1, self.pos - 1)));
        }
        // The escapes were checked by skip_string; serde_json decodes them (surrogate pairs too).
        serde_json::from_str::<String>(self.text(start, self.pos))
            .map(Cow::Owned)
            .map_err(|_| SyntaxError { what: "invalid \\u escape in a string", pos: start })
    }
}

/// The fast path of [`Cursor::skip_value`]: where the valid JSON value at `pos` ends and how
/// deeply it nests, checked in one loop over local state (open containers as bits: 1 for an
/// object), or `None` at anything wrong or nested deeper than 127 levels, which the general path
/// then reads again to say what and where.
fn skip_valid(bytes: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let mut open: u128 = 0;
    let mut depth = 0;
    let mut deepest = 0;
    loop {
        // A value.
        pos = after_ws(bytes, pos);
        match *bytes.get(pos)? {
            b'"' => pos = string_end(bytes, pos)?,
            b'-' | b'0'..=b'9' => pos = number_end(bytes, pos)?,
            b'[' => {
                let mut c = Cursor { bytes, pos };
                if let Some(nested) = c.compact_array() {
                    deepest = deepest.max(depth + nested);
                    pos = c.pos;
                } else {
                    pos = after_ws(bytes, pos + 1);
                    if bytes.get(pos) == Some(&b']') {
                        deepest = deepest.max(depth + 1);
                        pos += 1;
                    } else {
                        depth += 1;
                        if depth > 127 {
                            return None;
                        }
                        deepest = deepest.max(depth);
                        open <<= 1;
                        continue;
                    }
                }
            }
            b'{' => {
                pos = after_ws(bytes, pos + 1);
                if bytes.get(pos) == Some(&b'}') {
                    deepest = deepest.max(depth + 1);
                    pos += 1;
                } else {
                    depth += 1;
                    if depth > 127 {
                        return None;
                    }
                    deepest = deepest.max(depth);
                    open = open << 1 | 1;
                    pos = key_end(bytes, pos)?;
                    continue;
                }
            }
            b't' => pos = literal_end(bytes, pos, b"true")?,
            b'f' => pos = literal_end(bytes, pos, b"false")?,
            b'n' => pos = literal_end(bytes, pos, b"null")?,
            _ => return None,
        }
        // What follows it: more of the same container, or the end of one or more.
        loop {
            if depth == 0 {
                return Some((pos, deepest));
            }
            pos = after_ws(bytes, pos);
            let in_object = open & 1 == 1;
            match (*bytes.get(pos)?, in_object) {
                (b',', false) => {
                    pos += 1;
                    break;
                }
                (b',', true) => {
                    pos = key_end(bytes, after_ws(bytes, pos + 1))?;
                    break;
                }
                (b']', false) | (b'}', true) => {
                    pos += 1;
                    depth -= 1;
                    open >>= 1;
                }
                _ => return None,
            }
        }
    }
}

/// Past any whitespace at `pos`.
#[inline(always)]
fn after_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// At `"`: past an object key, its colon and the whitespace after it.
#[inline(always)]
fn key_end(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let pos = after_ws(bytes, string_end(bytes, pos)?);
    (bytes.get(pos) == Some(&b':')).then_some(pos + 1)
}

/// At `"`: past the string, checked (escapes, control characters, UTF-8), or `None`.
#[inline(always)]
fn string_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    pos += 1;
    loop {
        let stops = bytes_to_inspect(load(bytes, pos));
        if stops == 0 {
            pos += 8;
            continue;
        }
        pos += (stops.trailing_zeros() / 8) as usize;
        match *bytes.get(pos)? {
            b'"' => return Some(pos + 1),
            b'\\' => match *bytes.get(pos + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => pos += 2,
                b'u' if bytes.get(pos + 2..pos + 6)?.iter().all(u8::is_ascii_hexdigit) => pos += 6,
                _ => return None,
            },
            lead @ 0x80.. => {
                let len = match lead {
                    0xC2..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    0xF0..=0xF4 => 4,
                    _ => return None,
                };
                std::str::from_utf8(bytes.get(pos..pos + len)?).ok()?;
                pos += len;
            }
            _ => return None,
        }
    }
}

/// Past the number at `pos` (RFC 8259's grammar), or `None`.
#[inline(always)]
fn number_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    if bytes.get(pos) == Some(&b'-') {
        pos += 1;
    }
    let word = load(bytes, pos);
    let n = leading_digits(word);
    if n == 0 {
        return None;
    }
    pos += if word as u8 == b'0' { 1 } else { n };
    if n == 8 && word as u8 != b'0' {
        pos += digit_run(&bytes[pos..]);
    }
    if bytes.get(pos) == Some(&b'.') {
        let n = digit_run(&bytes[pos + 1..]);
        if n == 0 {
            return None;
        }
        pos += 1 + n;
    }
    if let Some(b'e' | b'E') = bytes.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = bytes.get(pos) {
            pos += 1;
        }
        let n = digit_run(&bytes[pos.min(bytes.len())..]);
        if n == 0 {
            return None;
        }
        pos += n;
    }
    Some(pos)
}

/// Past `word` at `pos`, or `None`.
#[inline(always)]
fn literal_end(bytes: &[u8], pos: usize, word: &[u8]) -> Option<usize> {
    bytes[pos..].starts_with(word).then_some(pos + word.len())
}

/// A mask of the `n` low bytes of a word (`n` below 8).
#[inline(always)]
fn low_bytes(n: usize) -> u64 {
    (1u64 << (8 * n)) - 1
}

/// Up to sixteen bytes of a body that must recur, as two words and masks to compare them with.
#[derive(Clone, Copy)]
struct Fixed {
    words: [u64; 2],
    masks: [u64; 2],
    len: usize,
}

impl Fixed {
    const EMPTY: Fixed = Fixed { words: [0; 2], masks: [0; 2], len: 0 };

    fn new(text: &[u8]) -> Option<Fixed> {
        let len = text.len();
        if len == 0 || len > 16 {
            return None;
        }
        let mask = |n: usize| if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
        let masks = [mask(len), mask(len.saturating_sub(8))];
        let words = [load(text, 0) & masks[0], load(text, 8) & masks[1]];
        Some(Fixed { words, masks, len })
    }

    /// Whether the sixteen bytes in `first` and `second` start with these.
    #[inline(always)]
    fn is_in(&self, first: u64, second: u64) -> bool {
        first & self.masks[0] == self.words[0] && second & self.masks[1] == self.words[1]
    }

    /// Whether the body has these bytes at `at` (past its end it has zero bytes, which no fixed
    /// text of a body holds).
    #[inline(always)]
    fn is_at(&self, bytes: &[u8], at: usize) -> bool {
        load(bytes, at) & self.masks[0] == self.words[0]
            && (self.len <= 8 || load(bytes, at + 8) & self.masks[1] == self.words[1])
    }
}

/// Where the plain unsigned integer at `at` ends (`0`, or digits not starting with 0), or `None`.
#[inline(always)]
fn plain_uint_end(bytes: &[u8], at: usize) -> Option<usize> {
    let word = load(bytes, at);
    let n = leading_digits(word);
    if n == 0 || (n > 1 && word as u8 == b'0') {
        return None;
    }
    if n < 8 {
        return Some(at + n);
    }
    Some(at + 8 + digit_run(&bytes[at + 8..]))
}

/// At `"`: the length of a key of plain ASCII (no escape, no control or non-ASCII byte) with its
/// quotes and the colon right after it, or `None`.
#[inline(always)]
fn plain_key_len(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut pos = at + 1;
    loop {
        let stops = bytes_to_inspect(load(bytes, pos));
        if stops != 0 {
            pos += (stops.trailing_zeros() / 8) as usize;
            break;
        }
        pos += 8;
    }
    (bytes.get(pos..pos + 2) == Some(b"\":")).then_some(pos + 2 - at)
}

/// The value of a run of ASCII digits, eight at a time, or `None` above 2^64-1.
pub(crate) fn uint_value(digits: &[u8]) -> Option<u64> {
    const POW10: [u64; 9] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
    // Nineteen digits always fit: only a twentieth can overflow.
    let (head, last) = match digits.len() {
        20 => (&digits[..19], Some(digits[19])),
        len if len > 20 => return None,
        _ => (digits, None),
    };
    let mut value = 0u64;
    for chunk in head.chunks(8) {
        value = value * POW10[chunk.len()] + digits_value(load(chunk, 0), chunk.len());
    }
    match last {
        Some(digit) => value.checked_mul(10)?.checked_add(u64::from(digit - b'0')),
        None => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_paths_take_go_arrays() {
        let by_size = br#"[{"Size":0,"Mallocs":0,"Frees":0},{"Size":8,"Mallocs":34,"Frees":0},{"Size":16,"Mallocs":179,"Frees":0}],"#;
        let mut c = Cursor::new(by_size);
        assert_eq!(c.compact_array(), Some(2));
        assert_eq!(c.peek(), Some(b','));
        let ring = b"[0,0,0,0,0,0,0,0,0,0,12,345678901,0,0,1]";
        // Under 24 bytes from the end, elements are read one by one: a long ring.
        let ring = [&ring[..], &[b' '; 24]].concat();
        let mut starts = [u16::MAX; 16];
        let mut c = Cursor::new(&ring);
        assert_eq!(c.compact_uint_array(Some(&mut starts)), Some(15));
        // The first eight zeros, skipped eight bytes at a time, keep their marks.
        let z = u16::MAX;
        assert_eq!(starts[..15], [z, z, z, z, z, z, z, z, 17, 19, 21, 24, 34, 36, 38]);
    }

    #[test]
    fn compact_paths_leave_the_rest_to_the_general_path() {
        for text in [
            &b"[01]"[..],
            b"[0,]",
            b"[,0]",
            b"[1 ,2]",
            b"[{\"a\":1},{\"b\":1}]",
            b"[{\"a\":1},{\"a\":01}]",
            b"[{\"a\":1},{\"a\":1,\"b\":2}]",
            b"[{\"a\":1}",
            b"[0,0,0,0,0,0,0,0",
        ] {
            assert_eq!(
                Cursor::new(text).compact_array(),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn integers_are_exact_to_the_last_bit() {
        for n in [0, 1, 9, 10, 12_345_678, 123_456_789, u64::MAX / 10, u64::MAX - 1, u64::MAX] {
            let text = n.to_string();
            assert_eq!(uint_value(text.as_bytes()), Some(n));
            let mut c = Cursor::new(text.as_bytes());
            assert!(matches!(c.number(), Ok(Value::Uint(v)) if v == n));
        }
        assert_eq!(uint_value(b"18446744073709551616"), None);
        assert_eq!(uint_value(b"99999999999999999999"), None);
        assert!(matches!(Cursor::new(b"-9223372036854775808").number(), Ok(Value::Int(i64::MIN))));
        assert!(matches!(Cursor::new(b"-0").number(), Ok(Value::Uint(0))));
        assert!(matches!(Cursor::new(b"-9223372036854775809").number(), Ok(Value::Float(_))));
    }
}
