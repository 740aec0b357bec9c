//! Byte scanning eight bytes at a time: the loops that find where a run of string content or of
//! digits ends. Shared by the reader (skipping the rings and strings of a body) and the writer
//! (escaping strings); kept apart so that neither borrows the other's helpers.

/// The bytes that end a run of plain string content: the quote, the backslash, control characters.
/// (Also the bytes that JSON requires escaped when writing a string.)
pub(crate) static MUST_ESCAPE: [bool; 256] = {
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

/// A word of eight bytes of 0x01, 0x7F and 0x80: the constants of the byte-parallel tests below.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// Four `0,` elements, eight bytes: how an idle program's rings are mostly written.
pub(crate) const FOUR_ZEROS: u64 = u64::from_le_bytes(*b"0,0,0,0,");

/// The high bit of each byte of `word` equal to `byte`, exactly (no borrow between bytes).
#[inline(always)]
pub(crate) fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW7) + LOW7) | x) & HIGH
}

/// Eight bytes of `bytes` from `at`, little-endian (the byte at `at` lowest); past the end, zero
/// bytes, which no scan below takes for content: a string stops at them (they are control
/// characters), a run of digits too.
#[inline(always)]
pub(crate) fn load(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(chunk) => u64::from_le_bytes(chunk.try_into().unwrap()),
        None => {
            let rest = bytes.get(at..).unwrap_or_default();
            let mut padded = [0; 8];
            padded[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(padded)
        }
    }
}

/// The high bit of each zero byte of `x`, exact up to and including the first one; bytes above
/// the first zero byte may be marked too (a borrow moves up from it), so only the lowest mark may
/// be used.
#[inline(always)]
fn first_zero_byte(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Marks (high bits) the bytes of `word` that end plain string content for the writer: the quote,
/// the backslash, control characters. Only the lowest mark is exact.
#[inline(always)]
fn bytes_to_escape(word: u64) -> u64 {
    let quote = first_zero_byte(word ^ 0x2222_2222_2222_2222);
    let backslash = first_zero_byte(word ^ 0x5C5C_5C5C_5C5C_5C5C);
    let control = word.wrapping_sub(0x2020_2020_2020_2020) & !word & HIGH;
    quote | backslash | control
}

/// Marks (high bits) the bytes of `word` where the reader must look at string content: the
/// quote, the backslash, control characters and non-ASCII bytes (checked as UTF-8 one sequence
/// at a time). Only the lowest mark is exact.
#[inline(always)]
pub(crate) fn bytes_to_inspect(word: u64) -> u64 {
    let quote = first_zero_byte(word ^ 0x2222_2222_2222_2222);
    let backslash = first_zero_byte(word ^ 0x5C5C_5C5C_5C5C_5C5C);
    // A byte below 0x20 borrows (its high bit comes on); a byte of 0x80 and up has it already.
    (quote | backslash | word.wrapping_sub(0x2020_2020_2020_2020) | word) & HIGH
}

/// The offset of the first byte of `bytes` that ends plain string content (see [`MUST_ESCAPE`]),
/// looking at eight bytes at a time.
pub(crate) fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let stop = bytes_to_escape(u64::from_le_bytes(chunk.try_into().unwrap()));
        if stop != 0 {
            return Some(pos + first_marked(stop));
        }
        pos += 8;
    }
    bytes[pos..].iter().position(|&b| MUST_ESCAPE[b as usize]).map(|n| pos + n)
}

/// The index of the first byte marked in `mask` (whose marks are high bits of bytes, as every
/// scan here makes them; only the lowest needs to be exact), or 8 when none is.
#[inline(always)]
pub(crate) fn first_marked(mask: u64) -> usize {
    if cfg!(expvar_heap_slow_ctz) {
        first_marked_by_multiplication(mask)
    } else {
        (mask.trailing_zeros() / 8) as usize
    }
}

/// [`first_marked`] with one multiplication instead of `trailing_zeros`, in a build with
/// `--cfg expvar_heap_slow_ctz` (the Fluent Bit module's, which `cargo xtask build` makes so):
/// WAMR's fast interpreter, Fluent Bit's, runs `i64.ctz` as a loop over the bits up to
/// the first set one (`ctz64` in `core/iwasm/interpreter/wasm_interp_fast.c`, WAMR 2.4.1), up to
/// 63 turns for a mark in the last byte, where this takes the same few instructions for any byte.
#[inline(always)]
fn first_marked_by_multiplication(mask: u64) -> usize {
    let lowest = mask & mask.wrapping_neg();
    if lowest == 0 {
        return 8;
    }
    // The lowest mark's byte k holds 0x01 after the shift; the multiplication puts 7 - (7 - k)
    // = k in the top byte.
    ((lowest >> 7).wrapping_mul(0x0001_0203_0405_0607) >> 56) as usize
}

/// The high bit of each byte of `word` that is not an ASCII digit, exactly (no carry between
/// bytes): after `^ 0x30` a digit is a byte of 0 to 9, and `& 0x7F` plus 0x76 reaches 0x80 from 10.
#[inline(always)]
pub(crate) fn non_digit_bytes(word: u64) -> u64 {
    let x = word ^ 0x3030_3030_3030_3030;
    (((x & LOW7) + 0x7676_7676_7676_7676) | x) & HIGH
}

/// How many ASCII digits `word` starts with (8 when all are).
#[inline(always)]
pub(crate) fn leading_digits(word: u64) -> usize {
    first_marked(non_digit_bytes(word))
}

/// The length of the run of ASCII digits at the start of `bytes`, eight bytes at a time.
pub(crate) fn digit_run(bytes: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        let n = leading_digits(load(bytes, pos));
        pos += n;
        if n < 8 {
            return pos;
        }
    }
}

/// The value of the first `n` bytes of `word`, ASCII digits, most significant first (1 to 8 of
/// them): three multiply-and-add steps instead of a loop over the digits.
#[inline(always)]
pub(crate) fn digits_value(word: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    // Digit values in the top `n` bytes, zeros below: the same number with leading zeros.
    let x = (word & (u64::MAX >> (64 - 8 * n))).wrapping_sub(0x3030_3030_3030_3030 >> (64 - 8 * n))
        << (64 - 8 * n);
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
    (x.wrapping_mul(10_000) + (x >> 32)) & 0xFFFF_FFFF
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
    fn first_to_escape_finds_the_first_quote_backslash_or_control_byte() {
        for b in 0..=255u8 {
            for position in 0..11 {
                let mut text = *b"abcdefghijk";
                text[position] = b;
                let expected = MUST_ESCAPE[b as usize].then_some(position);
                assert_eq!(first_to_escape(&text), expected, "byte {b:#04x} at {position}");
            }
        }
    }

    #[test]
    fn bytes_to_inspect_marks_the_first_byte_the_reader_must_look_at() {
        // Every byte at every place, behind plain content and behind another stop (whose
        // borrow must not move the first mark).
        for b in 0..=255u8 {
            for position in 0..8 {
                for filler in [b'a', b'"', 0x01, 0xC3] {
                    let mut word = [b'a'; 8];
                    word[position] = b;
                    if position < 7 {
                        word[position + 1] = filler;
                    }
                    let stops = bytes_to_inspect(u64::from_le_bytes(word));
                    let first = word
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c));
                    let found = (stops != 0).then(|| (stops.trailing_zeros() / 8) as usize);
                    assert_eq!(found, first, "{word:?}");
                    assert_eq!(first_marked(stops), first.unwrap_or(8), "{word:?}");
                    assert_eq!(
                        first_marked_by_multiplication(stops),
                        first.unwrap_or(8),
                        "{word:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn digits_value_reads_one_to_eight_digits() {
        for n in 1..=8 {
            for value in [0u64, 1, 7, 42, 1234, 99_999_999, 10_000_000, 31_415_926] {
                let text = format!("{:0n$}", value % 10u64.pow(n as u32));
                let mut bytes = text.clone().into_bytes();
                bytes.resize(8, b',');
                let word = u64::from_le_bytes(bytes.try_into().unwrap());
                assert_eq!(digits_value(word, n), text.parse::<u64>().unwrap(), "{text}");
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
