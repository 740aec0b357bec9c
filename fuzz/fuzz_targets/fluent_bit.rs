//! The Fluent Bit module's entry point, through wasmtime as Fluent Bit calls it (tag and record
//! copied into the app heap, NUL-terminated), on any record: it never traps, and always answers
//! with one JSON object. Build the module first (`cargo xtask build`); the module's own code runs
//! JIT-compiled, so coverage guides only through the harness and the inputs' shapes: seed the
//! corpus with real bodies (`cargo xtask fuzz` does).
#![no_main]

use std::sync::Mutex;

use expvar_heap_host_test::pipelines::{FluentBitFilter, fluent_bit_conf};
use expvar_heap_test_support::{FLUENT_BIT_MODULE_FILE, built_module_path};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static FILTER: Mutex<Option<FluentBitFilter>> = Mutex::new(None);

fuzz_target!(|input: &[u8]| {
    let mut filter = FILTER.lock().unwrap();
    let filter = filter.get_or_insert_with(|| {
        let (function, heap_size) = fluent_bit_conf();
        let path = built_module_path(FLUENT_BIT_MODULE_FILE);
        FluentBitFilter::load(&path, &function, heap_size)
            .unwrap_or_else(|e| panic!("{}: {e:#}; run `cargo xtask build`", path.display()))
    });
    // The first byte picks one of a few tags (one pause window each); the rest is the record.
    let Some((&pick, record)) = input.split_first() else { return };
    let tag = ["golang.a", "golang.b", "golang.c"][usize::from(pick % 3)];
    let event = filter.call(tag, 1_767_225_600, 0, record).expect("the filter never traps");
    let event = event.expect("the filter answers every record");
    let value: Value = serde_json::from_str(&event).expect("the answer is JSON");
    assert!(value.is_object());
});
