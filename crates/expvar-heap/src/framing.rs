//! Finding bodies where adapters receive them: inside a log shipper's record, or several pasted
//! one after another. This is the adapters' input contract; what a body then becomes is the
//! transform's business.

use std::borrow::Cow;

use crate::read::{Body, Want, read_body};

/// The keys under which a log shipper's record carries a raw body as a string: `log` (Fluent Bit's
/// tail input), `message` (Elastic's pipeline tests, many shippers), `exec` (Fluent Bit's exec
/// input without a parser). The reader notes where the first of them is while it reads a record.
pub const BODY_STRING_KEYS: [&str; 3] = ["log", "message", "exec"];

/// The `/debug/vars` body inside a log shipper's record. A record that is the body itself (it has
/// `memstats`), or that is not a JSON object with a string under one of [`BODY_STRING_KEYS`], is
/// returned as it is, so that a broken one still becomes an error event with the record kept.
pub fn record_body(record: &[u8]) -> Cow<'_, [u8]> {
    let want = Want { embedded: true, ..Want::default() };
    match read_body(record, want) {
        Ok(read) => embedded_body(record, &read).unwrap_or(Cow::Borrowed(record)),
        Err(_) => Cow::Borrowed(record),
    }
}

/// The body a record read with [`Want::embedded`] carries as a string, when it is not the body
/// itself.
pub(crate) fn embedded_body<'a>(record: &'a [u8], read: &Body<'_>) -> Option<Cow<'a, [u8]>> {
    if read.has_memstats_key {
        return None;
    }
    let (start, end) = read.embedded?;
    // A string the reader checked: as it is without escapes, else decoded.
    let token = &record[start..end];
    if !token.contains(&b'\\') {
        return Some(Cow::Borrowed(&token[1..token.len() - 1]));
    }
    let decoded = serde_json::from_slice::<String>(token).ok()?;
    Some(Cow::Owned(decoded.into_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
