//! A collector never panics on any sequence of bodies (the input split at 0xFF bytes, which no
//! UTF-8 text holds), each body's events are JSON, and its pause window never counts more than
//! the ring holds (its percentiles ordered, at most its max). Each body is also pushed as a record its host wrote itself
//! ([`Collector::push_host_record`], as the Fluent Bit module reads records): never a panic, and
//! for a body that is valid JSON, the events of the checked read.
#![no_main]

use expvar_heap::{CollectionTime, Collector, PAUSE_RING_LEN};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|input: &[u8]| {
    let mut collector = Collector::default();
    let (mut records, mut trusting) = (Collector::default(), Collector::default());
    for (i, body) in input.split(|&b| b == 0xFF).enumerate() {
        let time = CollectionTime { seconds: 1_700_000_000 + i as u64 * 10, nanoseconds: 0 };
        let events = collector.push(body, time);
        let (checked, trusted) =
            (records.push_record(body, time), trusting.push_host_record(body, time));
        // Valid JSON (serde_json builds its strings, so they are UTF-8 too) whose integers fit 64
        // bits, as every record Fluent Bit writes (runs of 20 digits and more left out).
        let long_digits = body.windows(20).any(|run| run.iter().all(u8::is_ascii_digit));
        if !long_digits && serde_json::from_slice::<Value>(body).is_ok() {
            assert_eq!(trusted, checked, "a valid record read trusting its grammar");
        }
        // Text that is not JSON may be read otherwise when trusted: go on from the same state.
        trusting.set_state(records.state());
        assert_eq!(events.len(), 1);
        let event: Value = serde_json::from_str(&events[0].json).expect("an event is JSON");
        let pause = &event["golang"]["heap"]["gc"]["pause"];
        if let Some(count) = pause["count"].as_u64() {
            assert!(count <= PAUSE_RING_LEN as u64);
            let (sum, max) =
                (pause["sum"]["ns"].as_u64().unwrap(), pause["max"]["ns"].as_u64().unwrap());
            assert!(max <= sum || count == 0);
            // Percentiles of the held pauses: there exactly when a pause is, ordered, at most max.
            let p = ["p50", "p90", "p99"].map(|p| pause[p]["ns"].as_u64());
            if count == 0 {
                assert_eq!(p, [None; 3]);
            } else {
                let [p50, p90, p99] = p.map(|p| p.expect("a window with pauses has percentiles"));
                assert!(p50 <= p90 && p90 <= p99 && p99 <= max, "{pause}");
            }
        }
    }
});
