//! Numbers decoded, exactly: an integer that fits 64 bits as one, anything else as a float.

use super::{Cursor, Parsed, Value};
use crate::scan::{digits_value, load};

impl<'a> Cursor<'a> {
    /// A number: exact when it is an integer that fits, else as a float.
    pub(super) fn number(&mut self) -> Parsed<Value<'a>> {
        let start = self.pos;
        let integer = self.number_end()?;
        let digits = &self.bytes[start..self.pos];
        if integer {
            match digits.split_first() {
                Some((b'-', magnitude)) => match uint_value(magnitude) {
                    Some(0) => return Ok(Value::Uint(0)), // -0
                    Some(n) if n <= 1 << 63 => {
                        return Ok(Value::Int(0i64.wrapping_sub_unsigned(n)));
                    }
                    _ => {}
                },
                _ => {
                    if let Some(n) = uint_value(digits) {
                        return Ok(Value::Uint(n));
                    }
                }
            }
        }
        // Fractions, exponents and integers beyond 64 bits; the grammar was checked, so it parses.
        Ok(Value::Float(self.text(start, self.pos).parse().unwrap_or(f64::NAN)))
    }
}

/// The value of a run of ASCII digits, eight at a time, or `None` above 2^64-1.
pub(crate) fn uint_value(digits: &[u8]) -> Option<u64> {
    const POW10: [u64; 9] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
    // Nineteen digits always fit: only a twentieth can overflow.
    let (head, last) = match digits.len() {
        20 => (&digits[..19], Some(digits[19])),
        len if len > 20 => return None,
        _ => (digits, None),
    };
    let mut value = 0u64;
    for chunk in head.chunks(8) {
        value = value * POW10[chunk.len()] + digits_value(load(chunk, 0), chunk.len());
    }
    match last {
        Some(digit) => value.checked_mul(10)?.checked_add(u64::from(digit - b'0')),
        None => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_exact_to_the_last_bit() {
        for n in [0, 1, 9, 10, 12_345_678, 123_456_789, u64::MAX / 10, u64::MAX - 1, u64::MAX] {
            let text = n.to_string();
            assert_eq!(uint_value(text.as_bytes()), Some(n));
            let mut c = Cursor::new(text.as_bytes());
            assert!(matches!(c.number(), Ok(Value::Uint(v)) if v == n));
        }
        assert_eq!(uint_value(b"18446744073709551616"), None);
        assert_eq!(uint_value(b"99999999999999999999"), None);
        assert!(matches!(Cursor::new(b"-9223372036854775808").number(), Ok(Value::Int(i64::MIN))));
        assert!(matches!(Cursor::new(b"-0").number(), Ok(Value::Uint(0))));
        assert!(matches!(Cursor::new(b"-9223372036854775809").number(), Ok(Value::Float(_))));
    }
}
