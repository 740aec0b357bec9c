//! The collector (per-interval GC pauses) through the component, against Elastic's unreleased
//! pipeline test and against windows computed independently from real Go bodies.

mod common;

use common::processor;
use expvar_heap::{Collector, Datasets, Options, PAUSE_RING_LEN};
use expvar_heap_test_support::conformance::check_conformance;
use expvar_heap_test_support::fixtures::{BLESS_TIME, root_fixture};
use expvar_heap_wasmtime::{CallError, Limits};
use serde_json::Value;

#[test]
fn agrees_with_elastics_gc_pause_pipeline_test_of_pr_4908() {
    // The body carries `last_num_gc: 2` (the poller's previous NumGC) and NumGC 8: count 6,
    // sum 401412, max 111861, avg 66902.
    let processor = processor(Limits::default());
    check_conformance("gc-pause-pr4908/test-heap-metrics.log", Datasets::HEAP, |body, options| {
        // A new collector for each body, as each line is its own process's.
        processor.collector(options).unwrap().push(body, BLESS_TIME).unwrap()
    });
}

/// The pause window a body should get, computed apart from the library's arithmetic: the new
/// cycles are the ring entries whose `PauseEnd` is later than the previous body's `LastGC` (all of
/// them after a restart or on the first body).
fn window_from_the_rings(previous: Option<&Value>, body: &Value) -> [u64; 5] {
    let memstats = &body["memstats"];
    let num_gc = memstats["NumGC"].as_u64().unwrap();
    let previous =
        previous.map(|p| &p["memstats"]).filter(|p| p["NumGC"].as_u64().unwrap() <= num_gc);
    let since = previous.map_or(0, |p| p["LastGC"].as_u64().unwrap());
    let ends = memstats["PauseEnd"].as_array().unwrap();
    let pauses = memstats["PauseNs"].as_array().unwrap();
    let new: Vec<u64> = (0..PAUSE_RING_LEN)
        .filter(|&i| ends[i].as_u64().unwrap() > since)
        .map(|i| pauses[i].as_u64().unwrap())
        .collect();
    let count = new.len() as u64;
    let sum: u64 = new.iter().sum();
    let previous_num_gc = previous.map_or(0, |p| p["NumGC"].as_u64().unwrap());
    let missed = num_gc - previous_num_gc - count;
    [
        count,
        sum,
        new.iter().copied().max().unwrap_or(0),
        sum.checked_div(count).unwrap_or(0),
        missed,
    ]
}

fn window_in_event(event: &Value) -> [u64; 5] {
    let pause = &event["golang"]["heap"]["gc"]["pause"];
    let figure =
        |v: &Value| v.as_u64().unwrap_or_else(|| panic!("pause figure missing in {pause}"));
    [
        figure(&pause["count"]),
        figure(&pause["sum"]["ns"]),
        figure(&pause["max"]["ns"]),
        // A float field (Elastic types it so), holding whole nanoseconds.
        pause["avg"]["ns"].as_f64().filter(|_| pause["avg"]["ns"].is_f64()).expect("a float avg")
            as u64,
        pause["missed"]["count"].as_u64().unwrap_or(0),
    ]
}

#[test]
fn real_sequences_give_the_windows_their_rings_hold() {
    let options = Options { datasets: Datasets::ALL, ..Options::default() };
    let (mut wraps, mut restarts, mut windows) = (0, 0, 0);
    for version in ["go1.19", "go1.22", "go1.27"] {
        for pattern in ["idle", "alloc", "gc", "custom", "restart"] {
            let mut component = processor(Limits::default()).collector(&options).unwrap();
            let mut native = Collector::new(options.clone().validate().unwrap());
            let mut previous: Option<Value> = None;
            let mut paths: Vec<_> =
                std::fs::read_dir(root_fixture(&format!("{version}/{pattern}")))
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect();
            paths.sort();
            assert!(paths.len() >= 2, "{version}/{pattern} has no sequence");
            for path in paths {
                let body = std::fs::read(&path).unwrap();
                let events = component.push(&body, BLESS_TIME).unwrap();
                assert_eq!(events, native.push(&body, BLESS_TIME), "{}", path.display());
                let parsed: Value = serde_json::from_slice(&body).unwrap();
                let expected = window_from_the_rings(previous.as_ref(), &parsed);
                let event: Value = serde_json::from_str(&events[0].json).unwrap();
                assert_eq!(window_in_event(&event), expected, "{}", path.display());
                let num_gc = |v: &Value| v["memstats"]["NumGC"].as_u64().unwrap();
                if let Some(previous) = &previous {
                    restarts += usize::from(num_gc(&parsed) < num_gc(previous));
                }
                wraps += usize::from(expected[4] > 0);
                windows += 1;
                previous = Some(parsed);
            }
        }
    }
    // The data must hold the cases the collector exists for, or this test proves little.
    assert!(wraps >= 3 && restarts >= 3, "{wraps} wraps past the ring, {restarts} restarts");
    assert!(windows >= 3 * 19, "{windows} windows");
}

#[test]
fn a_collector_with_invalid_options_is_refused_when_made() {
    let processor = processor(Limits::default());
    let options = Options { namespace: "a-b".to_owned(), ..Options::default() };
    match processor.collector(&options) {
        Err(CallError::Options(why)) => assert!(why.contains("invalid namespace"), "{why}"),
        Err(other) => panic!("expected an options error, got {other:?}"),
        Ok(_) => panic!("a collector was made with invalid options"),
    }
}

/// Several collectors live in one instance, each with its own window; a trap (here, a body over
/// the memory cap) drops the instance, and each collector is made anew: its next body counts as
/// a first body, exactly as a fresh native collector counts it.
#[test]
fn collectors_share_an_instance_and_start_again_after_a_trap() {
    let processor = processor(Limits { max_memory_bytes: 8 << 20, ..Limits::default() });
    let options = Options::default();
    let body = |n: &str| std::fs::read(root_fixture(&format!("go1.22/gc/{n}.json"))).unwrap();
    let (mut a, mut b) =
        (processor.collector(&options).unwrap(), processor.collector(&options).unwrap());
    let mut native = Collector::default();
    assert_eq!(a.push(&body("01"), BLESS_TIME).unwrap(), native.push(&body("01"), BLESS_TIME));
    assert_eq!(a.push(&body("02"), BLESS_TIME).unwrap(), native.push(&body("02"), BLESS_TIME));
    // b has seen nothing: its first body is a first body, whatever a saw.
    let mut fresh = Collector::default();
    assert_eq!(b.push(&body("02"), BLESS_TIME).unwrap(), fresh.push(&body("02"), BLESS_TIME));

    let mut huge = b"{\"big\":\"".to_vec();
    huge.resize(16 << 20, b'x');
    huge.extend_from_slice(b"\"}");
    let wide = Options { datasets: Datasets::ALL, ..Options::default() };
    assert!(matches!(processor.transform(&huge, BLESS_TIME, &wide), Err(CallError::Trap(_))));

    let mut after_trap = Collector::default();
    let expected = after_trap.push(&body("03"), BLESS_TIME);
    assert_eq!(a.push(&body("03"), BLESS_TIME).unwrap(), expected);
    drop(b);
    assert_eq!(a.push(&body("04"), BLESS_TIME).unwrap(), after_trap.push(&body("04"), BLESS_TIME));
}

/// A record its host wrote as JSON itself (Fluent Bit's, to its `wasm` filter) is read trusting
/// its grammar, passing over what no event needs by structure alone: for every fixture that is
/// valid JSON, as it is and as Fluent Bit writes it (compact), in sequence per process, the events
/// are those of the checked read.
#[test]
fn a_record_its_host_wrote_gives_the_events_of_the_checked_read() {
    use expvar_heap::CollectionTime;
    use expvar_heap_test_support::fixtures;
    use std::collections::BTreeMap;

    let mut processes: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for case in fixtures::cases().unwrap() {
        let body = std::fs::read(&case.input).unwrap();
        let Ok(value) = serde_json::from_slice::<Value>(&body) else { continue };
        let process = case.input.parent().unwrap().display().to_string();
        let bodies = processes.entry(process).or_default();
        bodies.push(serde_json::to_vec(&value).unwrap());
        bodies.push(body);
    }
    let mut compared = 0;
    for (process, bodies) in &processes {
        let (mut checked, mut trusted) = (Collector::default(), Collector::default());
        let all = Options {
            datasets: Datasets::ALL,
            preserve_original_event: true,
            ..Options::default()
        }
        .validate()
        .unwrap();
        let (mut checked_all, mut trusted_all) =
            (Collector::new(all.clone()), Collector::new(all.clone()));
        for (i, body) in bodies.iter().enumerate() {
            let time = CollectionTime { seconds: 1_700_000_000 + i as u64 * 10, nanoseconds: 0 };
            assert_eq!(
                trusted.push_host_record(body, time),
                checked.push_record(body, time),
                "{process}, body {i}"
            );
            assert_eq!(
                trusted_all.push_host_record(body, time),
                checked_all.push_record(body, time),
                "{process}, body {i}, both datasets"
            );
            compared += 1;
        }
    }
    assert!(compared >= 100, "only {compared} bodies compared");
}
