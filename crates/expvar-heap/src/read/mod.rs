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
//! [`Body::problems`].
//!
//! - this file: the body model and [`read_body`], which walks the body's top level;
//! - `cursor`: the JSON cursor (grammar, skipping, strings and numbers);
//! - `check`: type checks of the values kept, and the phrases that say what was wrong.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use crate::fields::{Kind, PAUSE_RING_LEN, Stat};

mod check;
pub(crate) mod cursor;

pub use check::Number;
use check::check_number;
use cursor::{Cursor, Parsed, SyntaxError, Value, uint_value};

use crate::scan::{digit_run, digits_value, leading_digits, load};

/// How deeply a body may nest, its top-level object counting as one level: serde_json's recursion
/// limit, which the expvar event's custom variables are decoded with. A custom variable nested
/// deeper is left out and named; the rest of the body is read as usual.
pub const MAX_NESTING: usize = 128;

/// The keys under which a log shipper's record carries a raw body as a string: `log` (Fluent Bit's
/// tail input), `message` (Elastic's pipeline tests, many shippers), `exec` (Fluent Bit's exec
/// input without a parser). The reader notes where the first of them is while it reads a record.
pub const BODY_STRING_KEYS: [&str; 3] = ["log", "message", "exec"];

/// `PauseNs`, as a word.
const PAUSE_NS: u64 = u64::from_le_bytes(*b"PauseNs\0");
/// `PauseEnd`, as a word.
const PAUSE_END: u64 = u64::from_le_bytes(*b"PauseEnd");

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
    /// The `PauseNs` and `PauseEnd` rings and `last_num_gc` (for a collector's pause window and
    /// its restart detection).
    pub pauses: bool,
    /// Where a shipper's record carries a body as a string (see [`crate::record_body`]).
    pub embedded: bool,
    /// The text is JSON its host wrote itself (as Fluent Bit writes a record for its `wasm`
    /// filter): valid by construction, its integers within 64 bits. What no event needs (unknown
    /// variables and `memstats` members) is then passed over by its structure alone, and
    /// the rings by which of their bytes are digits and commas, noting where `pause_ns_entry` and
    /// `pause_end_entry` start; for such text the read is the same as without it.
    pub host_json: bool,
    /// The entry of `PauseNs` where the next pause window starts (the first cycle after the
    /// previous body's), when there was a previous body.
    pub pause_ns_entry: Option<usize>,
    /// The entry of `PauseEnd` that restart detection will read (the previous body's last
    /// cycle), when there is one.
    pub pause_end_entry: Option<usize>,
}

/// `cmdline` as read.
#[derive(Debug)]
pub enum Cmdline<'a> {
    /// Its JSON text, when it is an array written without spaces of non-empty strings without
    /// escapes or non-ASCII characters (as Go writes most command lines): exactly the text an
    /// event holds, so it is copied, not decoded and written again.
    Json(&'a str),
    /// Its strings, decoded (nulls and other values left out).
    Args(Vec<Cow<'a, str>>),
}

impl Cmdline<'_> {
    /// The arguments, decoded.
    #[cfg(test)]
    pub fn args(&self) -> Vec<Cow<'_, str>> {
        match self {
            Cmdline::Json(json) => serde_json::from_str::<Vec<String>>(json)
                .map(|args| args.into_iter().map(Cow::Owned).collect())
                .unwrap_or_default(),
            Cmdline::Args(args) => args.iter().map(|a| Cow::Borrowed(a.as_ref())).collect(),
        }
    }
}

/// A published variable other than `cmdline` and `memstats`, as the body holds it.
#[derive(Debug)]
pub enum Custom<'a> {
    /// Its JSON text, as published (valid JSON: the reader checked it).
    Json(&'a str),
    /// Nested deeper than [`MAX_NESTING`] allows: not kept.
    TooDeep,
}

/// A body as far as the events are concerned.
#[derive(Debug)]
pub struct Body<'a> {
    /// `cmdline`, when it is an array; string elements only.
    pub cmdline: Option<Cmdline<'a>>,
    pub memstats: Memstats,
    /// Every other top-level variable, in the order published; only when asked for. Kept as text
    /// so that a variable nested too deeply to decode spoils only itself.
    pub custom: Vec<(Cow<'a, str>, Custom<'a>)>,
    /// `memstats.PauseNs`, when asked for and usable (256 unsigned integers).
    pub pause_ns: Option<PauseRing<'a>>,
    /// `memstats.PauseEnd` (when each of the last 256 cycles ended, ns since the epoch), when
    /// asked for and usable. No event field comes from it, so what is wrong with it is not named.
    pub pause_end: Option<PauseRing<'a>>,
    /// A top-level `last_num_gc`: the previous `NumGC`, as the poller of Elastic's PR #4908
    /// injects it; when asked for.
    pub last_num_gc: Option<u64>,
    /// What was wrong with fields that were left out, one phrase each, in body order.
    pub problems: Vec<String>,
    /// Whether the top level has a `memstats` key (of any value).
    pub has_memstats_key: bool,
    /// When asked for: where the first top-level string under one of [`BODY_STRING_KEYS`] is
    /// (its quotes included).
    pub embedded: Option<(usize, usize)>,
}

/// Where an entry of a ring's text starts, for an entry written in a run of four `0,` (which the
/// reader skips eight bytes at a time): no text is that long.
pub(crate) const ZERO_ENTRY: u16 = u16::MAX;

/// `memstats.PauseNs` or `memstats.PauseEnd` as read: its 256 entries, each decoded when asked
/// for.
#[derive(Debug)]
pub enum PauseRing<'a> {
    /// Read element by element (the general path, for a ring written unlike Go writes it).
    Decoded(Box<[u64; PAUSE_RING_LEN]>),
    /// The ring's text, from its `[`, and where each entry starts in it: a pause window needs
    /// only the entries of the cycles since the last body, most often a few of the 256.
    Text { text: &'a [u8], starts: Box<[u16; PAUSE_RING_LEN]> },
    /// The ring's text, from its `[` (256 unsigned integers without spaces, in JSON its host
    /// wrote), and an entry and where it starts (at first, the one noted while the ring was
    /// passed over: the first of the next window, or the one restart detection reads). An entry
    /// asked for is found by counting elements on from there, or from the start for an earlier
    /// one; a window asks for its entries in order.
    Walked { text: &'a [u8], at: Cell<(usize, usize)> },
}

impl PauseRing<'_> {
    /// Entry `index` (below 256).
    #[inline(always)]
    pub fn get(&self, index: usize) -> u64 {
        match self {
            PauseRing::Decoded(values) => values[index],
            PauseRing::Text { starts, .. } if starts[index] == ZERO_ENTRY => 0,
            PauseRing::Text { text, starts } => entry_value(text, usize::from(starts[index])),
            PauseRing::Walked { text, at } => {
                let (mut i, mut start) = at.get();
                if index < i {
                    (i, start) = (0, 1);
                }
                while i < index {
                    // Past the entry's digits (most often fewer than eight) and its comma.
                    start += match leading_digits(load(text, start)) {
                        8 => digit_run(&text[start..]),
                        n => n,
                    } + 1;
                    i += 1;
                }
                at.set((i, start));
                entry_value(text, start)
            }
        }
    }
}

/// The value of the unsigned integer at `start` of a ring's text, which was read as one that fits
/// 64 bits: most often (a pause in ns) under eight digits, decoded from one word.
#[inline(always)]
fn entry_value(text: &[u8], start: usize) -> u64 {
    let word = load(text, start);
    match leading_digits(word) {
        n @ 1..8 => digits_value(word, n),
        _ => {
            let digits = &text[start..];
            uint_value(&digits[..digit_run(digits)]).unwrap_or_default()
        }
    }
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

/// Why a body as a whole could not be read. Its `Display` is the event's `error.message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing but whitespace.
    Empty,
    /// Not UTF-8: where the first invalid byte is (1-based line, column in characters).
    NotUtf8 { line: usize, column: usize },
    /// Not JSON: what is wrong, where, and what the body starts with when it is not even trying to
    /// be an object (an HTML error page, a plain-text 404).
    NotJson { what: &'static str, line: usize, column: usize, starts_with: Option<String> },
    /// JSON, but not an object: what it is instead ("an array", "a string").
    NotAnObject(&'static str),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Empty => f.write_str("body is empty"),
            ReadError::NotUtf8 { line, column } => {
                write!(f, "body is not valid UTF-8: invalid byte at line {line} column {column}")
            }
            ReadError::NotJson { what, line, column, starts_with } => {
                write!(f, "body is not valid JSON: {what} at line {line} column {column}")?;
                match starts_with {
                    Some(start) => write!(f, " (the body starts with {start})"),
                    None => Ok(()),
                }
            }
            ReadError::NotAnObject(what) => write!(f, "body is not a JSON object: it is {what}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads a body, keeping what `want` asks for beyond `cmdline` and the memstats figures.
pub fn read_body(body: &[u8], want: Want) -> Result<Body<'_>, ReadError> {
    if body.iter().all(|b| WHITESPACE.contains(&char::from(*b))) {
        return Err(ReadError::Empty);
    }
    let mut cursor = Cursor::new(body);
    let result = top_level(&mut cursor, want).and_then(|body| {
        cursor.skip_ws();
        match cursor.peek() {
            None => Ok(body),
            Some(_) => Err(cursor.error("trailing characters after the JSON value")),
        }
    });
    // The cursor checks UTF-8 only where it reads strings: a body it read whole is UTF-8, and
    // one it stopped in is checked whole, so that a body that is not UTF-8 is reported as such
    // wherever its grammar broke.
    let error = match result {
        Ok(Ok(body)) => return Ok(body),
        Ok(Err(found)) => return Err(ReadError::NotAnObject(found)),
        Err(error) => error,
    };
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = line_column(body, e.valid_up_to());
            return Err(ReadError::NotUtf8 { line, column });
        }
    };
    let SyntaxError { what, pos } = error;
    let (line, column) = line_column(body, pos);
    Err(ReadError::NotJson { what, line, column, starts_with: describe_start(text) })
}

/// Where the JSON object or array at `start` of `text` ends, when it is one, valid by RFC 8259's
/// grammar (UTF-8 in its strings): what [`crate::split_bodies`] cuts a sequence of bodies at.
pub(crate) fn container_end(text: &[u8], start: usize) -> Option<usize> {
    if !matches!(text.get(start), Some(b'{' | b'[')) {
        return None;
    }
    let mut cursor = Cursor::new(text);
    cursor.pos = start;
    cursor.skip_value().ok()?;
    Some(cursor.pos)
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

/// For a body that is not even trying to be a JSON object, the start of its first line, quoted.
fn describe_start(text: &str) -> Option<String> {
    let start = text.trim_start_matches(WHITESPACE);
    if start.starts_with('{') || start.is_empty() {
        return None;
    }
    if let Some(rest) = start.strip_prefix('\u{feff}') {
        let then = if rest.trim_start_matches(WHITESPACE).starts_with('{') {
            ": save it without one"
        } else {
            ""
        };
        return Some(format!("a UTF-8 byte order mark (U+FEFF), which JSON does not allow{then}"));
    }
    let line = start.lines().next().unwrap_or_default();
    let shown: String = line.chars().take(40).collect();
    let more = if line.chars().count() > shown.chars().count() { "…" } else { "" };
    Some(format!("{shown:?}{more}"))
}

/// The body's top level: an object whose members are read as the body's variables; `Ok(Err)` with
/// what the body is instead when it is valid JSON but no object.
fn top_level<'a>(c: &mut Cursor<'a>, want: Want) -> Parsed<Result<Body<'a>, &'static str>> {
    c.skip_ws();
    if c.peek() != Some(b'{') {
        return Ok(Err(c.value()?.kind()));
    }
    let mut body = Body {
        cmdline: None,
        memstats: Memstats::Missing,
        custom: Vec::new(),
        pause_ns: None,
        pause_end: None,
        last_num_gc: None,
        problems: Vec::new(),
        has_memstats_key: false,
        embedded: None,
    };
    let mut more = c.open(b'}');
    while more {
        let key = c.key_bytes()?;
        c.skip_ws();
        let start = c.pos;
        let embedded = want.embedded
            && body.embedded.is_none()
            && c.peek() == Some(b'"')
            && BODY_STRING_KEYS.iter().any(|name| name.as_bytes() == &*key);
        match &*key {
            b"cmdline" => body.cmdline = cmdline(c, &mut body.problems)?,
            b"memstats" => {
                body.has_memstats_key = true;
                body.memstats = memstats(c, want, &mut body)?;
            }
            // An annotation of Elastic's PR #4908 poller, not a variable the program published.
            b"last_num_gc" if want.pauses => match check_number(c.value()?, Kind::Count) {
                Ok(number) => body.last_num_gc = number.and_then(Number::as_u64),
                Err(why) => body.problems.push(format!("last_num_gc: {why}")),
            },
            b"last_num_gc" => pass_unused(c, want)?,
            _ if want.custom => {
                let start = c.pos;
                let depth = c.skip_value()?;
                // The top-level object is one level; the variable's value nests below it.
                let value = if 1 + depth > MAX_NESTING {
                    Custom::TooDeep
                } else {
                    Custom::Json(c.text(start, c.pos))
                };
                // The key was read as a string, so it is UTF-8.
                let name = match key {
                    Cow::Borrowed(raw) => {
                        Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default())
                    }
                    Cow::Owned(raw) => Cow::Owned(String::from_utf8(raw).unwrap_or_default()),
                };
                body.custom.push((name, value));
            }
            _ => pass_unused(c, want)?,
        }
        if embedded {
            body.embedded = Some((start, c.pos));
        }
        more = c.next_or_close(b'}', "expected ',' or '}' after an object member")?;
    }
    keep_last_of_each_name(&mut body.custom);
    Ok(Ok(body))
}

/// Moves past a value no event uses: by its structure in JSON its host wrote, else checked.
#[inline(always)]
fn pass_unused(c: &mut Cursor<'_>, want: Want) -> Parsed<()> {
    if want.host_json { c.pass_value() } else { c.skip_value().map(drop) }
}

fn cmdline<'a>(c: &mut Cursor<'a>, problems: &mut Vec<String>) -> Parsed<Option<Cmdline<'a>>> {
    if let Some(json) = c.compact_plain_strings() {
        return Ok(Some(Cmdline::Json(json)));
    }
    if c.peek() != Some(b'[') {
        let found = c.value()?;
        if !matches!(found, Value::Null) {
            let what = found.describe();
            problems.push(format!("cmdline: expected an array of strings, found {what}"));
        }
        return Ok(None);
    }
    let mut args = Vec::new();
    let mut index = 0;
    let mut more = c.open(b']');
    while more {
        c.skip_ws();
        match c.value()? {
            Value::Str(arg) => args.push(arg),
            Value::Null => {}
            other => problems
                .push(format!("cmdline[{index}]: expected a string, found {}", other.describe())),
        }
        index += 1;
        more = c.next_or_close(b']', "expected ',' or ']' after an array element")?;
    }
    Ok(Some(Cmdline::Args(args)))
}

fn memstats<'a>(c: &mut Cursor<'a>, want: Want, body: &mut Body<'a>) -> Parsed<Memstats> {
    if c.peek() != Some(b'{') {
        return Ok(match c.value()? {
            Value::Null => Memstats::Missing,
            other => Memstats::NotAnObject(other.kind()),
        });
    }
    let mut values = [None; Stat::COUNT];
    let mut more = c.open(b'}');
    while more {
        // Go writes `"Key":value` with short keys, no spaces and no escapes: such a key is
        // compared as two words (after the whitespace of a body written with spaces).
        let short_key = match c.short_key() {
            None => {
                c.skip_ws();
                c.short_key()
            }
            found => found,
        };
        let (stat, ring) = match short_key {
            Some((len, words)) => (Stat::from_words(len, words), Ring::from_words(len, words)),
            None => {
                let key = c.key_bytes()?;
                (Stat::from_key(&key), Ring::from_key(&key))
            }
        };
        c.skip_ws();
        if want.pauses && ring == Some(Ring::PauseNs) {
            body.pause_ns = match want.host_json.then(|| host_ring(c, want.pause_ns_entry)) {
                Some(Some((PAUSE_RING_LEN, ring))) => Some(ring),
                Some(Some((len, _))) => {
                    let entries = format!("expected {PAUSE_RING_LEN} entries, found {len}");
                    body.problems.push(format!("memstats.PauseNs: {entries}"));
                    None
                }
                _ => pause_ring(c, "PauseNs", Some(&mut body.problems))?,
            };
        } else if want.pauses && ring == Some(Ring::PauseEnd) {
            // What is wrong with `PauseEnd` is not named: no event field comes from it.
            body.pause_end = match want.host_json.then(|| host_ring(c, want.pause_end_entry)) {
                Some(Some((len, ring))) => (len == PAUSE_RING_LEN).then_some(ring),
                _ => pause_ring(c, "PauseEnd", None)?,
            };
        } else if let Some(stat) = stat {
            if let Some(n) = c.plain_uint() {
                values[stat as usize] = Some(match stat.kind() {
                    Kind::Count => Number::Uint(n),
                    // A float figure stays a float however Go wrote it (see `check_number`).
                    Kind::Float => Number::Float(n as f64),
                });
                more = c.next_or_close(b'}', "expected ',' or '}' after an object member")?;
                continue;
            }
            values[stat as usize] = match check_number(c.value()?, stat.kind()) {
                Ok(number) => number,
                Err(why) => {
                    body.problems.push(format!("memstats.{}: {why}", stat.key()));
                    None
                }
            };
        } else if c.plain_uint().is_none() {
            pass_unused(c, want)?;
        }
        more = c.next_or_close(b'}', "expected ',' or '}' after an object member")?;
    }
    Ok(Memstats::Object(values))
}

/// The two rings of `memstats` a collector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ring {
    PauseNs,
    PauseEnd,
}

impl Ring {
    fn from_words(len: usize, words: [u64; 2]) -> Option<Ring> {
        match (len, words[0]) {
            (7, PAUSE_NS) => Some(Ring::PauseNs),
            (8, PAUSE_END) => Some(Ring::PauseEnd),
            _ => None,
        }
    }

    fn from_key(key: &[u8]) -> Option<Ring> {
        match key {
            b"PauseNs" => Some(Ring::PauseNs),
            b"PauseEnd" => Some(Ring::PauseEnd),
            _ => None,
        }
    }
}

/// A ring in JSON its host wrote, written without spaces: how many entries it has, and the ring,
/// with where `entry` starts noted; `None`, not moving, for the checked path.
fn host_ring<'a>(c: &mut Cursor<'a>, entry: Option<usize>) -> Option<(usize, PauseRing<'a>)> {
    if c.peek() != Some(b'[') {
        return None;
    }
    let start = c.pos;
    let entry = entry.unwrap_or(0);
    let (len, found) = c.host_uint_array(entry)?;
    let text = c.text_bytes(start, c.pos);
    let at = found.map_or((0, 1), |start| (entry, start));
    Some((len, PauseRing::Walked { text, at: Cell::new(at) }))
}

/// A ring of `memstats` (`PauseNs`, `PauseEnd`): `Some` only for exactly 256 unsigned integers;
/// anything else gives no ring, and is named in `problems` when they are given.
fn pause_ring<'a>(
    c: &mut Cursor<'a>,
    name: &str,
    mut problems: Option<&mut Vec<String>>,
) -> Parsed<Option<PauseRing<'a>>> {
    let mut problem = |what: String| {
        if let Some(problems) = problems.as_mut() {
            problems.push(format!("memstats.{name}{what}"));
        }
    };
    if c.peek() != Some(b'[') {
        let found = c.value()?;
        if !matches!(found, Value::Null) {
            let what = found.describe();
            problem(format!(
                ": expected an array of {PAUSE_RING_LEN} unsigned integers, found {what}"
            ));
        }
        return Ok(None);
    }
    let start = c.pos;
    let mut starts = Box::new([ZERO_ENTRY; PAUSE_RING_LEN]);
    if let Some(len) = c.compact_uint_array(Some(&mut starts[..])) {
        if len != PAUSE_RING_LEN {
            problem(format!(": expected {PAUSE_RING_LEN} entries, found {len}"));
            return Ok(None);
        }
        return Ok(Some(PauseRing::Text { text: c.text_bytes(start, c.pos), starts }));
    }
    // Anything else (spaces, a wrong element) is read element by element, each problem named.
    c.pos = start;
    let mut ring = Box::new([0; PAUSE_RING_LEN]);
    let mut len = 0;
    let mut usable = true;
    let mut more = c.open(b']');
    while more {
        c.skip_ws();
        match check_number(c.value()?, Kind::Count) {
            Ok(Some(Number::Uint(ns))) if len < PAUSE_RING_LEN => ring[len] = ns,
            Ok(_) | Err(_) if len >= PAUSE_RING_LEN => {}
            Ok(_) => {
                usable = false;
                problem(format!("[{len}]: expected an unsigned integer, found null"));
            }
            Err(why) => {
                usable = false;
                problem(format!("[{len}]: {why}"));
            }
        }
        len += 1;
        more = c.next_or_close(b']', "expected ',' or ']' after an array element")?;
    }
    if len != PAUSE_RING_LEN {
        problem(format!(": expected {PAUSE_RING_LEN} entries, found {len}"));
        return Ok(None);
    }
    Ok(usable.then_some(PauseRing::Decoded(ring)))
}

/// A name published twice keeps its last value, as a JSON object's later member overrides an
/// earlier one (and serde_json's map does); the variables keep the order of their last
/// occurrences. One pass from the end with a set of the names seen: a body with tens of thousands
/// of variables costs n log n, not n^2.
fn keep_last_of_each_name(custom: &mut Vec<(Cow<'_, str>, Custom<'_>)>) {
    if custom.len() < 2 {
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut keep: Vec<bool> =
        custom.iter().rev().map(|(name, _)| seen.insert(name.as_ref())).collect();
    drop(seen);
    keep.reverse();
    let mut kept = keep.into_iter();
    custom.retain(|_| kept.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walked_ring_gives_each_entry_asked_for_in_any_order() {
        let values: Vec<u64> = (0..256u64)
            .map(|i| if i % 7 == 0 { 0 } else { i * 1_000_003 * (i % 13 + 1) })
            .collect();
        let strings: Vec<String> = values.iter().map(u64::to_string).collect();
        let text = format!("[{}]", strings.join(","));
        let (len, ring) = host_ring(&mut Cursor::new(text.as_bytes()), Some(200)).unwrap();
        assert_eq!(len, 256);
        for index in [200, 201, 255, 0, 1, 199, 200, 17, 17, 254, 3] {
            assert_eq!(ring.get(index), values[index], "entry {index}");
        }
    }

    #[test]
    fn reads_figures_exactly_and_skips_the_rest() {
        let body = br#"{"cmdline":["./app","-v"],"custom":{"a":1},"memstats":{"LastGC":18446744073709551615,"GCCPUFraction":1.5e-4,"PauseNs":[1,2],"BySize":[{"Size":8}],"NumGC":3}}"#;
        let read = read_body(body, Want::default()).unwrap();
        assert!(matches!(read.cmdline, Some(Cmdline::Json(r#"["./app","-v"]"#))));
        assert_eq!(read.cmdline.as_ref().unwrap().args(), ["./app", "-v"]);
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
        assert_eq!(read.cmdline.as_ref().unwrap().args(), ["a"]);
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
            assert_eq!(read_body(body, Want::default()).unwrap_err().to_string(), *message);
        }
    }

    #[test]
    fn deep_nesting_is_skipped_not_a_crash() {
        let body = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        for keep_custom in [false, true] {
            let want = Want { custom: keep_custom, pauses: true, ..Want::default() };
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
                let ours =
                    read_body(&variant, Want { custom: true, pauses: true, ..Want::default() });
                let ours_ok = matches!(ours, Ok(_) | Err(ReadError::NotAnObject(_)));
                assert_eq!(ours_ok, serde_ok, "{text:?}: {:?}", ours.err());
                checked += 1;
            }
        }
        assert!(checked > 1000);
    }

    /// A name published twice keeps its last value, at the place of its last occurrence.
    #[test]
    fn a_name_published_twice_keeps_its_last_value() {
        let body = br#"{"a":1,"b":2,"a":{"x":3},"c":4,"b":5,"memstats":{}}"#;
        let read = read_body(body, Want { custom: true, ..Want::default() }).unwrap();
        let custom: Vec<(&str, &str)> = read
            .custom
            .iter()
            .map(|(name, value)| match value {
                Custom::Json(json) => (name.as_ref(), *json),
                Custom::TooDeep => (name.as_ref(), "too deep"),
            })
            .collect();
        assert_eq!(custom, [("a", r#"{"x":3}"#), ("c", "4"), ("b", "5")]);
    }

    /// A custom variable is kept exactly when serde_json can decode it, judged by the reader's
    /// own count of its nesting against [`MAX_NESTING`].
    #[test]
    fn custom_variables_nested_past_the_limit_are_marked_too_deep() {
        for depth in [MAX_NESTING - 2, MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1] {
            for (open, close) in [("[", "]"), ("{\"k\":", "}"), ("[{\"a\":1},", "]")] {
                let value = format!("{}0{}", open.repeat(depth), close.repeat(depth));
                let body = format!("{{\"v\":{value},\"w\":[1,2]}}");
                let read =
                    read_body(body.as_bytes(), Want { custom: true, ..Want::default() }).unwrap();
                let decodable = serde_json::from_str::<serde_json::Value>(&value).is_ok();
                let kept = matches!(read.custom[0].1, Custom::Json(_));
                assert_eq!(kept, decodable, "depth {depth} of {open}");
                assert!(matches!(read.custom[1].1, Custom::Json("[1,2]")));
            }
        }
    }
}
