//! A custom variable's number reaches `golang.expvar.custom` with the value the service sent:
//! integers up to 2^64 - 1 (and down to -2^63) with their digits, every other number as the double
//! its text denotes, correctly rounded (written back with the shortest digits that denote it).
//! Tried on thousands of floats written as Go's `expvar.Float` writes them.

use expvar_heap::{CollectionTime, Datasets, Options, ValidOptions};
use serde_json::Value;

const TIME: CollectionTime = CollectionTime { seconds: 1_767_225_600, nanoseconds: 0 };

fn expvar_options() -> ValidOptions {
    Options { datasets: Datasets::EXPVAR, ..Options::default() }.validate().unwrap()
}

/// The text of `custom.<name>` in the expvar event of a body publishing `variables` (JSON member
/// text), as the event writes it.
fn custom_texts(variables: &[String]) -> Vec<String> {
    let body = format!(r#"{{{},"memstats":{{"NumForcedGC":1}}}}"#, variables.join(","));
    let event = expvar_heap::transform(body.as_bytes(), TIME, &expvar_options()).remove(0);
    assert!(!event.has_error, "{}", event.json);
    // The custom object's members in order (keys are v00000..., sorted as written).
    let start = event.json.find(r#""custom":{"#).unwrap() + r#""custom":{"#.len();
    let end = event.json[start..].find('}').unwrap() + start;
    event.json[start..end]
        .split(',')
        .map(|member| member.split_once(':').unwrap().1.to_owned())
        .collect()
}

/// `f` as Go's `strconv.FormatFloat(f, 'g', -1, 64)` writes it, which is what `expvar.Float`
/// publishes: the shortest digits that denote `f`, in `%e` form (`1.2345675e+06`, at least two
/// exponent digits) when the exponent is below -4 or at least 6 (Go's `ftoa.go`, `%g` with
/// the shortest precision decides with precision 6), plain decimals otherwise.
fn go_float(f: f64) -> String {
    let scientific = format!("{f:e}"); // the shortest digits, as d.ddde<exp>
    let (mantissa, exponent) = scientific.split_once('e').unwrap();
    let exponent: i32 = exponent.parse().unwrap();
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{f}") // Rust's Display: the same shortest digits, without an exponent
    }
}

#[test]
fn go_float_texts_are_as_go_writes_them() {
    // Outputs of Go 1.19's strconv.FormatFloat(x, 'g', -1, 64).
    for (value, go) in [
        (13167.991554874137, "13167.991554874137"),
        (1234567.5, "1.2345675e+06"),
        (0.0001, "0.0001"),
        (0.00001234, "1.234e-05"),
        (1e21, "1e+21"),
        (-2.5e-300, "-2.5e-300"),
        (100000.0, "100000"),
        (0.1, "0.1"),
    ] {
        assert_eq!(go_float(value), go);
    }
}

/// 6,000 doubles of every magnitude, as Go writes them: each comes back as the same double.
#[test]
fn go_floats_keep_their_value() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut floats = Vec::new();
    while floats.len() < 6_000 {
        let f = f64::from_bits(next());
        // Finite, and of the magnitudes services publish as well as the extremes.
        if f.is_finite() {
            floats.push(f);
            let scaled = (next() % 1_000_000_000) as f64 / 65_536.0;
            floats.push(scaled);
        }
    }
    for chunk in floats.chunks(500) {
        let variables: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, f)| format!(r#""v{i:05}":{}"#, go_float(*f)))
            .collect();
        for (f, text) in chunk.iter().zip(custom_texts(&variables)) {
            let back: f64 = text.parse().unwrap(); // Rust's parser rounds correctly
            assert_eq!(back.to_bits(), f.to_bits(), "{} came out as {text}", go_float(*f));
        }
    }
}

/// Integers keep their digits up to 2^64 - 1 and down to -2^63; beyond, a number is the double
/// nearest to it; the value found one step off without correct rounding comes out right.
#[test]
fn integers_and_the_found_case() {
    let cases = [
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("9007199254740993", "9007199254740993"),
        ("13167.991554874137", "13167.991554874137"),
        ("1.2345675e+06", "1234567.5"),
        // 2^64 + 1 and a 25-digit integer: the doubles nearest to them.
        ("18446744073709551617", "1.8446744073709552e+19"),
        ("1234567890123456789012345", "1.2345678901234568e+24"),
    ];
    let variables: Vec<String> =
        cases.iter().enumerate().map(|(i, (text, _))| format!(r#""v{i:05}":{text}"#)).collect();
    let written = custom_texts(&variables);
    for ((sent, expected), written) in cases.iter().zip(&written) {
        assert_eq!(written, expected, "{sent}");
    }
    // The fuzzer's input (fuzz/regressions/events-a-float-one-step-off) holds that float too.
    let regression = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/events-a-float-one-step-off"
    ))
    .unwrap();
    let event = expvar_heap::transform(&regression[1..], TIME, &expvar_options()).remove(0);
    let value: Value = serde_json::from_str(&event.json).unwrap();
    assert_eq!(serde_json::to_string(&value).unwrap(), event.json, "round trip");
    assert!(event.json.contains("13167.991554874137"), "{}", event.json);
}
