//! Reading a body: a typed parse of only what the events need.
//!
//! Building a `serde_json::Value` of a whole body would allocate for the two 256-slot rings and the
//! 61 `BySize` objects that no event uses. Instead the top-level object is walked with serde
//! visitors: `cmdline` and the `memstats` figures of [`Stat`] are kept, everything else is skipped
//! with `IgnoredAny` (and custom variables are kept only when the expvar event is wanted). A field
//! of the wrong type never stops the walk: it is consumed, left out, and named in `problems`.

use std::borrow::Cow;
use std::fmt;

use serde_json::value::RawValue;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::fields::{Kind, Stat};

/// A memstats figure as read: an exact unsigned integer, or a float (`GCCPUFraction`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Uint(u64),
    Float(f64),
}

/// What `memstats` was in the body.
#[derive(Debug)]
pub enum Memstats {
    /// No `memstats` key (or `null`).
    Missing,
    /// `memstats` is there but is not an object; the text says what it is instead.
    NotAnObject(&'static str),
    /// The figures read, indexed by `Stat as usize`; `None` where missing or unusable.
    Object(Box<[Option<Number>; Stat::COUNT]>),
}

/// What to keep of a body beyond `cmdline` and the memstats figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Want {
    /// The custom variables (for the expvar event).
    pub custom: bool,
    /// The `PauseNs` ring and `last_num_gc` (for a collector's pause window).
    pub pauses: bool,
}

/// The number of slots of Go's `PauseNs` ring.
pub const PAUSE_RING_LEN: usize = 256;

/// A body as far as the events are concerned.
#[derive(Debug)]
pub struct Body<'a> {
    /// `cmdline`, when it is an array; string elements only.
    pub cmdline: Option<Vec<Cow<'a, str>>>,
    pub memstats: Memstats,
    /// Every other top-level variable, in the order published, as its JSON text; only when asked
    /// for. Kept as text so that a variable nested too deeply to decode spoils only itself.
    pub custom: Vec<(Cow<'a, str>, &'a RawValue)>,
    /// `memstats.PauseNs`, when asked for and usable (256 unsigned integers).
    pub pause_ns: Option<Box<[u64; PAUSE_RING_LEN]>>,
    /// A top-level `last_num_gc`: the previous `NumGC`, as the poller of Elastic's PR #4908
    /// injects it; when asked for.
    pub last_num_gc: Option<u64>,
    /// What was wrong with fields that were left out, one phrase each, in body order.
    pub problems: Vec<String>,
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

impl Body<'_> {
    /// A figure of `memstats`, if it was there and usable.
    pub fn stat(&self, stat: Stat) -> Option<Number> {
        match &self.memstats {
            Memstats::Object(values) => values[stat as usize],
            _ => None,
        }
    }
}

/// Reads a body. `Err` holds why the body as a whole could not be read: not UTF-8, not JSON (with
/// line and column), or not an object.
pub fn read_body(body: &[u8], want: Want) -> Result<Body<'_>, String> {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = line_column(body, e.valid_up_to());
            return Err(format!(
                "body is not valid UTF-8: invalid byte at line {line} column {column}"
            ));
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let read = BodySeed { want }.deserialize(&mut de).and_then(|body| {
        de.end()?;
        Ok(body)
    });
    match read {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(found)) => Err(format!("body is not a JSON object: it is {found}")),
        Err(e) if e.is_eof() && text.trim().is_empty() => Err("body is empty".to_owned()),
        Err(e) => Err(format!("body is not valid JSON: {e}{}", describe_start(text))),
    }
}

/// For a body that is not even trying to be a JSON object (an HTML error page, a plain-text 404),
/// what it starts with, so the message says what the poller got instead.
fn describe_start(text: &str) -> String {
    let start = text.trim_start();
    if start.starts_with('{') || start.is_empty() {
        return String::new();
    }
    let line = start.lines().next().unwrap_or_default();
    let shown: String = line.chars().take(40).collect();
    let more = if line.chars().count() > shown.chars().count() { "…" } else { "" };
    format!(" (the body starts with {shown:?}{more})")
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

struct BodySeed {
    want: Want,
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    /// `Err(kind)` when the body is valid JSON but not an object.
    type Value = Result<Body<'de>, &'static str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Result<Body<'de>, &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut body = Body {
            cmdline: None,
            memstats: Memstats::Missing,
            custom: Vec::new(),
            pause_ns: None,
            last_num_gc: None,
            problems: Vec::new(),
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "cmdline" => body.cmdline = map.next_value_seed(CmdlineSeed(&mut body.problems))?,
                "memstats" => {
                    let seed = MemstatsSeed { want_pauses: self.want.pauses, body: &mut body };
                    body.memstats = map.next_value_seed(seed)?;
                }
                // An annotation of Elastic's PR #4908 poller, not a variable the program published.
                "last_num_gc" if !self.want.pauses => {
                    map.next_value::<IgnoredAny>()?;
                }
                "last_num_gc" => {
                    let value = map.next_value::<Scalar>()?;
                    match check_number(value, Kind::Count) {
                        Ok(number) => body.last_num_gc = number.and_then(Number::as_u64),
                        Err(why) => body.problems.push(format!("last_num_gc: {why}")),
                    }
                }
                _ if self.want.custom => {
                    let value = map.next_value::<&'de RawValue>()?;
                    body.custom.retain(|(name, _)| *name != key.0);
                    body.custom.push((key.0, value));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Ok(body))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Err("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("a string"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err("null"))
    }
}

/// An object key, borrowed from the body unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}

/// Any JSON value, reduced to what a type check needs.
enum Scalar<'de> {
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(Cow<'de, str>),
    Null,
    /// Anything else, named for an error message ("a boolean", "an array", "an object").
    Other(&'static str),
}

impl Scalar<'_> {
    fn describe(&self) -> String {
        match self {
            Scalar::Uint(n) => format!("the number {n}"),
            Scalar::Int(n) => format!("the number {n}"),
            Scalar::Float(f) => format!("the number {f}"),
            Scalar::Str(_) => "a string".to_owned(),
            Scalar::Null => "null".to_owned(),
            Scalar::Other(what) => (*what).to_owned(),
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Uint(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(n))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Float(f))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other("a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                drain_seq(seq)?;
                Ok(Scalar::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                drain_map(map)?;
                Ok(Scalar::Other("an object"))
            }
        }
        de.deserialize_any(ScalarVisitor)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The largest value a uint64 holds, plus one, as a float (2^64).
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// Checks a figure against its kind: `Ok(None)` for null (dropped silently, as Elastic drops
/// nulls), `Err` with the reason it is left out.
fn check_number(value: Scalar<'_>, kind: Kind) -> Result<Option<Number>, String> {
    match (kind, value) {
        (_, Scalar::Null) => Ok(None),
        (_, Scalar::Uint(n)) => Ok(Some(Number::Uint(n))),
        (Kind::Float, Scalar::Int(n)) => Ok(Some(Number::Float(n as f64))),
        (Kind::Float, Scalar::Float(f)) => Ok(Some(Number::Float(f))),
        (Kind::Count, Scalar::Int(n)) => {
            Err(format!("{n} is negative, expected an unsigned integer"))
        }
        (Kind::Count, Scalar::Float(f)) if f < 0.0 => {
            Err(format!("{f} is negative, expected an unsigned integer"))
        }
        (Kind::Count, Scalar::Float(f)) if f >= TWO_POW_64 => {
            Err("the number is out of range, above 2^64-1".to_owned())
        }
        (Kind::Count, Scalar::Float(f)) if f.fract() != 0.0 => {
            Err(format!("{f} is not a whole number, expected an unsigned integer"))
        }
        // A whole number written with a fraction or exponent (1.0, 1e3): the value is exact.
        (Kind::Count, Scalar::Float(f)) => Ok(Some(Number::Uint(f as u64))),
        (Kind::Count, other) => {
            Err(format!("expected an unsigned integer, found {}", other.describe()))
        }
        (Kind::Float, other) => Err(format!("expected a number, found {}", other.describe())),
    }
}

/// Reads `memstats`; the `PauseNs` ring and problems go straight into the body.
struct MemstatsSeed<'b, 'de> {
    want_pauses: bool,
    body: &'b mut Body<'de>,
}

impl<'de> DeserializeSeed<'de> for MemstatsSeed<'_, 'de> {
    type Value = Memstats;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Memstats, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemstatsSeed<'_, 'de> {
    type Value = Memstats;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the memstats object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Memstats, A::Error> {
        let mut values = Box::new([None; Stat::COUNT]);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if self.want_pauses && key.0 == "PauseNs" {
                let ring = map.next_value_seed(PauseRingSeed(&mut self.body.problems))?;
                self.body.pause_ns = ring;
                continue;
            }
            let Some(stat) = Stat::from_key(&key.0) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            values[stat as usize] = match check_number(map.next_value::<Scalar>()?, stat.kind()) {
                Ok(number) => number,
                Err(why) => {
                    self.body.problems.push(format!("memstats.{}: {why}", stat.key()));
                    None
                }
            };
        }
        Ok(Memstats::Object(values))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Memstats, A::Error> {
        drain_seq(seq)?;
        Ok(Memstats::NotAnObject("an array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Memstats, E> {
        Ok(Memstats::NotAnObject("a string"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Memstats, E> {
        Ok(Memstats::NotAnObject("a number"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Memstats, E> {
        Ok(Memstats::NotAnObject("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Memstats, E> {
        Ok(Memstats::NotAnObject("a number"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Memstats, E> {
        Ok(Memstats::NotAnObject("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Memstats, E> {
        Ok(Memstats::Missing)
    }
}

/// Reads `memstats.PauseNs`: `Some` only for exactly 256 unsigned integers; anything else is
/// named in the problems and gives no ring (so no pause window).
struct PauseRingSeed<'p>(&'p mut Vec<String>);

impl<'de> DeserializeSeed<'de> for PauseRingSeed<'_> {
    type Value = Option<Box<[u64; PAUSE_RING_LEN]>>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PauseRingSeed<'_> {
    type Value = Option<Box<[u64; PAUSE_RING_LEN]>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of 256 unsigned integers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ring = Box::new([0; PAUSE_RING_LEN]);
        let mut len = 0;
        let mut usable = true;
        while let Some(item) = seq.next_element::<Scalar>()? {
            match check_number(item, Kind::Count) {
                Ok(Some(Number::Uint(ns))) if len < PAUSE_RING_LEN => ring[len] = ns,
                Ok(_) if len < PAUSE_RING_LEN => {
                    usable = false;
                    self.0.push(format!(
                        "memstats.PauseNs[{len}]: expected an unsigned integer, found null"
                    ));
                }
                Err(why) if usable => {
                    usable = false;
                    self.0.push(format!("memstats.PauseNs[{len}]: {why}"));
                }
                _ => {}
            }
            len += 1;
        }
        if len != PAUSE_RING_LEN {
            self.0
                .push(format!("memstats.PauseNs: expected {PAUSE_RING_LEN} entries, found {len}"));
            return Ok(None);
        }
        Ok(usable.then_some(ring))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map)?;
        Ok(self.not_an_array("an object"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(self.not_an_array("a string"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(self.not_an_array("a number"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(self.not_an_array("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(self.not_an_array("a number"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.not_an_array("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

impl PauseRingSeed<'_> {
    fn not_an_array(self, what: &str) -> Option<Box<[u64; PAUSE_RING_LEN]>> {
        self.0.push(format!(
            "memstats.PauseNs: expected an array of 256 unsigned integers, found {what}"
        ));
        None
    }
}

struct CmdlineSeed<'p>(&'p mut Vec<String>);

impl CmdlineSeed<'_> {
    /// `cmdline` is not an array: name what it is (unless null, which is dropped silently).
    fn not_an_array<'de>(self, found: Scalar<'_>) -> Option<Vec<Cow<'de, str>>> {
        if !matches!(found, Scalar::Null) {
            let what = found.describe();
            self.0.push(format!("cmdline: expected an array of strings, found {what}"));
        }
        None
    }
}

impl<'de> DeserializeSeed<'de> for CmdlineSeed<'_> {
    type Value = Option<Vec<Cow<'de, str>>>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CmdlineSeed<'_> {
    type Value = Option<Vec<Cow<'de, str>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut args = Vec::new();
        let mut index = 0;
        while let Some(item) = seq.next_element::<Scalar>()? {
            match item {
                Scalar::Str(s) => args.push(s),
                Scalar::Null => {}
                other => self.0.push(format!(
                    "cmdline[{index}]: expected a string, found {}",
                    other.describe()
                )),
            }
            index += 1;
        }
        Ok(Some(args))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map)?;
        Ok(self.not_an_array(Scalar::Other("an object")))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(self.not_an_array(Scalar::Other("a string")))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(self.not_an_array(Scalar::Uint(n)))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(self.not_an_array(Scalar::Int(n)))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Self::Value, E> {
        Ok(self.not_an_array(Scalar::Float(f)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.not_an_array(Scalar::Other("a boolean")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.not_an_array(Scalar::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_figures_exactly_and_skips_the_rest() {
        let body = br#"{"cmdline":["./app","-v"],"custom":{"a":1},"memstats":{"LastGC":18446744073709551615,"GCCPUFraction":1.5e-4,"PauseNs":[1,2],"BySize":[{"Size":8}],"NumGC":3}}"#;
        let read = read_body(body, Want::default()).unwrap();
        assert_eq!(read.cmdline.as_deref().unwrap(), ["./app", "-v"]);
        assert_eq!(read.stat(Stat::LastGC), Some(Number::Uint(u64::MAX)));
        assert_eq!(read.stat(Stat::GCCPUFraction), Some(Number::Float(1.5e-4)));
        assert_eq!(read.stat(Stat::NumGC), Some(Number::Uint(3)));
        assert_eq!(read.stat(Stat::HeapSys), None);
        assert!(read.custom.is_empty());
        assert!(read.problems.is_empty());
    }

    #[test]
    fn wrong_types_are_named_and_skipped() {
        let body = br#"{"cmdline":["a",7],"memstats":{"Frees":"9","Mallocs":-1,"HeapSys":1.5,"Sys":1e20,"NumGC":2.0,"HeapIdle":null}}"#;
        let read = read_body(body, Want::default()).unwrap();
        assert_eq!(
            read.problems,
            [
                "cmdline[1]: expected a string, found the number 7",
                "memstats.Frees: expected an unsigned integer, found a string",
                "memstats.Mallocs: -1 is negative, expected an unsigned integer",
                "memstats.HeapSys: 1.5 is not a whole number, expected an unsigned integer",
                "memstats.Sys: the number is out of range, above 2^64-1",
            ]
        );
        assert_eq!(read.stat(Stat::NumGC), Some(Number::Uint(2)));
        assert_eq!(read.stat(Stat::Frees), None);
        assert_eq!(read.cmdline.as_deref().unwrap(), ["a"]);
    }

    #[test]
    fn unreadable_bodies_say_why_and_where() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "body is empty"),
            (b"[1,2]", "body is not a JSON object: it is an array"),
            (b"{\"a\":", "body is not valid JSON: EOF while parsing a value at line 1 column 5"),
            (
                b"404 page not found\n",
                "body is not valid JSON: trailing characters at line 1 column 5 (the body starts with \"404 page not found\")",
            ),
            (b"{}\n{}", "body is not valid JSON: trailing characters at line 2 column 1"),
            (b"{\"a\":\"\xff\"}", "body is not valid UTF-8: invalid byte at line 1 column 7"),
        ];
        for (body, message) in cases {
            assert_eq!(read_body(body, Want::default()).unwrap_err(), *message);
        }
    }

    #[test]
    fn deep_nesting_is_skipped_not_a_crash() {
        let body = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        for keep_custom in [false, true] {
            let want = Want { custom: keep_custom, pauses: true };
            let read = read_body(body.as_bytes(), want).unwrap();
            assert_eq!(read.custom.len(), usize::from(keep_custom));
        }
        let body = format!("{{\"memstats\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let read = read_body(body.as_bytes(), Want::default()).unwrap();
        assert!(matches!(read.memstats, Memstats::NotAnObject("an array")));
    }
}
