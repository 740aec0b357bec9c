//! Finding bodies where adapters receive them: inside a log shipper's record, or several pasted
//! one after another. This is the adapters' input contract; what a body then becomes is the
//! transform's business.

use std::borrow::Cow;

pub use crate::read::BODY_STRING_KEYS;
use crate::read::{Body, Want, container_end, read_body};

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
/// NDJSON, or as Go writes them, over many lines) into the bodies, in order. Splitting is the
/// inverse of putting the bodies together: the bodies, joined, are the text again, byte for byte.
///
/// Each top-level JSON object or array is a body, with the whitespace after it (Go's handler ends
/// its body with `}\n`; the first body keeps any whitespace before it too). From the first point
/// where the text stops being such a sequence (a byte order mark, an HTML error page, a value
/// that is not JSON or is cut short), the rest of the text is one body, so that it becomes one
/// error event that keeps it whole. Text of whitespace alone holds no body.
pub fn split_bodies(text: &str) -> Vec<&str> {
    // Every cut is at an ASCII byte (after a closing bracket or whitespace), so on a char boundary.
    split_body_bytes(text.as_bytes())
        .into_iter()
        .map(|body| std::str::from_utf8(body).unwrap_or_default())
        .collect()
}

/// [`split_bodies`] of bytes, which need not be UTF-8: text that is not is part of the body it
/// stands in (and that body's event says where).
pub fn split_body_bytes(text: &[u8]) -> Vec<&[u8]> {
    let whitespace = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let after_ws = |pos: usize| pos + text[pos..].iter().take_while(|b| whitespace(b)).count();
    let mut bodies = Vec::new();
    let (mut start, mut pos) = (0, after_ws(0));
    while pos < text.len() {
        let Some(end) = container_end(text, pos) else {
            break; // not a sequence of JSON values from here: the rest is one body
        };
        pos = after_ws(end);
        bodies.push(&text[start..pos]);
        start = pos;
    }
    if pos < text.len() {
        bodies.push(&text[start..]);
    }
    bodies
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
    fn splits_pasted_sequences_into_bodies_that_join_to_the_text() {
        let go = "{\n\"cmdline\": [\"./a\"],\n\"memstats\": {\"NumGC\":1}\n}\n";
        assert_eq!(split_bodies(&format!("{go}{go}")), [go, go]);
        let ndjson = "{\"a\":\"}\"}\r\n[1,{}]\n\n{\"b\":[1,{}]}";
        assert_eq!(split_bodies(ndjson), ["{\"a\":\"}\"}\r\n", "[1,{}]\n\n", "{\"b\":[1,{}]}"]);
        // Whitespace before the first body is the first body's.
        assert_eq!(split_bodies("\n {}\n"), ["\n {}\n"]);
        assert!(split_bodies(" \n ").is_empty());
        assert!(split_bodies("").is_empty());
    }

    #[test]
    fn from_where_the_text_stops_being_json_values_the_rest_is_one_body() {
        let go = "{\n\"memstats\": {\"NumGC\":1}\n}\n";
        // A body saved with a byte order mark: one body, not its lines.
        let bom = format!("\u{feff}{go}");
        assert_eq!(split_bodies(&bom), [bom.as_str()]);
        assert_eq!(split_bodies(&format!("{go}{bom}")), [go, bom.as_str()]);
        let rest = "404 page not found\n{\"b\":[1,{}]}\n{\"cut\":";
        assert_eq!(split_bodies(&format!("{go}{rest}")), [go, rest]);
        // Brackets that balance are no JSON value of their own.
        let broken = "{\"a\": xyz}\n{\"b\":1}\n";
        assert_eq!(split_bodies(broken), [broken]);
        assert_eq!(split_bodies("{\"cut\":"), ["{\"cut\":"]);
        // Bytes that are not UTF-8 stay in the body they stand in.
        let bytes = b"{\"a\":1}\n{\"b\":\"\xff\"}\n{}";
        assert_eq!(split_body_bytes(bytes), [&b"{\"a\":1}\n"[..], &b"{\"b\":\"\xff\"}\n{}"[..]]);
    }

    #[test]
    fn any_split_joins_to_its_text() {
        let pieces =
            ["{}", "\n", " ", "[1]", "{\"a\":\"}\"}", "x", "\u{feff}", "{", "}", "\"s\"", "\r\n"];
        // Every text of up to four pieces.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            texts =
                texts.iter().flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}"))).collect();
            for text in &texts {
                let bodies = split_bodies(text);
                assert_eq!(
                    bodies.concat(),
                    if text.trim().is_empty() { "" } else { text },
                    "{text:?}"
                );
                assert!(bodies.iter().all(|body| !body.trim().is_empty()), "{text:?}");
            }
        }
    }
}
