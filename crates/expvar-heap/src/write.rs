//! Writing an event: nested JSON objects from a list of dotted paths, keys in sorted order.
//!
//! Every event is built as a list of `(path, value)` entries that is already sorted by path, so
//! writing it is one pass with no map, no sort and no allocation per field.

use std::borrow::Cow;

use crate::scan::first_to_escape;

/// A leaf value of an event.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Str(&'a str),
    Uint(u64),
    Float(f64),
    /// An array of strings.
    Strs(&'a [&'a str]),
    /// An array of strings, as the reader kept them.
    Args(&'a [Cow<'a, str>]),
    /// JSON text written as it is (already compact and valid).
    Raw(&'a str),
}

impl Value<'_> {
    /// Whether the value is dropped, as Elastic's pipeline drops empty strings and arrays (an
    /// empty array of strings once its empty strings are gone).
    #[inline]
    fn is_empty(&self) -> bool {
        match self {
            Value::Str(s) => s.is_empty(),
            Value::Strs(items) => items.iter().all(|s| s.is_empty()),
            Value::Args(items) => items.iter().all(|s| s.is_empty()),
            Value::Raw(raw) => raw.is_empty(),
            Value::Uint(_) | Value::Float(_) => false,
        }
    }
}

/// The JSON text around the fields of a fixed list of sorted paths, worked out once, so that
/// writing an event's fields is mostly copying it and the values: what goes before each field
/// when it is the first written or follows the field before it in the list (closing the objects
/// of the previous field that it is not in, a comma, opening its objects, its key), and the
/// closing braces after each field as the last. Between fields further apart (a field left out),
/// the text is worked out as it is written. The fields are written as members that follow others
/// in their object.
#[derive(Debug)]
pub struct Layout {
    paths: Vec<&'static [&'static str]>,
    /// Every text below, one after another.
    text: String,
    /// Where the text before each field as the first one written is in `text`.
    first: Vec<(u32, u32)>,
    /// Where the text before each field that follows the one before it in the list is.
    next: Vec<(u32, u32)>,
    /// Where the closing braces after each field as the last are.
    ends: Vec<(u32, u32)>,
}

impl Layout {
    pub fn new(paths: &[&'static [&'static str]]) -> Layout {
        let mut text = String::new();
        let part = |text: &mut String, write: &dyn Fn(&mut String)| {
            let start = text.len();
            write(text);
            (start as u32, text.len() as u32)
        };
        let first = paths.iter().map(|p| part(&mut text, &|t| between(t, None, p))).collect();
        let next = (0..paths.len())
            .map(|i| {
                let previous = i.checked_sub(1).map(|p| paths[p]);
                part(&mut text, &|t| between(t, previous, paths[i]))
            })
            .collect();
        let ends = paths
            .iter()
            .map(|p| part(&mut text, &|t| (1..p.len()).for_each(|_| t.push('}'))))
            .collect();
        Layout { paths: paths.to_vec(), text, first, next, ends }
    }

    #[inline]
    fn part(&self, (start, end): (u32, u32)) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// Writes the fields given, in order, as `(index in the paths, value)`, empty values left out.
    pub fn write<'v>(&self, out: &mut String, fields: impl Iterator<Item = (usize, Value<'v>)>) {
        let mut previous = None;
        for (index, value) in fields {
            if value.is_empty() {
                continue;
            }
            match previous {
                None => out.push_str(self.part(self.first[index])),
                Some(p) if p + 1 == index => out.push_str(self.part(self.next[index])),
                Some(p) => between(out, Some(self.paths[p]), self.paths[index]),
            }
            write_value(out, value);
            previous = Some(index);
        }
        if let Some(last) = previous {
            out.push_str(self.part(self.ends[last]));
        }
    }
}

/// The text between a field at `previous` (or the members before the fields) and one at `path`:
/// closing what `path` is not in, a comma, opening what it is in, its key.
fn between(out: &mut String, previous: Option<&[&str]>, path: &[&str]) {
    let (parents, key) = path.split_at(path.len() - 1);
    let open = previous.map_or(&[][..], |p| &p[..p.len() - 1]);
    let common = open.iter().zip(parents).take_while(|(a, b)| same_str(a, b)).count();
    for _ in common..open.len() {
        out.push('}');
    }
    out.push(',');
    for segment in &parents[common..] {
        write_key(out, segment);
        out.push('{');
    }
    write_key(out, key[0]);
}

/// Collects the entries of one event, in path order, and writes them as nested objects.
pub struct EventWriter<'a> {
    entries: Vec<(&'a [&'a str], Value<'a>)>,
}

impl<'a> EventWriter<'a> {
    pub fn new() -> Self {
        EventWriter { entries: Vec::with_capacity(48) }
    }

    /// Adds a field. Paths must come in sorted order; empty values are dropped as Elastic's
    /// pipeline drops them (empty strings and arrays; an empty array of strings once its empty
    /// strings are gone).
    pub fn push(&mut self, path: &'a [&'a str], value: Value<'a>) {
        debug_assert!(
            self.entries.last().is_none_or(|(last, _)| *last < path),
            "event paths out of order: {path:?}"
        );
        if !value.is_empty() {
            self.entries.push((path, value));
        }
    }

    /// Writes the event as one line of compact JSON (no newline).
    #[cfg(test)]
    pub fn finish(self, capacity_hint: usize) -> String {
        let mut out = String::with_capacity(capacity_hint + 64 * self.entries.len());
        out.push('{');
        self.write_members(&mut out);
        out.push('}');
        out
    }

    /// Writes the members of the event's object, without its braces: nothing when it has none.
    pub fn write_members(&self, out: &mut String) {
        let mut open: &[&str] = &[];
        let mut first_in_level = true;
        for (path, value) in &self.entries {
            let (parents, key) = path.split_at(path.len() - 1);
            let common = open.iter().zip(parents).take_while(|(a, b)| same_str(a, b)).count();
            for _ in common..open.len() {
                out.push('}');
                first_in_level = false;
            }
            for segment in &parents[common..] {
                if !first_in_level {
                    out.push(',');
                }
                write_key(out, segment);
                out.push('{');
                first_in_level = true;
            }
            if !first_in_level {
                out.push(',');
            }
            write_key(out, key[0]);
            write_value(out, *value);
            first_in_level = false;
            open = parents;
        }
        for _ in 0..open.len() {
            out.push('}');
        }
    }
}

/// Whether two path segments are equal: the same text in the same place, most often (the field
/// table's segments), else compared.
#[inline(always)]
fn same_str(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// A key and its colon. Keys are the field table's and the envelope's names, which need no
/// escaping (a test checks every one), so they are copied as they are.
#[inline(always)]
pub fn write_key(out: &mut String, key: &str) {
    debug_assert!(first_to_escape(key.as_bytes()).is_none(), "key {key:?} needs escaping");
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

#[inline(always)]
fn write_value(out: &mut String, value: Value<'_>) {
    match value {
        Value::Str(s) => write_str(out, s),
        Value::Uint(n) => write_uint(out, n),
        Value::Float(f) => write_float(out, f),
        Value::Strs(items) => write_strs(out, items.iter().copied()),
        Value::Args(items) => write_strs(out, items.iter().map(|item| item.as_ref())),
        Value::Raw(raw) => out.push_str(raw),
    }
}

/// Two decimal digits of each number below 100, one after another.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// An unsigned integer in decimal, two digits a step, written in place: an event has about twenty
/// of them, and in WAMR's interpreter (Fluent Bit's) a call costs about what the writing does.
#[inline(always)]
fn write_uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while n >= 100 {
        let pair = 2 * (n % 100) as usize;
        n /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[2 * n as usize..2 * n as usize + 2]);
    } else {
        start -= 1;
        digits[start] = b'0' + n as u8;
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// An array of strings, empty ones left out.
fn write_strs<'s>(out: &mut String, items: impl Iterator<Item = &'s str>) {
    out.push('[');
    for (i, item) in items.filter(|s| !s.is_empty()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, item);
    }
    out.push(']');
}

/// A finite float in its shortest exact form; JSON has no NaN or infinity, so those become null
/// (they cannot come from a JSON body).
pub fn write_float(out: &mut String, f: f64) {
    // A whole number below 10^16 (a pause average, a zero fraction) is written as ryu writes it,
    // its digits and `.0`, without ryu's 128-bit arithmetic (calls, in a WebAssembly interpreter).
    if f.is_sign_positive() && f < 1e16 && f.fract() == 0.0 {
        write_uint(out, f as u64);
        out.push_str(".0");
    } else if f.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(f));
    } else {
        out.push_str("null");
    }
}

/// A JSON string literal, escaping what JSON requires.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(offset) = first_to_escape(&bytes[start..]) {
        let i = start + offset;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => out.push_str(&format!("\\u{b:04x}")),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_ryu_writes_them() {
        let mut cases =
            vec![0.0, -0.0, 1.0, 17_429.0, 0.5, 1e-7, 9_999_999_999_999_998.0, 1e16, 1e17];
        cases.extend([f64::MIN_POSITIVE, 2f64.powi(53), 2f64.powi(53) + 2.0, 123_456_789.0, -3.0]);
        cases.extend(
            (0..1000).map(|i: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 64)) as f64),
        );
        for f in cases {
            let mut out = String::new();
            write_float(&mut out, f);
            assert_eq!(out, ryu::Buffer::new().format_finite(f), "{f}");
        }
    }

    #[test]
    fn unsigned_integers_are_written_as_itoa_writes_them() {
        let mut cases = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, 65_535, u64::MAX, u64::MAX - 1];
        cases.extend((0..64).map(|bit| 1u64 << bit));
        cases.extend((1..=19).map(|digits| 10u64.pow(digits) - 1));
        cases.extend((0..1000).map(|i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 64)));
        for n in cases {
            let mut out = String::new();
            write_uint(&mut out, n);
            assert_eq!(out, itoa::Buffer::new().format(n), "{n}");
        }
    }

    #[test]
    fn nests_sorted_paths_and_drops_empty_values() {
        let mut w = EventWriter::new();
        w.push(&["@timestamp"], Value::Str("t"));
        w.push(&["a", "b", "c"], Value::Uint(1));
        w.push(&["a", "b", "d"], Value::Float(0.5));
        w.push(&["a", "e"], Value::Str(""));
        w.push(&["a", "f", "g"], Value::Strs(&["", "x"]));
        w.push(&["h"], Value::Strs(&[""]));
        w.push(&["i"], Value::Raw("{\"j\":2}"));
        assert_eq!(
            w.finish(0),
            r#"{"@timestamp":"t","a":{"b":{"c":1,"d":0.5},"f":{"g":["x"]}},"i":{"j":2}}"#
        );
    }

    #[test]
    fn escapes_strings() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn floats_are_shortest_exact() {
        /// The significant digits of a float's text: no sign, point, exponent or outer zeros.
        fn digits(text: &str) -> String {
            let mantissa = text.split(['e', 'E']).next().unwrap();
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            digits.trim_matches('0').to_owned()
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut floats =
            vec![0.00011999823966691628, 0.0, -0.0, 100.0, 0.1, 1e21, 5e-324, f64::MAX];
        while floats.len() < 20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let f = f64::from_bits(state);
            if f.is_finite() {
                floats.push(f);
            }
        }
        for f in floats {
            let mut out = String::new();
            write_float(&mut out, f);
            // Exact: it reads back as the same double.
            assert_eq!(out.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{out}");
            // Shortest: as many digits as the shortest text that reads back (Rust's `{:e}`
            // writes one; where two are as short, they may differ in the last digit).
            assert_eq!(digits(&out).len(), digits(&format!("{f:e}")).len(), "{out} for {f:e}");
            // A float, never an integer's text.
            assert!(out.contains(['.', 'e']), "{out}");
        }
    }
}
