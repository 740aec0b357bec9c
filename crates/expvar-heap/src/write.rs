//! Writing an event: nested JSON objects from a list of dotted paths, keys in sorted order.
//!
//! Every event is built as a list of `(path, value)` entries that is already sorted by path, so
//! writing it is one pass with no map, no sort and no allocation per field.

use crate::scan::string_stop;

/// A leaf value of an event.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Str(&'a str),
    Uint(u64),
    Float(f64),
    /// An array of strings.
    Strs(&'a [&'a str]),
    /// JSON text written as it is (already compact and valid).
    Raw(&'a str),
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
        let empty = match value {
            Value::Str(s) => s.is_empty(),
            Value::Strs(items) => items.iter().all(|s| s.is_empty()),
            Value::Raw(raw) => raw.is_empty(),
            Value::Uint(_) | Value::Float(_) => false,
        };
        if !empty {
            self.entries.push((path, value));
        }
    }

    /// Writes the event as one line of compact JSON (no newline).
    pub fn finish(self, capacity_hint: usize) -> String {
        let mut out = String::with_capacity(capacity_hint + 64 * self.entries.len());
        let mut open: &[&str] = &[];
        out.push('{');
        let mut first_in_level = true;
        for (path, value) in &self.entries {
            let (parents, key) = path.split_at(path.len() - 1);
            let common = open.iter().zip(parents).take_while(|(a, b)| a == b).count();
            for _ in common..open.len() {
                out.push('}');
                first_in_level = false;
            }
            for segment in &parents[common..] {
                if !first_in_level {
                    out.push(',');
                }
                write_str(&mut out, segment);
                out.push_str(":{");
                first_in_level = true;
            }
            if !first_in_level {
                out.push(',');
            }
            write_str(&mut out, key[0]);
            out.push(':');
            write_value(&mut out, *value);
            first_in_level = false;
            open = parents;
        }
        for _ in 0..open.len() {
            out.push('}');
        }
        out.push('}');
        out
    }
}

fn write_value(out: &mut String, value: Value<'_>) {
    match value {
        Value::Str(s) => write_str(out, s),
        Value::Uint(n) => out.push_str(itoa::Buffer::new().format(n)),
        Value::Float(f) => write_float(out, f),
        Value::Strs(items) => {
            out.push('[');
            for (i, item) in items.iter().filter(|s| !s.is_empty()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, item);
            }
            out.push(']');
        }
        Value::Raw(raw) => out.push_str(raw),
    }
}

/// A finite float in its shortest exact form; JSON has no NaN or infinity, so those become null
/// (they cannot come from a JSON body).
pub fn write_float(out: &mut String, f: f64) {
    if f.is_finite() {
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
    while let Some(offset) = string_stop(&bytes[start..]) {
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
        let mut out = String::new();
        write_float(&mut out, 0.00011999823966691628);
        assert_eq!(out.parse::<f64>().unwrap(), 0.00011999823966691628);
    }
}
