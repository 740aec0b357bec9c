//! The Fluent Bit and Redpanda Connect modules, driven as their hosts drive them, must write the
//! same events as the component on every fixture, and keep their memory flat.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::processor;
use expvar_heap::Options;
use expvar_heap_host_test::pipelines::{
    FluentBitFilter, Message, RedpandaProcessor, fluent_bit_conf,
};
use expvar_heap_redpanda::COLLECTED_AT_META;
use expvar_heap_test_support::fixtures::{self, BLESS_TIME};
use expvar_heap_test_support::{FLUENT_BIT_MODULE_FILE, REDPANDA_MODULE_FILE, built_module_path};
use expvar_heap_wasmtime::Limits;

fn fluent_bit_filter() -> FluentBitFilter {
    let (function, heap_size) = fluent_bit_conf();
    assert!(heap_size >= 256 << 10, "Wasm_Heap_Size {heap_size} is too small for real bodies");
    FluentBitFilter::load(&module(FLUENT_BIT_MODULE_FILE), &function, heap_size).unwrap()
}

fn module(file: &str) -> PathBuf {
    let path = built_module_path(file);
    assert!(path.is_file(), "{} is missing: run cargo xtask build", path.display());
    path
}

/// The real fixtures as sequences, one per folder (one process each), in order, read.
fn sequences() -> Vec<(String, Vec<Vec<u8>>)> {
    let read = |paths: Vec<PathBuf>| paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    fixtures::sequences()
        .unwrap()
        .into_iter()
        .map(|(folder, paths)| (folder, read(paths)))
        .collect()
}

#[test]
fn fluent_bit_filter_writes_the_components_events_per_tag() {
    let mut filter = fluent_bit_filter();
    let seconds = BLESS_TIME.seconds as u32;
    let mut compared = 0;
    for (tag, bodies) in sequences() {
        // The bad inputs are no sequence: each is its own tag, as its own process.
        let own_tags = tag.ends_with("bad");
        let component = processor(Limits::default());
        let mut reference = component.collector(&Options::default()).unwrap();
        for (i, body) in bodies.iter().enumerate() {
            let tag = if own_tags { format!("{tag}/{i}") } else { tag.clone() };
            if own_tags {
                reference = component.collector(&Options::default()).unwrap();
            }
            let expected = reference.push(body, BLESS_TIME).unwrap().remove(0).json;
            // Every other record carries the body as a string, as the tail and exec inputs do.
            let record = match (i % 2, std::str::from_utf8(body)) {
                (1, Ok(text)) => {
                    format!(r#"{{"log":{}}}"#, serde_json::to_string(text).unwrap()).into_bytes()
                }
                _ => body.clone(),
            };
            let event = filter.call(&tag, seconds, 0, &record).unwrap().expect("a record out");
            assert_eq!(event, expected, "{tag} record {i}");
            compared += 1;
        }
    }
    assert!(compared >= 70, "{compared} records compared");
}

#[test]
fn fluent_bit_filter_memory_stays_flat_over_many_records() {
    let mut filter = fluent_bit_filter();
    let bodies: Vec<Vec<u8>> = sequences()
        .into_iter()
        .filter(|(f, _)| !f.ends_with("custom"))
        .flat_map(|(_, b)| b)
        .collect();
    let mut warm = 0;
    for round in 0..200 {
        for (i, body) in bodies.iter().enumerate() {
            filter.call(&format!("tag-{}", i % 8), 1_767_225_600, 0, body).unwrap();
        }
        if round == 1 {
            warm = filter.memory_bytes();
        }
    }
    assert_eq!(filter.memory_bytes(), warm, "memory grew after {} records", 200 * bodies.len());
}

#[test]
fn redpanda_processor_writes_the_components_heap_events() {
    let mut processor_module = RedpandaProcessor::load(&module(REDPANDA_MODULE_FILE)).unwrap();
    let reference = processor(Limits::default());
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    let mut compared = 0;
    for (_, bodies) in sequences() {
        for (i, body) in bodies.into_iter().enumerate() {
            let expected =
                reference.transform(&body, BLESS_TIME, &Options::default()).unwrap().remove(0).json;
            // The time from metadata on even messages, from the WASI clock on odd ones.
            let mut message = Message { content: body, meta: HashMap::new() };
            let clock = if i % 2 == 0 {
                message.meta.insert(COLLECTED_AT_META.to_owned(), ns.to_string());
                0
            } else {
                ns
            };
            let out = processor_module.process(message, clock).unwrap();
            assert_eq!(String::from_utf8(out.content).unwrap(), expected);
            compared += 1;
        }
    }
    assert!(compared >= 70);
    let before = processor_module.memory_bytes();
    let body = std::fs::read(fixtures::root_fixture("go1.27/alloc/05.json")).unwrap();
    for _ in 0..5_000 {
        processor_module
            .process(Message { content: body.clone(), meta: HashMap::new() }, ns)
            .unwrap();
    }
    assert_eq!(processor_module.memory_bytes(), before);
}

/// Seen in Fluent Bit 5.1.1: a record larger than `Wasm_Heap_Size` is not copied into the module,
/// and the filter is called with a null record pointer and the record's real length. The module
/// must answer with an error event that says what to raise, and go on with the next record.
#[test]
fn fluent_bit_filter_answers_a_record_that_did_not_fit_with_what_to_raise() {
    let heap_size = 64 << 10;
    let (function, _) = fluent_bit_conf();
    let mut filter =
        FluentBitFilter::load(&module(FLUENT_BIT_MODULE_FILE), &function, heap_size).unwrap();
    let body = std::fs::read(fixtures::root_fixture("go1.27/custom/01.json")).unwrap();
    assert!(body.len() > heap_size, "the body must not fit");
    let event = filter.call("golang.big", 1_767_225_600, 0, &body).unwrap().unwrap();
    let event: serde_json::Value = serde_json::from_str(&event).unwrap();
    let message = event["error"]["message"].as_str().unwrap();
    let needed = body.len() + "golang.big".len() + 2;
    assert!(
        message.starts_with(&format!(
            "Fluent Bit passed no record: the record of {} bytes did not fit in the filter's Wasm_Heap_Size; raise Wasm_Heap_Size above {needed} bytes",
            body.len()
        )),
        "{message}"
    );
    assert_eq!(event["@timestamp"], "2026-01-01T00:00:00.000Z");

    // The next record that fits is handled as usual.
    let small = std::fs::read(fixtures::root_fixture("go1.27/idle/01.json")).unwrap();
    let event = filter.call("golang.big", 1_767_225_600, 0, &small).unwrap().unwrap();
    let expected = expvar_heap::Collector::default().push(&small, BLESS_TIME).remove(0).json;
    assert_eq!(event, expected);
}
