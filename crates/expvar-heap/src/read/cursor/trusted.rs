//! Passing over JSON that its host wrote itself, such as the record Fluent Bit hands its `wasm`
//! filter (`flb_msgpack_to_json` of a record it holds as msgpack). Such text is valid JSON by
//! construction (RFC 8259), and its integers fit 64 bits (msgpack holds none larger). The values
//! that no event needs are passed over by their structure alone, and an array of unsigned
//! integers (`PauseEnd`) by which of its bytes are digits and commas, without checking the
//! grammar of each byte; for valid JSON whose integers fit, the result is the checked path's
//! exactly. Text
//! that breaks that promise is still read without a panic or a read out of bounds, and only the
//! values taken are checked as usual.
//!
//! The reader uses this only when told to trust its input ([`crate::read::Want::host_json`]).

use super::skip::{after_ws, stop};
use super::{Cursor, Parsed};
use crate::scan::{FOUR_ZEROS, ONES, bytes_equal, digit_run, first_marked, load, non_digit_bytes};

impl Cursor<'_> {
    /// Moves past the value at the cursor (after any whitespace) by its structure: a string to
    /// its closing quote, an array or object to its matching bracket, anything else to the next
    /// `,`, `]`, `}` or whitespace. An error only where the text ends first.
    #[inline(always)]
    pub fn pass_value(&mut self) -> Parsed<()> {
        let bytes = self.bytes;
        let pos = after_ws(bytes, self.pos);
        self.pos = match bytes.get(pos) {
            Some(b'"') => pass_string(bytes, pos)?,
            Some(b'[') => {
                self.pos = pos;
                match self.compact_array() {
                    Some(_) => return Ok(()),
                    None => pass_container(bytes, pos, b'[', b']')?,
                }
            }
            Some(b'{') => pass_container(bytes, pos, b'{', b'}')?,
            Some(_) => scalar_end(bytes, pos),
            None => return Err(stop(bytes, pos, "expected a value")),
        };
        Ok(())
    }
}

/// `0,` four times, as a word: how an idle program's rings are mostly written.
/// The commas of [`FOUR_ZEROS`], as [`bytes_equal`] marks them.
const FOUR_ZEROS_COMMAS: u64 = 0x8000_8000_8000_8000;

impl Cursor<'_> {
    /// At `[`: an array of unsigned integers written without spaces (`[0,12,3]`) in JSON its host
    /// wrote, so that no element is empty or starts with a zero, and each fits 64 bits. Moves
    /// past it and returns how many elements it has and where element `entry` starts (from the
    /// `[`), if it has one; it looks only at which bytes are digits and which are commas, sixteen
    /// at a time. `None`, not moving, at anything else (a space, a sign, a fraction, any other
    /// value), which the checked path then reads.
    pub fn host_uint_array(&mut self, entry: usize) -> Option<(usize, Option<usize>)> {
        let bytes = self.bytes;
        let open = self.pos;
        let mut pos = open + 1;
        // Commas before `pos`; element `entry` starts after the `entry`-th one.
        let mut commas = 0usize;
        let mut found = (entry == 0).then_some(1);
        // The commas marked in `mask` (a word at `at`, after `commas` others), noting where
        // element `entry` starts if it is after one of them.
        let mut count = |mask: u64, at: usize, commas: usize| {
            let count = ((mask >> 7).wrapping_mul(ONES) >> 56) as usize;
            if entry > commas && entry <= commas + count {
                let mut mask = mask;
                for _ in 1..entry - commas {
                    mask &= mask - 1;
                }
                found = Some(at + first_marked(mask) + 1 - open);
            }
            count
        };
        // Where 16 bytes are left: two words.
        while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<16>) {
            let a = u64::from_le_bytes(*chunk[..8].first_chunk().unwrap());
            let b = u64::from_le_bytes(*chunk[8..].first_chunk().unwrap());
            let (comma_a, comma_b) = if a == FOUR_ZEROS && b == FOUR_ZEROS {
                (FOUR_ZEROS_COMMAS, FOUR_ZEROS_COMMAS)
            } else {
                let (comma_a, comma_b) = (bytes_equal(a, b','), bytes_equal(b, b','));
                if (non_digit_bytes(a) & !comma_a) | (non_digit_bytes(b) & !comma_b) != 0 {
                    break;
                }
                (comma_a, comma_b)
            };
            commas += count(comma_a, pos, commas);
            commas += count(comma_b, pos + 8, commas);
            pos += 16;
        }
        // The word where the array ends (its `]`), and any before it.
        loop {
            let word = load(bytes, pos);
            let comma = bytes_equal(word, b',');
            let at = first_marked(non_digit_bytes(word) & !comma);
            if at == 8 {
                commas += count(comma, pos, commas);
                pos += 8;
                continue;
            }
            if bytes.get(pos + at) != Some(&b']') || bytes[pos + at - 1] == b',' {
                return None;
            }
            commas += count(comma & ((1u64 << (8 * at)) - 1), pos, commas);
            self.pos = pos + at + 1;
            if pos + at == open + 1 {
                return Some((0, None)); // `[]`
            }
            return Some((commas + 1, found.filter(|_| entry <= commas)));
        }
    }
}

/// At `"`: where the string ends, past its closing quote.
fn pass_string(bytes: &[u8], open: usize) -> Parsed<usize> {
    let mut pos = open + 1;
    while pos < bytes.len() {
        let word = load(bytes, pos);
        let stops = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if stops == 0 {
            pos += 8;
            continue;
        }
        pos += first_marked(stops);
        match bytes.get(pos) {
            Some(b'"') => return Ok(pos + 1),
            // An escape: the byte after the backslash is not the string's end.
            _ => pos += 2,
        }
    }
    Err(stop(bytes, bytes.len(), "the body ends inside a string"))
}

/// At `open`: where the array or object ends, past its `close`. Only the brackets of its own
/// kind are counted (in valid JSON they pair up, whatever is between them), and only outside
/// strings: eight bytes at a time, each word's quotes are counted with one multiplication, whose
/// bytes say which of the word's bytes are inside a string. A word with a backslash (an escape,
/// perhaps of a quote) or a bracket of the kind counted is read byte by byte.
fn pass_container(bytes: &[u8], open_at: usize, open: u8, close: u8) -> Parsed<usize> {
    let mut pos = open_at + 1;
    let mut depth = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    while pos < bytes.len() {
        let word = load(bytes, pos);
        if !escaped && bytes_equal(word, b'\\') == 0 {
            // Byte k of `counts` is how many quotes bytes 0 to k hold: odd (with the string the
            // word starts in) inside a string.
            let counts = (bytes_equal(word, b'"') >> 7).wrapping_mul(ONES);
            let inside = (counts ^ if in_string { ONES } else { 0 }) & ONES;
            let brackets = (bytes_equal(word, open) | bytes_equal(word, close)) & !(inside << 7);
            if brackets == 0 {
                in_string ^= (counts >> 56) & 1 == 1;
                pos += 8;
                continue;
            }
        }
        // Byte by byte, to the end of this word (or of the text).
        let end = (pos + 8).min(bytes.len());
        while pos < end {
            let byte = bytes[pos];
            pos += 1;
            if in_string {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
            } else if byte == b'"' {
                in_string = true;
            } else if byte == open {
                depth += 1;
            } else if byte == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(pos);
                }
            }
        }
    }
    Err(stop(bytes, bytes.len(), "the body ends inside an array or object"))
}

/// Where a number or literal at `pos` ends: at the first `,`, `]`, `}` or whitespace.
fn scalar_end(bytes: &[u8], pos: usize) -> usize {
    let digits = pos + digit_run(&bytes[pos..]);
    let rest = &bytes[digits..];
    digits
        + rest
            .iter()
            .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `pass_value` ends for each value of a text, and where the checked path does.
    fn ends(text: &[u8]) -> (usize, usize) {
        let mut trusted = Cursor::new(text);
        trusted.pass_value().unwrap();
        let mut checked = Cursor::new(text);
        checked.skip_value().unwrap();
        (trusted.pos, checked.pos)
    }

    #[test]
    fn values_are_passed_over_where_the_checked_path_ends_them() {
        for text in [
            &br#"[{"Size":0,"Mallocs":12,"Frees":0},{"Size":8,"Mallocs":3,"Frees":1}],"NumGC":3"#[..],
            br#"{"a":"]}\"]}","b":[1,[2,[3]],{"c":"\\"}],"d":{}} , 1"#,
            br#""a string with \"quotes\" and \\ backslashes\\" ]"#,
            br#"[ "x" , [ ] , { "y" : [ "]" ] } , -1.5e3 , true , null ]"#,
            b"12345678901234567890123,",
            b"-0.5e-7}",
            b"true ",
            b"null]",
            br#"{"escaped quote at a word's end:\"":"\\\\\\\"\\"}"#,
            br#"["0123456\\","89"]"#,
        ] {
            let (trusted, checked) = ends(text);
            assert_eq!(trusted, checked, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn arrays_of_unsigned_integers_are_counted_and_an_entry_found() {
        let ring: Vec<String> = (0..256u64).map(|i| (i * i * 7919 % 100_003).to_string()).collect();
        let text = format!("[{}],\"NumGC\":1", ring.join(","));
        for entry in [0, 1, 2, 7, 8, 100, 254, 255, 256, 1000] {
            let mut c = Cursor::new(text.as_bytes());
            let (count, found) = c.host_uint_array(entry).unwrap();
            assert_eq!(count, 256);
            assert_eq!(&text[c.pos..], ",\"NumGC\":1");
            let expected = ring.get(entry).map(|value| {
                let start = 1 + ring[..entry].iter().map(|v| v.len() + 1).sum::<usize>();
                assert!(text[start..].starts_with(value.as_str()));
                start
            });
            assert_eq!(found, expected, "entry {entry}");
        }
        let zeros = format!("[{}1,22,333]", "0,".repeat(64));
        for (text, count, entry, found) in [
            ("[]", 0, 0, None),
            ("[0]", 1, 0, Some(1)),
            ("[1,22,333]", 3, 2, Some(6)),
            ("[1,22,333]", 3, 3, None),
            (zeros.as_str(), 67, 65, Some(131)),
            (zeros.as_str(), 67, 17, Some(35)),
        ] {
            let mut c = Cursor::new(text.as_bytes());
            assert_eq!(c.host_uint_array(entry), Some((count, found)), "{text} {entry}");
            assert_eq!(c.pos, text.len(), "{text}");
        }
        // Anything but digits and commas is left to the checked path, which names it.
        for text in
            ["[1, 2]", "[ 1]", "[-1]", "[1.5]", "[1e3]", "[null]", "[\"1\"]", "[[1]]", "[1,]", "[1"]
        {
            let mut c = Cursor::new(text.as_bytes());
            assert_eq!(c.host_uint_array(0), None, "{text}");
            assert_eq!(c.pos, 0, "{text}");
        }
    }

    #[test]
    fn a_text_that_ends_inside_a_value_is_an_error_not_a_panic() {
        for text in [&b"\"abc"[..], b"\"ab\\", b"[1,2", b"{\"a\":\"}", b"[[[]]", b""] {
            assert!(Cursor::new(text).pass_value().is_err(), "{}", String::from_utf8_lossy(text));
        }
    }
}
