//! Reading a body: a purpose-built JSON reader that keeps only what the events need.
//!
//! A body is mostly what no event uses: the two 256-slot rings and the 61 `BySize` objects. A
//! generic parser spends most of its time on them (serde_json's skipping was 70% of a transform),
//! so this reader validates them with tight byte loops and keeps nothing, while it decodes
//! `cmdline`, the `memstats` figures of [`Stat`] and, when asked, the `PauseNs` ring and the text
//! of each custom variable. It validates the whole body as JSON all the same (RFC 8259): a body
//! that is not JSON is reported with the line and column of the first error.
//!
//! A field of the wrong type never stops the reading: it is skipped, left out, and named in
//! [`Body::problems`]. Nesting is skipped without recursion, so no body can overflow the stack.

use std::borrow::Cow;

use crate::fields::{Kind, Stat};

/// A memstats figure as read: an exact unsigned integer, or a float (`GCCPUFraction`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Uint(u64),
    Float(f64),
}

impl Number {
    /// The value when it is an unsigned integer.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Number::Uint(n) => Some(n),
            Number::Float(_) => None,
        }
    }
}

/// What `memstats` was in the body.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per body, on the stack: cheaper than a box
pub enum Memstats {
    /// No `memstats` key (or `null`).
    Missing,
    /// `memstats` is there but is not an object; the text says what it is instead.
    NotAnObject(&'static str),
    /// The figures read, indexed by `Stat as usize`; `None` where missing or unusable.
    Object([Option<Number>; Stat::COUNT]),
}

/// What to keep of a body beyond `cmdline` and the memstats figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Want {
    /// The custom variables (for the expvar event).
    pub custom: bool,
    /// The `PauseNs` ring and `last_num_gc` (for a collector's pause window).
    pub pauses: bool,
}

/// The number of slots of Go's `PauseNs` ring.
pub const PAUSE_RING_LEN: usize = 256;

/// A body as far as the events are concerned.
#[derive(Debug)]
pub struct Body<'a> {
    /// `cmdline`, when it is an array; string elements only.
    pub cmdline: Option<Vec<Cow<'a, str>>>,
    pub memstats: Memstats,
    /// Every other top-level variable, in the order published, as its JSON text; only when asked
    /// for. Kept as text so that a variable nested too deeply to decode spoils only itself.
    pub custom: Vec<(Cow<'a, str>, &'a str)>,
    /// `memstats.PauseNs`, when asked for and usable (256 unsigned integers).
    pub pause_ns: Option<Box<[u64; PAUSE_RING_LEN]>>,
    /// A top-level `last_num_gc`: the previous `NumGC`, as the poller of Elastic's PR #4908
    /// injects it; when asked for.
    pub last_num_gc: Option<u64>,
    /// What was wrong with fields that were left out, one phrase each, in body order.
    pub problems: Vec<String>,
}

impl Body<'_> {
    /// A figure of `memstats`, if it was there and usable.
    pub fn stat(&self, stat: Stat) -> Option<Number> {
        match &self.memstats {
            Memstats::Object(values) => values[stat as usize],
            _ => None,
        }
    }
}

/// Reads a body. `Err` holds why the body as a whole could not be read: empty, not UTF-8, not JSON
/// (with line and column), or not an object.
pub fn read_body(body: &[u8], want: Want) -> Result<Body<'_>, String> {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = line_column(body, e.valid_up_to());
            return Err(format!(
                "body is not valid UTF-8: invalid byte at line {line} column {column}"
            ));
        }
    };
    if text.trim_matches(WHITESPACE).is_empty() {
        return Err("body is empty".to_owned());
    }
    let mut reader = Reader { text, bytes: text.as_bytes(), pos: 0 };
    let result = reader.body(want).and_then(|body| {
        reader.skip_ws();
        match reader.peek() {
            None => Ok(body),
            Some(_) => Err(reader.error("trailing characters after the JSON value")),
        }
    });
    match result {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(found)) => Err(format!("body is not a JSON object: it is {found}")),
        Err(SyntaxError { what, pos }) => {
            let (line, column) = line_column(body, pos);
            let start = describe_start(text);
            Err(format!("body is not valid JSON: {what} at line {line} column {column}{start}"))
        }
    }
}

/// The keys under which a log shipper's record carries a raw body as a string: `log` (Fluent Bit's
/// tail input), `message` (Elastic's pipeline tests, many shippers), `exec` (Fluent Bit's exec
/// input without a parser).
pub const BODY_STRING_KEYS: [&str; 3] = ["log", "message", "exec"];

/// The `/debug/vars` body inside a log shipper's record. A record that is the body itself (it has
/// `memstats`), or that is not an object with a string under one of [`BODY_STRING_KEYS`], is
/// returned as it is, so that a broken one still becomes an error event with the record kept.
pub fn record_body(record: &[u8]) -> Cow<'_, [u8]> {
    let Ok(text) = std::str::from_utf8(record) else { return Cow::Borrowed(record) };
    let mut reader = Reader { text, bytes: text.as_bytes(), pos: 0 };
    reader.skip_ws();
    if reader.peek() != Some(b'{') {
        return Cow::Borrowed(record);
    }
    let mut embedded = None;
    let mut more = reader.open(b'}');
    while more {
        let Ok(key) = reader.key() else { return Cow::Borrowed(record) };
        reader.skip_ws();
        if key == "memstats" {
            return Cow::Borrowed(record);
        }
        let value = if BODY_STRING_KEYS.contains(&key.as_ref()) && reader.peek() == Some(b'"') {
            reader.string().map(Some)
        } else {
            reader.skip_value().map(|()| None)
        };
        match value {
            Ok(Some(body)) if embedded.is_none() => embedded = Some(body),
            Ok(_) => {}
            Err(_) => return Cow::Borrowed(record),
        }
        more = match reader.next_or_close(b'}', "") {
            Ok(more) => more,
            Err(_) => return Cow::Borrowed(record),
        };
    }
    match embedded {
        Some(Cow::Borrowed(body)) => Cow::Borrowed(body.as_bytes()),
        Some(Cow::Owned(body)) => Cow::Owned(body.into_bytes()),
        None => Cow::Borrowed(record),
    }
}

/// Splits text holding several bodies of one process (pasted one after another, one per line as
/// NDJSON, or as Go writes them, over many lines) into the bodies, in order. Each top-level JSON
/// value is a body; a value cut short takes the rest of the text, and text that is not JSON is a
/// body up to the end of its line, so a broken body still reaches the transform (and becomes an
/// error event) instead of vanishing.
pub fn split_bodies(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut bodies = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= bytes.len() {
            return bodies;
        }
        let start = pos;
        let end = if matches!(bytes[pos], b'{' | b'[') {
            value_end(bytes, pos)
        } else {
            bytes[pos..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| pos + n)
        };
        bodies.push(&text[start..end]);
        pos = end;
    }
}

/// Where the object or array starting at `start` ends (by brackets, strings skipped), or the end
/// of the text when it never closes.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    bytes.len()
}

const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

/// 1-based line and column (in characters) of a byte offset.
fn line_column(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset.min(body.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// For a body that is not even trying to be a JSON object (an HTML error page, a plain-text 404),
/// what it starts with, so the message says what the poller got instead.
fn describe_start(text: &str) -> String {
    let start = text.trim_start_matches(WHITESPACE);
    if start.starts_with('{') || start.is_empty() {
        return String::new();
    }
    let line = start.lines().next().unwrap_or_default();
    let shown: String = line.chars().take(40).collect();
    let more = if line.chars().count() > shown.chars().count() { "…" } else { "" };
    format!(" (the body starts with {shown:?}{more})")
}

/// Where and why the body stopped being JSON.
struct SyntaxError {
    what: &'static str,
    pos: usize,
}

type Parsed<T> = Result<T, SyntaxError>;

/// A JSON value as far as a type check needs it: numbers and strings decoded, the rest skipped.
enum Scalar<'a> {
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Null,
    /// Anything else, named for an error message ("a boolean", "an array", "an object").
    Other(&'static str),
}

impl Scalar<'_> {
    /// What kind of JSON value it is, for "it is …" messages.
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Uint(_) | Scalar::Int(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Null => "null",
            Scalar::Other(what) => what,
        }
    }

    fn describe(&self) -> String {
        match self {
            Scalar::Uint(n) => format!("the number {n}"),
            Scalar::Int(n) => format!("the number {n}"),
            Scalar::Float(f) => format!("the number {f}"),
            Scalar::Str(_) => "a string".to_owned(),
            Scalar::Null => "null".to_owned(),
            Scalar::Other(what) => (*what).to_owned(),
        }
    }
}

/// The largest value a uint64 holds, plus one, as a float (2^64).
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// Checks a figure against its kind: `Ok(None)` for null (dropped silently, as Elastic drops
/// nulls), `Err` with the reason it is left out.
fn check_number(value: Scalar<'_>, kind: Kind) -> Result<Option<Number>, String> {
    match (kind, value) {
        (_, Scalar::Null) => Ok(None),
        (_, Scalar::Uint(n)) => Ok(Some(Number::Uint(n))),
        (Kind::Float, Scalar::Int(n)) => Ok(Some(Number::Float(n as f64))),
        (Kind::Float, Scalar::Float(f)) => Ok(Some(Number::Float(f))),
        (Kind::Count, Scalar::Int(n)) => {
            Err(format!("{n} is negative, expected an unsigned integer"))
        }
        (Kind::Count, Scalar::Float(f)) if f < 0.0 => {
            Err(format!("{f} is negative, expected an unsigned integer"))
        }
        (Kind::Count, Scalar::Float(f)) if f >= TWO_POW_64 => {
            Err("the number is out of range, above 2^64-1".to_owned())
        }
        (Kind::Count, Scalar::Float(f)) if f.fract() != 0.0 => {
            Err(format!("{f} is not a whole number, expected an unsigned integer"))
        }
        // A whole number written with a fraction or exponent (1.0, 1e3): the value is exact.
        (Kind::Count, Scalar::Float(f)) => Ok(Some(Number::Uint(f as u64))),
        (Kind::Count, other) => {
            Err(format!("expected an unsigned integer, found {}", other.describe()))
        }
        (Kind::Float, other) => Err(format!("expected a number, found {}", other.describe())),
    }
}

/// The bytes that end a run of plain string content: the quote, the backslash, control characters.
/// (Also the bytes that JSON requires escaped when writing a string.)
static STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// The offset of the first byte of `bytes` that ends plain string content (see [`STRING_STOP`]),
/// looking at eight bytes at a time.
pub(crate) fn string_stop(bytes: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte of `x`, with no carry between bytes.
    let zero_bytes = |x: u64| !(((x & LOW7) + LOW7) | x) & HIGH;
    let mut pos = 0;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap());
        let control = !((word & LOW7) + 0x6060_6060_6060_6060) & !word & HIGH;
        let quote = zero_bytes(word ^ 0x2222_2222_2222_2222);
        let backslash = zero_bytes(word ^ 0x5C5C_5C5C_5C5C_5C5C);
        let stop = control | quote | backslash;
        if stop != 0 {
            return Some(pos + (stop.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    bytes[pos..].iter().position(|&b| STRING_STOP[b as usize]).map(|n| pos + n)
}

/// The high bit of each byte of `word` (little-endian) that is not an ASCII digit. Computed with no
/// carry between bytes: `b & 0x7F` plus 0x50 reaches 0x80 when `b & 0x7F >= 0x30`, plus 0x46 when
/// it is above 0x39, and the byte's own high bit rules out non-ASCII bytes.
fn non_digit_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = word & LOW7;
    let at_least_0 = low + 0x5050_5050_5050_5050;
    let above_9 = low + 0x4646_4646_4646_4646;
    let digit = at_least_0 & !above_9 & !word & HIGH;
    !digit & HIGH
}

/// The cursor over a body already known to be UTF-8.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, what: &'static str) -> SyntaxError {
        SyntaxError { what, pos: self.pos }
    }

    fn eof_or(&self, what: &'static str) -> SyntaxError {
        if self.pos >= self.bytes.len() {
            self.error("unexpected end of the body")
        } else {
            self.error(what)
        }
    }

    fn skip_ws(&mut self) {
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
    fn next_or_close(&mut self, close: u8, what: &'static str) -> Parsed<bool> {
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
    fn open(&mut self, close: u8) -> bool {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            false
        } else {
            true
        }
    }

    /// The body's top level: an object whose members are read as the body's variables.
    fn body(&mut self, want: Want) -> Parsed<Result<Body<'a>, &'static str>> {
        self.skip_ws();
        if self.peek() != Some(b'{') {
            return Ok(Err(self.scalar()?.kind()));
        }
        let mut body = Body {
            cmdline: None,
            memstats: Memstats::Missing,
            custom: Vec::new(),
            pause_ns: None,
            last_num_gc: None,
            problems: Vec::new(),
        };
        let mut more = self.open(b'}');
        while more {
            let key = self.key()?;
            self.skip_ws();
            match key.as_ref() {
                "cmdline" => body.cmdline = self.cmdline(&mut body.problems)?,
                "memstats" => body.memstats = self.memstats(want, &mut body)?,
                // An annotation of Elastic's PR #4908 poller, not a variable the program published.
                "last_num_gc" if want.pauses => match check_number(self.scalar()?, Kind::Count) {
                    Ok(number) => body.last_num_gc = number.and_then(Number::as_u64),
                    Err(why) => body.problems.push(format!("last_num_gc: {why}")),
                },
                "last_num_gc" => self.skip_value()?,
                _ if want.custom => {
                    let start = self.pos;
                    self.skip_value()?;
                    let raw = &self.text[start..self.pos];
                    body.custom.retain(|(name, _)| *name != key);
                    body.custom.push((key, raw));
                }
                _ => self.skip_value()?,
            }
            more = self.next_or_close(b'}', "expected ',' or '}' after an object member")?;
        }
        Ok(Ok(body))
    }

    /// An object key and its colon.
    fn key(&mut self) -> Parsed<Cow<'a, str>> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string as the object key"));
        }
        let key = self.string()?;
        self.expect(b':', "expected ':' after an object key")?;
        Ok(key)
    }

    fn cmdline(&mut self, problems: &mut Vec<String>) -> Parsed<Option<Vec<Cow<'a, str>>>> {
        if self.peek() != Some(b'[') {
            let found = self.scalar()?;
            if !matches!(found, Scalar::Null) {
                let what = found.describe();
                problems.push(format!("cmdline: expected an array of strings, found {what}"));
            }
            return Ok(None);
        }
        let mut args = Vec::new();
        let mut index = 0;
        let mut more = self.open(b']');
        while more {
            self.skip_ws();
            match self.scalar()? {
                Scalar::Str(arg) => args.push(arg),
                Scalar::Null => {}
                other => problems.push(format!(
                    "cmdline[{index}]: expected a string, found {}",
                    other.describe()
                )),
            }
            index += 1;
            more = self.next_or_close(b']', "expected ',' or ']' after an array element")?;
        }
        Ok(Some(args))
    }

    fn memstats(&mut self, want: Want, body: &mut Body<'a>) -> Parsed<Memstats> {
        if self.peek() != Some(b'{') {
            return Ok(match self.scalar()? {
                Scalar::Null => Memstats::Missing,
                other => Memstats::NotAnObject(other.kind()),
            });
        }
        let mut values = [None; Stat::COUNT];
        let mut more = self.open(b'}');
        while more {
            let key = self.key()?;
            self.skip_ws();
            if want.pauses && key == "PauseNs" {
                body.pause_ns = self.pause_ring(&mut body.problems)?;
            } else if let Some(stat) = Stat::from_key(&key) {
                values[stat as usize] = match check_number(self.scalar()?, stat.kind()) {
                    Ok(number) => number,
                    Err(why) => {
                        body.problems.push(format!("memstats.{}: {why}", stat.key()));
                        None
                    }
                };
            } else {
                self.skip_value()?;
            }
            more = self.next_or_close(b'}', "expected ',' or '}' after an object member")?;
        }
        Ok(Memstats::Object(values))
    }

    /// `memstats.PauseNs`: `Some` only for exactly 256 unsigned integers; anything else is named
    /// in the problems and gives no ring (so no pause window).
    fn pause_ring(
        &mut self,
        problems: &mut Vec<String>,
    ) -> Parsed<Option<Box<[u64; PAUSE_RING_LEN]>>> {
        if self.peek() != Some(b'[') {
            let found = self.scalar()?;
            if !matches!(found, Scalar::Null) {
                let what = found.describe();
                problems.push(format!(
                    "memstats.PauseNs: expected an array of 256 unsigned integers, found {what}"
                ));
            }
            return Ok(None);
        }
        let mut ring = Box::new([0; PAUSE_RING_LEN]);
        let mut len = 0;
        let mut usable = true;
        let mut more = self.open(b']');
        while more {
            self.skip_ws();
            match check_number(self.scalar()?, Kind::Count) {
                Ok(Some(Number::Uint(ns))) if len < PAUSE_RING_LEN => ring[len] = ns,
                Ok(_) | Err(_) if len >= PAUSE_RING_LEN => {}
                Ok(_) => {
                    usable = false;
                    problems.push(format!(
                        "memstats.PauseNs[{len}]: expected an unsigned integer, found null"
                    ));
                }
                Err(why) => {
                    usable = false;
                    problems.push(format!("memstats.PauseNs[{len}]: {why}"));
                }
            }
            len += 1;
            more = self.next_or_close(b']', "expected ',' or ']' after an array element")?;
        }
        if len != PAUSE_RING_LEN {
            problems
                .push(format!("memstats.PauseNs: expected {PAUSE_RING_LEN} entries, found {len}"));
            return Ok(None);
        }
        Ok(usable.then_some(ring))
    }

    /// Any value at `pos` (whitespace already skipped), decoded as far as a type check needs.
    fn scalar(&mut self) -> Parsed<Scalar<'a>> {
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
    /// containers (`]` or `}` to close each).
    fn skip_value(&mut self) -> Parsed<()> {
        let mut stack: Vec<u8> = Vec::new();
        loop {
            // A value.
            self.skip_ws();
            match self.peek() {
                Some(b'[') if self.skip_integer_array() => {}
                Some(b'[') => {
                    if self.open(b']') {
                        stack.push(b']');
                        continue;
                    }
                }
                Some(b'{') => {
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
                let Some(&close) = stack.last() else { return Ok(()) };
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

    /// The fast path of [`Reader::skip_value`] for what most of a body is: arrays written without
    /// spaces whose elements are unsigned integers or flat objects of unsigned integers, as Go
    /// writes `PauseNs`, `PauseEnd` and `BySize`. Moves past one and returns true, or returns false
    /// with the position unchanged for the general path (which then reports any error).
    fn skip_integer_array(&mut self) -> bool {
        let start = self.pos;
        self.pos += 1;
        loop {
            let element = match self.peek() {
                Some(b'{') => self.skip_flat_object(),
                _ => self.skip_plain_integer(),
            };
            match (element, self.peek()) {
                (true, Some(b',')) => self.pos += 1,
                (true, Some(b']')) => {
                    self.pos += 1;
                    return true;
                }
                _ => {
                    self.pos = start;
                    return false;
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

    /// Moves past a run of digits, eight at a time where it can: most of a body is the digits of
    /// the two rings (`PauseEnd` holds 19-digit timestamps).
    fn digits(&mut self) {
        let bytes = self.bytes;
        let mut pos = self.pos;
        while let Some(chunk) = bytes.get(pos..pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap());
            let stop = non_digit_bytes(word);
            if stop != 0 {
                // The first byte that is not a digit ends the run: no byte-by-byte tail.
                self.pos = pos + (stop.trailing_zeros() / 8) as usize;
                return;
            }
            pos += 8;
        }
        while let Some(b'0'..=b'9') = bytes.get(pos) {
            pos += 1;
        }
        self.pos = pos;
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
    fn string(&mut self) -> Parsed<Cow<'a, str>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_figures_exactly_and_skips_the_rest() {
        let body = br#"{"cmdline":["./app","-v"],"custom":{"a":1},"memstats":{"LastGC":18446744073709551615,"GCCPUFraction":1.5e-4,"PauseNs":[1,2],"BySize":[{"Size":8}],"NumGC":3}}"#;
        let read = read_body(body, Want::default()).unwrap();
        assert_eq!(read.cmdline.as_deref().unwrap(), ["./app", "-v"]);
        assert_eq!(read.stat(Stat::LastGC), Some(Number::Uint(u64::MAX)));
        assert_eq!(read.stat(Stat::GCCPUFraction), Some(Number::Float(1.5e-4)));
        assert_eq!(read.stat(Stat::NumGC), Some(Number::Uint(3)));
        assert_eq!(read.stat(Stat::HeapSys), None);
        assert!(read.custom.is_empty());
        assert!(read.problems.is_empty());
    }

    #[test]
    fn wrong_types_are_named_and_skipped() {
        let body = br#"{"cmdline":["a",7],"memstats":{"Frees":"9","Mallocs":-1,"HeapSys":1.5,"Sys":1e20,"NumGC":2.0,"HeapIdle":null}}"#;
        let read = read_body(body, Want::default()).unwrap();
        assert_eq!(
            read.problems,
            [
                "cmdline[1]: expected a string, found the number 7",
                "memstats.Frees: expected an unsigned integer, found a string",
                "memstats.Mallocs: -1 is negative, expected an unsigned integer",
                "memstats.HeapSys: 1.5 is not a whole number, expected an unsigned integer",
                "memstats.Sys: the number is out of range, above 2^64-1",
            ]
        );
        assert_eq!(read.stat(Stat::NumGC), Some(Number::Uint(2)));
        assert_eq!(read.stat(Stat::Frees), None);
        assert_eq!(read.cmdline.as_deref().unwrap(), ["a"]);
    }

    #[test]
    fn unreadable_bodies_say_why_and_where() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "body is empty"),
            (b"[1,2]", "body is not a JSON object: it is an array"),
            (b"{\"a\":", "body is not valid JSON: unexpected end of the body at line 1 column 6"),
            (
                b"404 page not found\n",
                "body is not valid JSON: trailing characters after the JSON value at line 1 column 5 (the body starts with \"404 page not found\")",
            ),
            (
                b"{}\n{}",
                "body is not valid JSON: trailing characters after the JSON value at line 2 column 1",
            ),
            (b"{\"a\":\"\xff\"}", "body is not valid UTF-8: invalid byte at line 1 column 7"),
        ];
        for (body, message) in cases {
            assert_eq!(read_body(body, Want::default()).unwrap_err(), *message);
        }
    }

    #[test]
    fn deep_nesting_is_skipped_not_a_crash() {
        let body = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        for keep_custom in [false, true] {
            let want = Want { custom: keep_custom, pauses: true };
            let read = read_body(body.as_bytes(), want).unwrap();
            assert_eq!(read.custom.len(), usize::from(keep_custom));
        }
        let body = format!("{{\"memstats\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let read = read_body(body.as_bytes(), Want::default()).unwrap();
        assert!(matches!(read.memstats, Memstats::NotAnObject("an array")));
    }

    /// The reader accepts exactly the texts serde_json accepts as JSON, on every truncation and
    /// on single-byte changes of bodies that exercise the whole grammar.
    #[test]
    fn accepts_exactly_what_serde_json_accepts() {
        let seeds = [
            r#"{"cmdline":["./a","-x"],"memstats":{"NumGC":3,"PauseNs":[1,2],"GCCPUFraction":1.5e-4,"BySize":[{"Size":8}]},"m":{"k":[true,false,null,-0.5E+3,"\u00e9\n"]}}"#,
            r#" [ {"a" : 1 } , 2 , "x" ] "#,
            r#"{"BySize":[{"Size":0,"Mallocs":10,"Frees":2},{"Size":8,"Mallocs":0,"Frees":0}],"P":[0,12,3]}"#,
            r#"{"a":"\ud83d\ude00","b":[[],{}],"c":-0,"d":0.0e-0}"#,
        ];
        let replacements = b"\"\\,:[]{}0-+.eE x\t";
        let mut checked = 0;
        for seed in seeds {
            let mut variants: Vec<Vec<u8>> =
                (0..=seed.len()).map(|i| seed.as_bytes()[..i].to_vec()).collect();
            for i in 0..seed.len() {
                for &r in replacements {
                    let mut v = seed.as_bytes().to_vec();
                    v[i] = r;
                    variants.push(v);
                }
            }
            for variant in variants {
                let Ok(text) = std::str::from_utf8(&variant) else { continue };
                let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
                let ours = read_body(&variant, Want { custom: true, pauses: true });
                let ours_ok = match &ours {
                    Ok(_) => true,
                    Err(why) => why.starts_with("body is not a JSON object"),
                };
                assert_eq!(ours_ok, serde_ok, "{text:?}: {:?}", ours.err());
                checked += 1;
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn finds_the_body_in_a_shippers_record() {
        let body = br#"{"cmdline":["./a"],"memstats":{"NumGC":1}}"#;
        assert_eq!(record_body(body), &body[..]);
        let tail = br#"{"log":"{\"memstats\":{\"NumGC\":1}}"}"#;
        assert_eq!(record_body(tail), &br#"{"memstats":{"NumGC":1}}"#[..]);
        let exec = br#"{"host":"a","exec":"{}"}"#;
        assert_eq!(record_body(exec), &b"{}"[..]);
        for kept in [&b"not json"[..], br#"{"log":7}"#, br#"{"other":"x"}"#, br#"{"log":"x""#] {
            assert_eq!(record_body(kept), kept);
        }
    }

    #[test]
    fn splits_pasted_sequences_into_bodies() {
        let go = "{\n\"cmdline\": [\"./a\"],\n\"memstats\": {\"NumGC\":1}\n}\n";
        assert_eq!(split_bodies(&format!("{go}{go}")), [go.trim(), go.trim()]);
        let ndjson = "{\"a\":\"}\"}\n404 page not found\n{\"b\":[1,{}]}\n{\"cut\":";
        assert_eq!(
            split_bodies(ndjson),
            ["{\"a\":\"}\"}", "404 page not found", "{\"b\":[1,{}]}", "{\"cut\":"]
        );
        assert!(split_bodies(" \n ").is_empty());
    }

    #[test]
    fn non_digit_bytes_marks_exactly_the_bytes_outside_0_to_9() {
        for b in 0..=255u8 {
            for position in 0..8 {
                let mut word = [b'5'; 8];
                word[position] = b;
                let mask = non_digit_bytes(u64::from_le_bytes(word));
                let expected = if b.is_ascii_digit() { 0 } else { 0x80u64 << (8 * position) };
                assert_eq!(mask, expected, "byte {b:#04x} at {position}");
            }
        }
    }

    #[test]
    fn string_stop_finds_the_first_quote_backslash_or_control_byte() {
        for b in 0..=255u8 {
            for position in 0..11 {
                let mut text = *b"abcdefghijk";
                text[position] = b;
                let expected = STRING_STOP[b as usize].then_some(position);
                assert_eq!(string_stop(&text), expected, "byte {b:#04x} at {position}");
            }
        }
    }
}
