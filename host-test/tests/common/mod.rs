//! Helpers shared by the host's tests.
#![allow(dead_code)]

use expvar_heap_test_support::component_bytes;
use expvar_heap_wasmtime::{Limits, Processor};

/// The component `cargo xtask build` wrote, loaded with `limits`.
pub fn processor(limits: Limits) -> Processor {
    Processor::from_bytes(component_bytes(), limits).expect("the component loads")
}
