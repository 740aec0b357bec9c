//! The grammar of JSON (RFC 8259), once: where each kind of value ends, checked, or where and why
//! the body stops being JSON ([`SyntaxError`], said at the byte where it went wrong). The cursor's
//! methods and the skipping of whole values both use these.

use super::{Cursor, Parsed, SyntaxError};
use crate::scan::{bytes_to_inspect, digit_run, first_marked, leading_digits, load};

/// Where one JSON value at `pos` (RFC 8259's grammar, UTF-8 in strings) ends and how deeply it
/// nests (0 for a scalar, 1 for a flat array or object, as serde_json counts against its
/// recursion limit), or where and why it stops being JSON. One loop over local state, with no
/// recursion: the open containers are bits, so no body can overflow the stack. Go's
/// compact arrays take their fast paths ([`Cursor::compact_array`]).
pub(crate) fn skip(bytes: &[u8], mut pos: usize) -> Parsed<(usize, usize)> {
    // Most values skipped are scalars (the memstats figures not read): no containers to track.
    pos = after_ws(bytes, pos);
    match bytes.get(pos) {
        Some(b'"') => return Ok((string_end(bytes, pos)?.0, 0)),
        Some(b'-' | b'0'..=b'9') => return Ok((number_end(bytes, pos)?.0, 0)),
        _ => {}
    }
    // The open containers, innermost in the lowest bit (1 for an object): 128 in `open`, which
    // stays in a register; any deeper ones in words spilled to the heap (only a body nested past
    // 128 levels allocates).
    let mut open: u128 = 0;
    let mut depth = 0usize;
    let mut spilled: Vec<u128> = Vec::new();
    let mut deepest = 0;
    loop {
        // A value.
        pos = after_ws(bytes, pos);
        let object = match bytes.get(pos) {
            Some(b'"') => {
                pos = string_end(bytes, pos)?.0;
                None
            }
            Some(b'-' | b'0'..=b'9') => {
                pos = number_end(bytes, pos)?.0;
                None
            }
            Some(b'[') => {
                let mut c = Cursor { bytes, pos };
                if let Some(nested) = c.compact_array() {
                    deepest = deepest.max(depth + nested);
                    pos = c.pos;
                    None
                } else {
                    pos = after_ws(bytes, pos + 1);
                    if bytes.get(pos) == Some(&b']') {
                        deepest = deepest.max(depth + 1);
                        pos += 1;
                        None
                    } else {
                        Some(false)
                    }
                }
            }
            Some(b'{') => {
                pos = after_ws(bytes, pos + 1);
                if bytes.get(pos) == Some(&b'}') {
                    deepest = deepest.max(depth + 1);
                    pos += 1;
                    None
                } else {
                    pos = key_end(bytes, pos)?; // whitespace already skipped
                    Some(true)
                }
            }
            Some(b't') => {
                pos = literal_end(bytes, pos, b"true")?;
                None
            }
            Some(b'f') => {
                pos = literal_end(bytes, pos, b"false")?;
                None
            }
            Some(b'n') => {
                pos = literal_end(bytes, pos, b"null")?;
                None
            }
            _ => return Err(stop(bytes, pos, "expected a JSON value")),
        };
        if let Some(object) = object {
            // A container opened, its first member or element next.
            if depth != 0 && depth.is_multiple_of(128) {
                spilled.push(open);
                open = 0;
            }
            open = open << 1 | u128::from(object);
            depth += 1;
            deepest = deepest.max(depth);
            continue;
        }
        // What follows it: more of the same container, or the end of one or more.
        loop {
            if depth == 0 {
                return Ok((pos, deepest));
            }
            pos = after_ws(bytes, pos);
            match (bytes.get(pos), open & 1 == 1) {
                (Some(b','), false) => {
                    pos += 1;
                    break;
                }
                (Some(b','), true) => {
                    pos = key_end(bytes, after_ws(bytes, pos + 1))?;
                    break;
                }
                (Some(b']'), false) | (Some(b'}'), true) => {
                    pos += 1;
                    open >>= 1;
                    depth -= 1;
                    if depth != 0 && depth.is_multiple_of(128) {
                        open = spilled.pop().unwrap_or_default();
                    }
                }
                (_, false) => {
                    return Err(stop(bytes, pos, "expected ',' or ']' after an array element"));
                }
                (_, true) => {
                    return Err(stop(bytes, pos, "expected ',' or '}' after an object member"));
                }
            }
        }
    }
}

/// `what` went wrong at `pos`, or the body ended there.
#[cold]
pub(super) fn stop(bytes: &[u8], pos: usize, what: &'static str) -> SyntaxError {
    let what = if pos >= bytes.len() { "unexpected end of the body" } else { what };
    SyntaxError { what, pos }
}

/// Past any whitespace at `pos`.
#[inline(always)]
pub(super) fn after_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// At an object key (whitespace before it already skipped): past the key, checked, and its colon.
#[inline(always)]
fn key_end(bytes: &[u8], pos: usize) -> Parsed<usize> {
    Ok(key(bytes, pos)?.colon_end)
}

/// An object key read by [`key`].
pub(super) struct Key {
    /// Past the key's closing quote.
    pub string_end: usize,
    /// Whether the key has escapes.
    pub escaped: bool,
    /// Past the colon after it.
    pub colon_end: usize,
}

/// At an object key (whitespace before it already skipped): the key, checked, and its colon.
#[inline(always)]
pub(super) fn key(bytes: &[u8], pos: usize) -> Parsed<Key> {
    if bytes.get(pos) != Some(&b'"') {
        return Err(stop(bytes, pos, "expected a string as the object key"));
    }
    let (string_end, escaped) = string_end(bytes, pos)?;
    let colon = after_ws(bytes, string_end);
    if bytes.get(colon) != Some(&b':') {
        return Err(stop(bytes, colon, "expected ':' after an object key"));
    }
    Ok(Key { string_end, escaped, colon_end: colon + 1 })
}

/// From `pos` in a string: the first byte the reader must look at (a quote, a backslash, a
/// control or non-ASCII byte, or the end of the body), eight bytes at a time.
#[inline(always)]
pub(super) fn plain_run_end(bytes: &[u8], mut pos: usize) -> usize {
    loop {
        let stops = bytes_to_inspect(load(bytes, pos));
        if stops != 0 {
            return pos + first_marked(stops);
        }
        pos += 8;
    }
}

/// At `"`: past the string, checked (escapes, control characters, UTF-8), and whether it had
/// escapes.
#[inline(always)]
pub(super) fn string_end(bytes: &[u8], mut pos: usize) -> Parsed<(usize, bool)> {
    pos += 1;
    let mut escaped = false;
    loop {
        pos = plain_run_end(bytes, pos);
        match bytes.get(pos) {
            Some(b'"') => return Ok((pos + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                match bytes.get(pos + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 2,
                    Some(b'u') => {
                        let hex = bytes.get(pos + 2..pos + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(stop(bytes, pos + 1, "invalid \\u escape in a string"));
                        }
                        pos += 6;
                    }
                    _ => return Err(stop(bytes, pos + 1, "invalid escape in a string")),
                }
            }
            Some(&lead @ 0x80..) => {
                // One UTF-8 sequence, checked by the standard library (overlong forms and
                // surrogates included); an invalid one is reported as the body not being UTF-8
                // by `read_body`.
                let len = match lead {
                    0xC2..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    0xF0..=0xF4 => 4,
                    _ => 0,
                };
                match bytes.get(pos..pos + len) {
                    Some(sequence) if len > 0 && std::str::from_utf8(sequence).is_ok() => {
                        pos += len
                    }
                    _ => return Err(stop(bytes, pos, "invalid UTF-8 in a string")),
                }
            }
            Some(_) => return Err(stop(bytes, pos, "control character in a string")),
            None => return Err(stop(bytes, pos, "unexpected end of the body")),
        }
    }
}

/// Past the number at `pos` (RFC 8259's grammar), and whether it is a plain integer.
#[inline(always)]
pub(super) fn number_end(bytes: &[u8], mut pos: usize) -> Parsed<(usize, bool)> {
    if bytes.get(pos) == Some(&b'-') {
        pos += 1;
    }
    let word = load(bytes, pos);
    let n = leading_digits(word);
    if n == 0 {
        return Err(stop(bytes, pos, "invalid number"));
    }
    if word as u8 == b'0' {
        // A leading zero stands alone: what follows it is not part of the number.
        pos += 1;
    } else {
        pos += n;
        if n == 8 {
            pos += digit_run(&bytes[pos..]);
        }
    }
    let mut integer = true;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let n = digit_run(&bytes[pos..]);
        if n == 0 {
            return Err(stop(bytes, pos, "invalid number: expected a digit after '.'"));
        }
        pos += n;
        integer = false;
    }
    if let Some(b'e' | b'E') = bytes.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = bytes.get(pos) {
            pos += 1;
        }
        let n = digit_run(&bytes[pos..]);
        if n == 0 {
            return Err(stop(bytes, pos, "invalid number: expected a digit in the exponent"));
        }
        pos += n;
        integer = false;
    }
    Ok((pos, integer))
}

/// Past `word` at `pos`.
#[inline(always)]
pub(super) fn literal_end(bytes: &[u8], pos: usize, word: &[u8]) -> Parsed<usize> {
    if bytes[pos..].starts_with(word) {
        Ok(pos + word.len())
    } else {
        Err(stop(bytes, pos, "expected a JSON value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nesting of any depth is skipped in one loop: its depth counted past the 128 containers of
    /// one word of bits, and an error deep inside named where it is.
    #[test]
    fn deep_nesting_is_skipped_and_its_errors_placed() {
        for depth in [1, 127, 128, 129, 256, 257, 1000] {
            let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert_eq!(skip(arrays.as_bytes(), 0).unwrap(), (arrays.len(), depth));
            let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
            assert_eq!(skip(objects.as_bytes(), 0).unwrap(), (objects.len(), depth));
            // Mixed: an object in an array in an object..., closed in order.
            let mixed: String =
                (0..depth).map(|i| if i % 2 == 0 { "[" } else { r#"{"k":"# }).collect();
            let closes: String =
                (0..depth).rev().map(|i| if i % 2 == 0 { "]" } else { "}" }).collect();
            let text = format!("{mixed}0{closes}");
            assert_eq!(skip(text.as_bytes(), 0).unwrap(), (text.len(), depth), "{depth}");
            // The innermost container closed with the wrong byte.
            let wrong = format!("{}0}}", "[".repeat(depth));
            let error = skip(wrong.as_bytes(), 0).unwrap_err();
            assert_eq!(
                (error.what, error.pos),
                ("expected ',' or ']' after an array element", depth + 1)
            );
        }
        let cut = skip(b"[[1,", 0).unwrap_err();
        assert_eq!((cut.what, cut.pos), ("unexpected end of the body", 4));
        let key = skip(br#"{"a":1, 2}"#, 0).unwrap_err();
        assert_eq!((key.what, key.pos), ("expected a string as the object key", 8));
        let colon = skip(br#"{"a" 1}"#, 0).unwrap_err();
        assert_eq!((colon.what, colon.pos), ("expected ':' after an object key", 5));
    }
}
