//! No body, however broken, makes the transform panic or lose the body: thousands of mutations of
//! real Go bodies (bytes flipped, cut, duplicated, inserted) each give one event per dataset, and
//! an event with `error.message` always keeps the body in `event.original`.

use expvar_heap::{CollectionTime, Collector, Datasets, Options};

/// A small deterministic generator (xorshift64*), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b"{}[]\",:-.0123456789eE \\nul\xff\xc3\x00\t";

fn mutate(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len().max(1));
        match rng.below(5) {
            0 => out.truncate(at),
            1 => out.insert(at.min(out.len()), INTERESTING[rng.below(INTERESTING.len())]),
            2 if !out.is_empty() => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            3 if !out.is_empty() => {
                out.remove(at);
            }
            _ => {
                let end = (at + rng.below(64)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
        }
    }
    out
}

#[test]
fn mutated_real_bodies_always_give_their_events() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    let bodies: Vec<Vec<u8>> =
        ["go1.19/gc/04.json", "go1.22/custom/01.json", "go1.27/alloc/05.json"]
            .iter()
            .map(|f| std::fs::read(format!("{fixtures}/{f}")).unwrap())
            .collect();
    let options = Options { datasets: Datasets::ALL, ..Options::default() }.validate().unwrap();
    let time = CollectionTime { seconds: 1_767_225_600, nanoseconds: 0 };
    let mut collector = Collector::new(options.clone());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut with_errors = 0;
    for case in 0..3_000 {
        let body = mutate(&mut rng, &bodies[case % bodies.len()]);
        let stateless = expvar_heap::transform(&body, time, &options);
        let collected = collector.push(&body, time);
        assert_eq!(stateless.len(), 2, "case {case}");
        assert_eq!(collected.len(), 2, "case {case}");
        for event in stateless.iter().chain(&collected) {
            let value: serde_json::Value = serde_json::from_str(&event.json)
                .unwrap_or_else(|e| panic!("case {case}: the event is not JSON ({e}): {event}"));
            assert_eq!(event.has_error, value["error"]["message"].is_string(), "case {case}");
            if event.has_error {
                let original = value["event"]["original"].as_str().expect("event.original kept");
                assert_eq!(original, String::from_utf8_lossy(&body), "case {case}");
                with_errors += 1;
            }
        }
    }
    // Most mutations break the body; the test must have seen many error events.
    assert!(with_errors > 3_000, "only {with_errors} error events");
}

/// Reading a shipper's record once (`transform_record`, `push_record`) gives exactly the events
/// of finding its body first (`record_body`) and transforming that, on bodies, bodies carried as
/// strings under `log`, and mutations of both.
#[test]
fn records_read_once_give_the_events_of_their_bodies() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    let mut records: Vec<Vec<u8>> = Vec::new();
    for file in ["go1.19/gc/04.json", "go1.22/custom/01.json", "go1.27/idle/02.json"] {
        let body = std::fs::read(format!("{fixtures}/{file}")).unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        let wrapped = serde_json::json!({"kubernetes": {"pod": "a"}, "log": text});
        records.push(body);
        records.push(wrapped.to_string().into_bytes());
    }
    let options = Options { datasets: Datasets::ALL, ..Options::default() }.validate().unwrap();
    let time = CollectionTime { seconds: 1_767_225_600, nanoseconds: 0 };
    let (mut once, mut twice) = (Collector::new(options.clone()), Collector::new(options.clone()));
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut embedded = 0;
    for case in 0..2_000 {
        let original = &records[case % records.len()];
        let record =
            if case < records.len() { original.clone() } else { mutate(&mut rng, original) };
        let body = expvar_heap::record_body(&record);
        embedded += usize::from(body.len() != record.len());
        assert_eq!(
            expvar_heap::transform_record(&record, time, &options),
            expvar_heap::transform(&body, time, &options),
            "case {case}"
        );
        assert_eq!(once.push_record(&record, time), twice.push(&body, time), "case {case}");
    }
    assert!(embedded > 300, "only {embedded} records carried their body");
}
