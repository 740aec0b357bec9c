//! The component in wasmtime, against the fixtures' expected events, the native library, and
//! Elastic's own pipeline tests; and the host's limits.

mod common;

use std::time::Duration;

use common::processor;
use expvar_heap::{CollectionTime, Datasets, Options};
use expvar_heap_test_support::component_bytes;
use expvar_heap_test_support::conformance::check_conformance;
use expvar_heap_test_support::fixtures::{self, BLESS_TIME, bless_options, events_text};
use expvar_heap_wasmtime::{CallError, Limits};

#[test]
fn the_component_imports_nothing() {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, component_bytes()).unwrap();
    let ty = component.component_type();
    let imports: Vec<_> = ty.imports(&engine).map(|(name, _)| name.to_owned()).collect();
    assert_eq!(imports, Vec::<String>::new());
    let mut exports: Vec<_> = ty.exports(&engine).map(|(name, _)| name.to_owned()).collect();
    exports.sort();
    assert_eq!(
        exports,
        [
            "golang:expvar/collector@0.2.0",
            "golang:expvar/transform@0.2.0",
            "golang:expvar/types@0.2.0"
        ]
    );
}

#[test]
fn every_fixture_through_the_component_gives_its_expected_events() {
    let cases = fixtures::cases().unwrap();
    let real = cases.iter().filter(|c| c.name().starts_with("go")).count();
    let bad = cases.iter().filter(|c| c.name().starts_with("bad")).count();
    assert!(real >= 3 * 19 && bad >= 13, "fixtures missing: {real} real, {bad} bad");
    let processor = processor(Limits::default());
    let mut wrong = Vec::new();
    for case in &cases {
        let body = std::fs::read(&case.input).unwrap();
        let events = processor.transform(&body, BLESS_TIME, &bless_options()).unwrap();
        for event in &events {
            let parsed: serde_json::Value = serde_json::from_str(&event.json).unwrap();
            let reports_error = parsed["error"]["message"].is_string();
            assert_eq!(event.has_error, reports_error, "{}", case.name());
        }
        let expected = std::fs::read_to_string(&case.expected).unwrap_or_else(|e| {
            panic!("{}: {e} (run `cargo xtask bless`)", case.expected.display())
        });
        if events_text(&events) != expected {
            wrong.push(case.name());
        }
    }
    assert!(wrong.is_empty(), "events differ from the expected files for {wrong:?}");
}

/// Option sets that exercise every option of the envelope.
fn option_sets() -> Vec<Options> {
    vec![
        Options::default(),
        Options {
            namespace: "prod_eu".to_owned(),
            tags: vec!["team-a".to_owned(), String::new()],
            preserve_original_event: true,
            ecs_version: "8.5.1".to_owned(),
            service_address: Some("http://127.0.0.1:6060".to_owned()),
            datasets: Datasets::ALL,
        },
        Options { datasets: Datasets::EXPVAR, tags: vec![String::new()], ..Options::default() },
    ]
}

#[test]
fn component_and_native_library_write_identical_bytes() {
    let processor = processor(Limits::default());
    let time = CollectionTime { seconds: 1_795_646_457, nanoseconds: 313_805_631 };
    let cases = fixtures::cases().unwrap();
    let mut compared = 0;
    for case in &cases {
        let body = std::fs::read(&case.input).unwrap();
        for options in option_sets() {
            let native = expvar_heap::transform(&body, time, &options.clone().validate().unwrap());
            let component = processor.transform(&body, time, &options).unwrap();
            assert_eq!(component, native, "{} with {options:?}", case.name());
            compared += native.len();
        }
    }
    // One event for the defaults, two with both datasets, one for expvar alone.
    assert_eq!(compared, 4 * cases.len());
}

#[test]
fn default_options_are_the_librarys() {
    let processor = processor(Limits::default());
    assert_eq!(processor.default_options().unwrap(), Options::default());
}

#[test]
fn invalid_options_are_an_error_of_the_call() {
    let processor = processor(Limits::default());
    let options = Options { namespace: "Prod-EU".to_owned(), ..Options::default() };
    match processor.transform(b"{}", BLESS_TIME, &options) {
        Err(CallError::Options(why)) => assert!(why.contains("invalid namespace"), "{why}"),
        other => panic!("expected an options error, got {other:?}"),
    }
}

#[test]
fn agrees_with_elastics_heap_pipeline_test() {
    let processor = processor(Limits::default());
    check_conformance("test-heap-metrics.log", Datasets::HEAP, |body, options| {
        processor.transform(body, BLESS_TIME, options).unwrap()
    });
}

#[test]
fn agrees_with_elastics_expvar_pipeline_test() {
    let processor = processor(Limits::default());
    check_conformance("expvar/test-expvar-metrics.log", Datasets::EXPVAR, |body, options| {
        processor.transform(body, BLESS_TIME, options).unwrap()
    });
}

/// A body of about `bytes` bytes: a real body with one large custom variable.
fn large_body(bytes: usize) -> Vec<u8> {
    let real = std::fs::read(fixtures::root_fixture("go1.27/idle/01.json")).unwrap();
    let mut body = b"{\"big\":[".to_vec();
    while body.len() < bytes {
        body.extend_from_slice(b"123456789012345678,");
    }
    body.extend_from_slice(b"0],");
    body.extend_from_slice(&real[1..]);
    body
}

#[test]
fn a_trap_is_reported_and_the_next_call_gets_a_fresh_instance() {
    let processor = processor(Limits { max_memory_bytes: 4 << 20, ..Limits::default() });
    let small = std::fs::read(fixtures::root_fixture("go1.19/gc/04.json")).unwrap();
    let before = processor.transform(&small, BLESS_TIME, &Options::default()).unwrap();
    match processor.transform(&large_body(8 << 20), BLESS_TIME, &Options::default()) {
        Err(CallError::Trap(trap)) => {
            assert!(format!("{trap:#}").contains("over the cap of 4194304 bytes"), "{trap:#}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    let after = processor.transform(&small, BLESS_TIME, &Options::default()).unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_call_past_its_deadline_traps_and_the_host_recovers() {
    let limits = Limits { call_timeout: Duration::from_millis(1), ..Limits::default() };
    let processor = processor(limits);
    match processor.transform(&large_body(40 << 20), BLESS_TIME, &Options::default()) {
        Err(CallError::Trap(trap)) => {
            assert!(format!("{trap:#}").contains("interrupt"), "{trap:#}")
        }
        other => panic!("expected the deadline to interrupt the call, got {other:?}"),
    }
    // A deadline of one epoch tick could also cut a short call that straddles a tick.
    processor.set_call_timeout(Limits::default().call_timeout);
    assert_eq!(processor.transform(b"{}", BLESS_TIME, &Options::default()).unwrap().len(), 1);
}

/// The default memory limit holds a 32 MB body. (What is tested is memory, not time: the call's
/// deadline is one no busy machine reaches, rather than the default 10 s, which a debug build
/// sharing its cores with other builds can.)
#[test]
fn a_large_body_is_transformed_within_the_default_limits() {
    let limits = Limits { call_timeout: Duration::from_secs(120), ..Limits::default() };
    let processor = processor(limits);
    let body = large_body(32 << 20);
    let options = Options { datasets: Datasets::ALL, ..Options::default() };
    let events = processor.transform(&body, BLESS_TIME, &options).unwrap();
    assert_eq!(events, expvar_heap::transform(&body, BLESS_TIME, &options.validate().unwrap()));
    assert!(!events[0].has_error, "{}", &events[0].json[..300]);
    assert!(events[1].json.len() > 32 << 20, "the expvar event carries the big variable");
    // One large body does not keep its memory: the instance was dropped after the call.
    assert_eq!(processor.linear_memory_bytes(), 0);
}

#[test]
fn memory_stays_flat_over_many_calls_on_one_instance() {
    let processor = processor(Limits::default());
    let body = std::fs::read(fixtures::root_fixture("go1.27/alloc/05.json")).unwrap();
    let options = Options { datasets: Datasets::ALL, ..Options::default() };
    processor.transform(&body, BLESS_TIME, &options).unwrap();
    let warm = processor.linear_memory_bytes();
    for _ in 0..5_000 {
        processor.transform(&body, BLESS_TIME, &options).unwrap();
    }
    assert_eq!(processor.linear_memory_bytes(), warm);
    assert!(warm <= 2 << 20, "linear memory {warm} bytes for a {} byte body", body.len());
}

/// The component compiled ahead of time loads as it is, and writes the same events as the
/// component compiled at load; a precompiled form that does not belong to the component, or an
/// engine that counts instructions, falls back to compiling.
#[test]
fn the_precompiled_component_is_used_only_when_it_fits() {
    let component = component_bytes();
    let precompiled = expvar_heap_wasmtime::precompile(component).unwrap();
    let load = |precompiled: &[u8], limits| {
        // SAFETY: `precompile` wrote these bytes (or a copy of them with only the fingerprint
        // changed, which is checked before wasmtime reads the rest).
        unsafe { expvar_heap_wasmtime::Processor::from_precompiled(precompiled, component, limits) }
            .unwrap()
    };
    let (fast, used) = load(&precompiled, Limits::default());
    assert!(used, "the precompiled form was not used");
    let body = std::fs::read(fixtures::root_fixture("go1.27/gc/03.json")).unwrap();
    let options = Options::default();
    let expected = processor(Limits::default()).transform(&body, BLESS_TIME, &options).unwrap();
    assert_eq!(fast.transform(&body, BLESS_TIME, &options).unwrap(), expected);

    let mut other = precompiled.clone();
    other[0] ^= 1; // the fingerprint of some other component
    let (compiled, used) = load(&other, Limits::default());
    assert!(!used);
    assert_eq!(compiled.transform(&body, BLESS_TIME, &options).unwrap(), expected);
    let counting = Limits { max_instructions: Some(u64::MAX / 2), ..Limits::default() };
    let (counted, used) = load(&precompiled, counting);
    assert!(!used);
    assert_eq!(counted.transform(&body, BLESS_TIME, &options).unwrap(), expected);
    assert!(counted.last_call_instructions().unwrap() > 0);
    let (_, used) = load(&[], Limits::default());
    assert!(!used);
}

/// The deadline's clock ticks only while a call runs: an idle host is not woken.
#[test]
fn the_deadline_clock_sleeps_between_calls() {
    let processor = processor(Limits::default());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(processor.epoch_ticks(), 0, "ticks before any call");
    let body = std::fs::read(fixtures::root_fixture("go1.27/idle/01.json")).unwrap();
    processor.transform(&body, BLESS_TIME, &Options::default()).unwrap();
    let after_call = processor.epoch_ticks();
    std::thread::sleep(Duration::from_millis(300));
    // At most the one tick that had started when the call ended (it was ~30 while idle).
    assert!(processor.epoch_ticks() <= after_call + 1, "{}", processor.epoch_ticks());
}
