//! Helpers shared by the host's tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use expvar_heap_host::component::{Limits, Processor};
use expvar_heap_host::{built_component_path, root};
use serde_json::Value;

/// The component `cargo xtask build` wrote; the tests need it (`cargo xtask test` builds it).
pub fn component_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = built_component_path();
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build it with `cargo xtask build` (or run `cargo xtask test`)",
                path.display()
            )
        })
    })
}

pub fn processor(limits: Limits) -> Processor {
    Processor::from_bytes(component_bytes(), limits).expect("the component loads")
}

/// Elastic's pipeline-test data, beside the repository in `shared/`.
pub fn conformance_dir() -> PathBuf {
    root()
        .parent()
        .unwrap()
        .join("shared/conformance/elastic-golang-1.6.0")
}

/// JSON equality with numbers compared as numbers: integers exactly, and a float equal to a
/// float or integer of the same value (Elastic prints `1.1999823966691628E-4`).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
