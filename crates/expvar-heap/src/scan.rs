//! Byte scanning eight bytes at a time: the loops that find where a run of string content or of
//! digits ends. Shared by the reader (skipping the rings and strings of a body) and the writer
//! (escaping strings); kept apart so that neither borrows the other's helpers.

/// The bytes that end a run of plain string content: the quote, the backslash, control characters.
/// (Also the bytes that JSON requires escaped when writing a string.)
pub(crate) static STRING_STOP: [bool; 256] = {
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

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `x`, with no carry between bytes.
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x) & HIGH
}

/// The offset of the first byte of `bytes` that ends plain string content (see [`STRING_STOP`]),
/// looking at eight bytes at a time.
pub(crate) fn string_stop(bytes: &[u8]) -> Option<usize> {
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
pub(crate) fn non_digit_bytes(word: u64) -> u64 {
    let low = word & LOW7;
    let at_least_0 = low + 0x5050_5050_5050_5050;
    let above_9 = low + 0x4646_4646_4646_4646;
    let digit = at_least_0 & !above_9 & !word & HIGH;
    !digit & HIGH
}

/// The length of the run of ASCII digits at the start of `bytes`, eight bytes at a time where it
/// can: most of a body is the digits of the two rings (`PauseEnd` holds 19-digit timestamps).
pub(crate) fn digit_run(bytes: &[u8]) -> usize {
    let mut pos = 0;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let stop = non_digit_bytes(u64::from_le_bytes(chunk.try_into().unwrap()));
        if stop != 0 {
            // The first byte that is not a digit ends the run: no byte-by-byte tail.
            return pos + (stop.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    pos + bytes[pos..].iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn digit_run_stops_at_the_first_other_byte() {
        for len in 0..20 {
            for b in 0..=255u8 {
                let mut text = vec![b'7'; len];
                text.push(b);
                text.extend_from_slice(b"123");
                let expected = if b.is_ascii_digit() { len + 4 } else { len };
                assert_eq!(digit_run(&text), expected, "{len} digits then {b:#04x}");
            }
        }
    }
}
