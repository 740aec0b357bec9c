//! Type checks: whether a decoded JSON value is what a field needs, and if not, the phrase that
//! says why it was left out.

use super::cursor::Value;
use crate::fields::Kind;

/// A memstats figure as read: an exact unsigned integer, or a float (`GCCPUFraction`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Uint(u64),
    Float(f64),
}

impl Number {
    /// The value when it is an unsigned integer.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Number::Uint(n) => Some(n),
            Number::Float(_) => None,
        }
    }
}

impl Value<'_> {
    /// What kind of JSON value it is, for "it is …" messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Uint(_) | Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Null => "null",
            Value::Other(what) => what,
        }
    }

    /// The value itself where it is short (a number), else its kind, for "found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Uint(n) => format!("the number {n}"),
            Value::Int(n) => format!("the number {n}"),
            Value::Float(f) => format!("the number {f}"),
            Value::Str(_) | Value::Null | Value::Other(_) => self.kind().to_owned(),
        }
    }
}

/// The largest value a uint64 holds, plus one, as a float (2^64).
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// Checks a figure against its kind: `Ok(None)` for null (dropped silently, as Elastic drops
/// nulls), `Err` with the reason it is left out.
pub(crate) fn check_number(value: Value<'_>, kind: Kind) -> Result<Option<Number>, String> {
    match (kind, value) {
        (_, Value::Null) => Ok(None),
        // A float figure stays a float however Go wrote it (`0` before the first GC), so that
        // it is written `0.0` and no index maps it as an integer.
        (Kind::Float, Value::Uint(n)) => Ok(Some(Number::Float(n as f64))),
        (Kind::Count, Value::Uint(n)) => Ok(Some(Number::Uint(n))),
        (Kind::Float, Value::Int(n)) => Ok(Some(Number::Float(n as f64))),
        (Kind::Float, Value::Float(f)) => Ok(Some(Number::Float(f))),
        (Kind::Count, Value::Int(n)) => {
            Err(format!("{n} is negative, expected an unsigned integer"))
        }
        (Kind::Count, Value::Float(f)) if f < 0.0 => {
            Err(format!("{f} is negative, expected an unsigned integer"))
        }
        (Kind::Count, Value::Float(f)) if f >= TWO_POW_64 => {
            Err("the number is out of range, above 2^64-1".to_owned())
        }
        (Kind::Count, Value::Float(f)) if f.fract() != 0.0 => {
            Err(format!("{f} is not a whole number, expected an unsigned integer"))
        }
        // A whole number written with a fraction or exponent (1.0, 1e3): the value is exact.
        (Kind::Count, Value::Float(f)) => Ok(Some(Number::Uint(f as u64))),
        (Kind::Count, other) => {
            Err(format!("expected an unsigned integer, found {}", other.describe()))
        }
        (Kind::Float, other) => Err(format!("expected a number, found {}", other.describe())),
    }
}
