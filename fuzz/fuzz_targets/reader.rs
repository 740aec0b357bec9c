//! The reader against serde_json on arbitrary bytes: the same bodies accepted and refused, the
//! same figures read, and the error where serde_json stops.
#![no_main]

use expvar_heap::fields::{EXPVAR_FIELDS, EsType, HEAP_FIELDS, Source};
use expvar_heap::{CollectionTime, Datasets, Options};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    let options = Options { datasets: Datasets::ALL, ..Options::default() }.validate().unwrap();
    let events = expvar_heap::transform(body, CollectionTime::default(), &options);
    let heap: Value = serde_json::from_str(&events[0].json).expect("an event is JSON");
    let expvar: Value = serde_json::from_str(&events[1].json).expect("an event is JSON");
    let message = heap["error"]["message"].as_str().unwrap_or_default();
    let refused = ["body is empty", "body is not valid JSON", "body is not valid UTF-8"]
        .iter()
        .any(|start| message.starts_with(start));

    // JSON text is UTF-8 (RFC 8259), which serde_json does not check in strings it skips.
    let Ok(text) = std::str::from_utf8(body) else {
        assert!(message.starts_with("body is not valid UTF-8"), "not UTF-8, yet: {message:?}");
        return;
    };
    // Syntax alone, as the reader judges it (a Value also refuses numbers beyond a double).
    let serde = serde_json::from_str::<serde::de::IgnoredAny>(text);
    match &serde {
        // serde_json stops at 128 levels; the reader skips deeper variables instead.
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => return,
        Err(e) => {
            assert!(refused, "serde_json refuses ({e}), the reader accepts: {message:?}");
            if let Some((line, column)) = position(message) {
                // Both point into the token where the text stopped being JSON: the reader at its
                // first character (or past the end), serde_json at the character it stopped on,
                // up to a literal's length further, or one before at the end of the body.
                let start = |line: usize| -> usize {
                    text.split_inclusive('\n').take(line - 1).map(str::len).sum()
                };
                // The reader: the line's character `column` (1-based).
                let line_text = text[start(line)..].split('\n').next().unwrap_or_default();
                let in_line = line_text.char_indices().nth(column - 1).map(|(at, _)| at);
                let ours = start(line) + in_line.unwrap_or(line_text.len());
                // serde_json: `column` bytes of the line read, the last one where it stopped (0:
                // the newline before the line).
                let theirs = (start(e.line()) + e.column()).saturating_sub(1);
                assert!(
                    (ours.saturating_sub(1)..=ours + 4).contains(&theirs),
                    "serde_json: {e} (byte {theirs}), reader: {message} (byte {ours})"
                );
            }
        }
        Ok(_) => assert!(!refused, "serde_json accepts, the reader refuses: {message}"),
    }

    // Every figure serde_json reads as a number is in the events, exactly.
    let Ok(Value::Object(top)) = serde_json::from_str::<Value>(text) else { return };
    let Some(Value::Object(memstats)) = top.get("memstats") else { return };
    for (fields, event) in [(HEAP_FIELDS, &heap), (EXPVAR_FIELDS, &expvar)] {
        for field in fields {
            let Source::Stat(stat) = field.source else { continue };
            let Some(expected) = memstats.get(stat.key()) else { continue };
            let found = field.path.iter().try_fold(event, |v, k| v.get(*k));
            let integer = field.mapping.es_type == EsType::Long;
            match (expected.as_u64(), expected.as_f64(), found) {
                (Some(n), _, Some(found)) if integer => {
                    assert_eq!(found.as_u64(), Some(n), "{}", stat.key())
                }
                // serde_json's default float parsing may round the last bit differently.
                (_, Some(f), Some(found)) => {
                    let got = found.as_f64().expect("a number");
                    assert!((got - f).abs() <= 1e-15 * f.abs().max(got.abs()), "{}", stat.key())
                }
                (Some(_), _, None) if integer => {
                    panic!("{} = {expected} is not in the event", stat.key())
                }
                _ => {}
            }
        }
    }
});

/// The line and column an error message names.
fn position(message: &str) -> Option<(usize, usize)> {
    let at = message.find(" at line ")?;
    let mut words = message[at + 9..].split(' ');
    let line = words.next()?.parse().ok()?;
    let column = words.nth(1)?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?;
    Some((line, column))
}
