//! The Fluent Bit and Redpanda Connect modules, driven as their hosts drive them, must write the
//! same events as the component on every fixture, and keep their memory flat.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::processor;
use expvar_heap::Options;
use expvar_heap_host_test::pipelines::{
    FluentBitFilter, Message, RedpandaPool, RedpandaProcessor, WAZERO_FAKE_EPOCH_NS,
    counting_engine, fluent_bit_conf,
};
use expvar_heap_redpanda::{COLLECTED_AT_META, ERROR_META, STATE_META};
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
            // The record as Fluent Bit hands it over: JSON it wrote itself, which the module
            // trusts to be valid. A body its JSON parser took is the record (every other one is
            // carried as a string instead, as the tail and exec inputs do without a parser); one
            // it refused is kept as text under `log` (plugins/in_tail/tail_file.c, "Parser
            // failed, pack raw text"), written with each invalid UTF-8 sequence replaced by
            // U+FFFD (src/flb_utils.c, flb_utils_write_str_raw).
            let valid = serde_json::from_slice::<serde_json::Value>(body).is_ok();
            let text = String::from_utf8_lossy(body);
            let (record, body) = if valid && i % 2 == 0 {
                (body.clone(), body.clone())
            } else {
                let log = format!(r#"{{"log":{}}}"#, serde_json::to_string(&text).unwrap());
                (log.into_bytes(), text.as_bytes().to_vec())
            };
            let expected = reference.push(&body, BLESS_TIME).unwrap().remove(0).json;
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

/// Neither pipeline host has a deadline: a counter no Go runtime writes must not make a module
/// loop. Two records with `NumGC` 2^64 - 1 (Fluent Bit), and a state line of `num_gc` 2^64 - 1
/// (Redpanda Connect), each give their event in a bounded number of instructions (a real body
/// takes under a million; a loop over the cycles between the counts would take 2^64 steps).
#[test]
fn hostile_counters_give_an_event_in_bounded_instructions() {
    const BOUND: u64 = 20_000_000;
    let max = u64::MAX;
    let body = |num_gc: u64| {
        let ring = vec!["7"; 256].join(",");
        format!(r#"{{"memstats":{{"PauseNs":[{ring}],"PauseEnd":[{ring}],"NumGC":{num_gc}}}}}"#)
    };
    let engine = counting_engine();
    let (function, heap_size) = fluent_bit_conf();
    let path = module(FLUENT_BIT_MODULE_FILE);
    let mut filter = FluentBitFilter::load_in(&engine, &path, &function, heap_size).unwrap();
    for num_gc in [max, max, 0, max, u64::from(u32::MAX), 0] {
        let event = filter.call("golang.hostile", 1_767_225_600, 0, body(num_gc).as_bytes());
        let event = event.unwrap().expect("an event");
        let instructions = filter.last_call_instructions().unwrap();
        assert!(instructions < BOUND, "NumGC {num_gc}: {instructions} instructions");
        assert!(pause_window_count(&event).is_some(), "{event}");
    }
    let mut processor = RedpandaProcessor::load_in(&engine, &module(REDPANDA_MODULE_FILE)).unwrap();
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    for (state, num_gc) in
        [(format!("num_gc={max}"), max), (format!("num_gc={max}"), 0), ("num_gc=0".to_owned(), max)]
    {
        let out = processor.process(message(body(num_gc).into_bytes(), &state, ns)).unwrap();
        let instructions = processor.last_call_instructions().unwrap();
        assert!(instructions < BOUND, "{state}, NumGC {num_gc}: {instructions} instructions");
        let event = String::from_utf8(out.content).unwrap();
        assert!(pause_window_count(&event).is_some(), "{event}");
    }
}

/// The state the module wrote for the next message of the same process.
fn state_of(message: &Message) -> String {
    message.meta.get(STATE_META).cloned().expect("the module writes its state")
}

/// The number of cycles of an event's pause window (`golang.heap.gc.pause.count`), when it has
/// one: `golang.heap.gc.pause.total.ns`, in every event with `PauseTotalNs`, is no window.
fn pause_window_count(event: &str) -> Option<u64> {
    let event: serde_json::Value = serde_json::from_str(event).unwrap();
    event["golang"]["heap"]["gc"]["pause"]["count"].as_u64()
}

/// A message of `body` with the state of the previous message of its process, and the collection
/// time in metadata (as the example's mapping sets it).
fn message(body: Vec<u8>, state: &str, ns: u64) -> Message {
    Message::new(body).with_meta(STATE_META, state).with_meta(COLLECTED_AT_META, ns)
}

/// One process's bodies with the state handed from each message to the next, through one
/// instance: the events of the component's collector, pause windows included; every block the
/// module handed the processor was its allocator's; memory stays flat.
#[test]
fn redpanda_processor_writes_the_collectors_events_with_the_state_handed_along() {
    let mut processor_module = RedpandaProcessor::load(&module(REDPANDA_MODULE_FILE)).unwrap();
    // Past the 1 MiB stack and the static data: what the breach check holds blocks against.
    assert!(processor_module.heap_start() > 1 << 20, "{:#x}", processor_module.heap_start());
    let component = processor(Limits::default());
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    let (mut compared, mut windows) = (0, 0);
    for (folder, bodies) in sequences() {
        let mut reference = component.collector(&Options::default()).unwrap();
        let mut state = String::new();
        for (i, body) in bodies.into_iter().enumerate() {
            if folder.ends_with("bad") {
                // The bad inputs are no sequence: each is its own process.
                reference = component.collector(&Options::default()).unwrap();
                state.clear();
            }
            let expected = reference.push(&body, BLESS_TIME).unwrap().remove(0).json;
            let out = processor_module.process(message(body, &state, ns)).unwrap();
            // First: a module that hands the processor memory it must not free fails here.
            assert_eq!(processor_module.breaches(), [], "{folder} message {i}");
            assert_eq!(out.error, None, "{folder} message {i}");
            assert_eq!(String::from_utf8(out.content.clone()).unwrap(), expected, "{folder} {i}");
            windows += usize::from(i > 0 && pause_window_count(&expected).is_some());
            state = state_of(&out);
            compared += 1;
        }
    }
    assert!(compared >= 70, "{compared} messages compared");
    assert!(windows >= 30, "only {windows} windows after a first body");

    let before = processor_module.memory_bytes();
    let bodies = sequences().into_iter().find(|(f, _)| f.ends_with("go1.27/alloc")).unwrap().1;
    let mut state = String::new();
    for i in 0..5_000 {
        let out = processor_module.process(message(bodies[i % 5].clone(), &state, ns));
        state = state_of(&out.unwrap());
    }
    assert_eq!(processor_module.memory_bytes(), before, "memory grew over 5,000 messages");
    assert_eq!(processor_module.breaches(), []);
}

/// The processor frees every block the module passes it: a module that passes static data (as
/// one did with a metadata key) is caught, although its messages look right.
#[test]
fn redpanda_harness_catches_a_module_that_hands_over_static_memory() {
    // A module that asks for the metadata "key" from its data segment, with a bump allocator
    // whose heap starts at 1024.
    let wat = r#"(module
        (import "benthos_wasm" "v0_msg_get_meta" (func $get_meta (param i32 i32) (result i64)))
        (memory (export "memory") 1)
        (data (i32.const 16) "key")
        (global $next (mut i32) (i32.const 1024))
        (func (export "allocate") (param $size i32) (result i32)
            (global.get $next)
            (global.set $next (i32.add (global.get $next) (local.get $size))))
        (func (export "deallocate") (param i32 i32))
        (func (export "process")
            (drop (call $get_meta (i32.const 16) (i32.const 3)))))"#;
    let dir = std::env::temp_dir().join(format!("expvar-heap-breach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("static-key.wasm");
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    let mut harness = RedpandaProcessor::load(&path).unwrap();
    let out = harness.process(Message::new(b"{}".to_vec()));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.unwrap().error, None, "the processor itself sees nothing wrong");
    let breaches = harness.breaches();
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(
        breaches[0].0,
        "v0_msg_get_meta key: the block at 0x10 (3 bytes) is not from the module's allocator \
         (its heap starts at 0x400), yet the processor frees it with deallocate"
    );
}

/// Several services' messages, interleaved, in batches across the processor's pool of instances
/// (an idle instance taken at random, idle ones dropped at random, two batches at once now and
/// then), with each service's state kept between messages as the example pipeline's cache keeps
/// it: every event is the one a collector per service writes, windows and restarts included.
#[test]
fn redpanda_pool_gives_the_events_of_one_collector_per_service() {
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    let mut services: Vec<(String, Vec<Vec<u8>>)> =
        sequences().into_iter().filter(|(f, _)| !f.ends_with("bad")).collect();
    // One service restarted as another Go version: 1.19's bodies, then 1.27's.
    let restarted = |version: &str| {
        let (_, bodies) = services.iter().find(|(f, _)| f.ends_with(version)).unwrap();
        bodies.clone()
    };
    let mut across = restarted("go1.19/alloc");
    across.extend(restarted("go1.27/gc"));
    services.push(("restarted across versions".to_owned(), across));

    let component = processor(Limits::default());
    for seed in [1, 7, 2026] {
        let mut pool = RedpandaPool::load(&module(REDPANDA_MODULE_FILE), seed, 200).unwrap();
        // The pipeline's cache: the state of each service, by its address.
        let mut cache: HashMap<usize, String> = HashMap::new();
        let mut references: Vec<_> =
            services.iter().map(|_| component.collector(&Options::default()).unwrap()).collect();
        let mut next = vec![0; services.len()];
        let mut round = 0;
        // Which instances each service's messages ran on.
        let mut ran_on: Vec<std::collections::BTreeSet<usize>> =
            vec![Default::default(); services.len()];
        // Round after round, each service still scraping sends its next body; the messages of a
        // round go in batches of up to three (never two of one service: the cache lookup of a
        // batch happens before its wasm processor runs).
        while next.iter().zip(&services).any(|(n, (_, bodies))| *n < bodies.len()) {
            let mut round_messages = Vec::new();
            for (service, (_, bodies)) in services.iter().enumerate() {
                if let Some(body) = bodies.get(next[service]) {
                    let state = cache.get(&service).cloned().unwrap_or_default();
                    round_messages.push((service, message(body.clone(), &state, ns)));
                    next[service] += 1;
                }
            }
            let mut batches: Vec<Vec<(usize, Message)>> = Vec::new();
            for (i, entry) in round_messages.into_iter().enumerate() {
                match batches.last_mut() {
                    Some(batch) if batch.len() < 1 + (seed as usize + i) % 3 => batch.push(entry),
                    _ => batches.push(vec![entry]),
                }
            }
            // Now and then two batches run at once: two instances out of the pool together.
            let mut batches = batches.into_iter().peekable();
            while let Some(batch) = batches.next() {
                let mut running = vec![(pool.get().unwrap(), batch)];
                if (round + seed as usize).is_multiple_of(4)
                    && let Some(second) = batches.next()
                {
                    running.push((pool.get().unwrap(), second));
                }
                let mut instances = Vec::new();
                for (mut instance, batch) in running {
                    let (owners, messages): (Vec<usize>, Vec<Message>) = batch.into_iter().unzip();
                    let out = instance.run(messages).unwrap();
                    for (service, message) in owners.into_iter().zip(out) {
                        ran_on[service].insert(instance.id());
                        assert_eq!(message.error, None);
                        let body = &services[service].1[next[service] - 1];
                        let expected =
                            references[service].push(body, BLESS_TIME).unwrap().remove(0).json;
                        let event = String::from_utf8(message.content.clone()).unwrap();
                        assert_eq!(event, expected, "seed {seed}: {}", services[service].0);
                        cache.insert(service, state_of(&message));
                    }
                    instances.push(instance);
                }
                for instance in instances {
                    pool.put(instance);
                }
            }
            round += 1;
        }
        assert!(pool.instances_made() >= 4, "seed {seed}: {} instances", pool.instances_made());
        // Every service with several messages had them on several instances.
        for (service, instances) in ran_on.iter().enumerate() {
            if services[service].1.len() >= 3 {
                assert!(
                    instances.len() >= 2,
                    "seed {seed}: {} on {instances:?}",
                    services[service].0
                );
            }
        }
        assert_eq!(pool.breaches(), [], "seed {seed}");
    }
}

/// When the processor cannot copy a message into the module (its write fails), it flags the
/// message and hands the module no pointer: the module answers with an event that says what to
/// change, and the next message is handled as usual.
#[test]
fn redpanda_module_answers_a_message_it_was_not_handed_with_what_to_change() {
    let mut harness = RedpandaProcessor::load(&module(REDPANDA_MODULE_FILE)).unwrap();
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    let bodies = sequences().into_iter().find(|(f, _)| f.ends_with("go1.27/alloc")).unwrap().1;
    let mut reference = expvar_heap::Collector::default();
    reference.push(&bodies[0], BLESS_TIME);
    let state = state_of(&harness.process(message(bodies[0].clone(), "", ns)).unwrap());

    harness.fail_next_content_write();
    let out = harness.process(message(bodies[1].clone(), &state, ns)).unwrap();
    assert_eq!(out.error.as_deref(), Some("allocating in-bound memory: writing in-bound memory"));
    let event: serde_json::Value = serde_json::from_slice(&out.content).unwrap();
    let why = event["error"]["message"].as_str().unwrap();
    assert!(why.starts_with("Redpanda Connect handed over no message"), "{why}");
    assert_eq!(event["@timestamp"], "2026-01-01T00:00:00.000Z");
    // No body was read: the state handed in goes on as it was.
    assert_eq!(state_of(&out), state);

    let out = harness.process(message(bodies[1].clone(), &state, ns)).unwrap();
    let expected = reference.push(&bodies[1], BLESS_TIME).remove(0).json;
    assert_eq!(String::from_utf8(out.content).unwrap(), expected);
    assert_eq!(harness.breaches(), []);
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

/// The example pipeline wires the module as the tests above drive it: the metadata names the
/// module reads and writes, its function and file, and one cache key for the lookup and the store.
#[test]
fn redpanda_example_pipeline_hands_the_state_along_under_the_modules_names() {
    let path =
        expvar_heap_test_support::root().join("examples/redpanda-connect/redpanda-connect.yaml");
    let yaml = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = yaml.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    let has = |line: &str| lines.contains(&line);
    assert!(has(&format!("module_path: dist/{REDPANDA_MODULE_FILE}")));
    assert!(has("function: process"));
    assert!(has(&format!("meta {COLLECTED_AT_META} = now().ts_unix_nano().string()")));
    // The lookup sets the state the module reads; the store keeps the one it wrote.
    assert!(has(&format!("result_map: 'meta {STATE_META} = content().string()'")));
    assert!(has(&format!(r#"value: '${{! @{STATE_META}.or("") }}'"#)));
    let operators: Vec<usize> =
        (0..lines.len()).filter(|&i| lines[i].starts_with("operator:")).collect();
    assert_eq!(operators.len(), 2, "one cache get, one cache set");
    let keys: Vec<&str> = operators.iter().map(|&i| lines[i + 1]).collect();
    assert_eq!(lines[operators[0]], "operator: get");
    assert_eq!(lines[operators[1]], "operator: set");
    assert!(keys[0].starts_with("key: ") && keys[0] == keys[1], "{keys:?}");
    // A flagged message that carries the module's event (the "handed over no message" one) goes
    // on to the output; only what a trap left (no event) is dropped.
    assert!(!has("- mapping: 'root = deleted()'"), "the catch must not drop the module's events");
    assert!(has(r#"root = if this.data_stream.dataset.catch("") != "golang.heap" { deleted() }"#));
    // Every input names its service, which is the cache key.
    let inputs = lines.iter().filter(|l| l.starts_with("- http_client:")).count();
    let tagged =
        lines.iter().filter(|l| l.starts_with("- mapping: 'meta service_address = ")).count();
    assert_eq!((inputs, tagged), (2, 2));
    assert_eq!(keys[0], "key: '${! @service_address }'");
}

/// A state line is a few hundred bytes; a hostile one of a megabyte (a value that is no integer,
/// a pair that is no name=value, no num_gc at all) is named in `expvar_heap_error` capped, as
/// the module ships: the sentence's head and tail around the whole length, still saying what is
/// wrong and what the module does; the message is handled as a first body.
#[test]
fn redpanda_module_caps_the_hostile_state_it_repeats_in_its_error() {
    let mut harness = RedpandaProcessor::load(&module(REDPANDA_MODULE_FILE)).unwrap();
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    let body =
        sequences().into_iter().find(|(f, _)| f.ends_with("go1.27/alloc")).unwrap().1[1].clone();
    let mut first = expvar_heap::Collector::default();
    let expected = first.push(&body, BLESS_TIME).remove(0).json;
    let huge = |unit: &str| unit.repeat((1 << 20) / unit.len());
    for (state, ends) in [
        (format!("num_gc={}", huge("9")), "99\" is not an unsigned integer"),
        (format!("ab{}", huge("€")), "€€\" is not name=value"),
        (huge("last_gc=1 "), "last_gc=1\""),
    ] {
        let out = harness.process(message(body.clone(), &state, ns)).unwrap();
        assert_eq!(out.error, None);
        let why = &out.meta[ERROR_META];
        assert!(why.len() < 512, "{} bytes: {why}", why.len());
        assert!(why.starts_with("metadata expvar_heap_state: collector state: "), "{why}");
        assert!(why.contains(" bytes in all) ..."), "{why}");
        assert!(why.ends_with(&format!("{ends}; the window starts as for a first body")), "{why}");
        assert_eq!(state_of(&out), first.state().unwrap().to_string());
        assert_eq!(String::from_utf8(out.content).unwrap(), expected);
    }
    assert_eq!(harness.breaches(), []);
}

/// The processor gives modules wazero's fake clock (2022-01-01, 1 ms more a read): without the
/// metadata time, the event carries that time, and the module says in metadata what to set.
#[test]
fn redpanda_module_says_when_its_only_clock_is_the_fake_one() {
    let mut harness = RedpandaProcessor::load(&module(REDPANDA_MODULE_FILE)).unwrap();
    let body = std::fs::read(fixtures::root_fixture("go1.27/idle/01.json")).unwrap();
    let out = harness.process(Message::new(body.clone())).unwrap();
    let event: serde_json::Value = serde_json::from_slice(&out.content).unwrap();
    assert_eq!(event["@timestamp"], "2022-01-01T00:00:00.000Z");
    assert_eq!(WAZERO_FAKE_EPOCH_NS, 1_640_995_200_000_000_000);
    let why = &out.meta[ERROR_META];
    assert!(why.starts_with("metadata expvar_collected_at is not set"), "{why}");
    // With the time in metadata, no clock is read and nothing is said.
    let ns = BLESS_TIME.seconds * 1_000_000_000;
    let out = harness.process(message(body, "", ns)).unwrap();
    assert!(!out.meta.contains_key(ERROR_META), "{:?}", out.meta);
    let event: serde_json::Value = serde_json::from_slice(&out.content).unwrap();
    assert_eq!(event["@timestamp"], "2026-01-01T00:00:00.000Z");
}

/// A trap ends the processor's run of the batch, and the batch goes on with every message
/// flagged with the trap (benthos' `v2BatchedToV1Processor.ProcessBatch`), each as the module left
/// it; the instance goes back to the pool all the same (`ProcessBatch`'s deferred Put): the next
/// batch may run on it.
#[test]
fn redpanda_pool_keeps_an_instance_that_trapped() {
    // Sets its message's content to "x" (from a block of its heap), then traps on the second.
    let wat = r#"(module
        (import "benthos_wasm" "v0_msg_set_bytes" (func $set (param i32 i32)))
        (memory (export "memory") 1)
        (global $calls (mut i32) (i32.const 0))
        (data (i32.const 2048) "x")
        (func (export "allocate") (param i32) (result i32) (i32.const 1024))
        (func (export "deallocate") (param i32 i32))
        (func (export "process")
            (call $set (i32.const 2048) (i32.const 1))
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            (if (i32.eq (global.get $calls) (i32.const 2)) (then unreachable))))"#;
    let dir = std::env::temp_dir().join(format!("expvar-heap-trap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trap.wasm");
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    let mut pool = RedpandaPool::load(&path, 1, 0).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let batch: Vec<Message> =
        ["{}", "{}", "{\"c\":3}"].iter().map(|c| Message::new(c.as_bytes().to_vec())).collect();
    let out = pool.process_batch(batch.clone()).unwrap();
    let contents: Vec<&[u8]> = out.iter().map(|m| &m.content[..]).collect();
    assert_eq!(contents, [&b"x"[..], b"x", b"{\"c\":3}"], "as the module left each");
    for message in &out {
        let error = message.error.as_deref().unwrap_or_default();
        assert!(error.contains("unreachable"), "{error}");
    }
    // The next batch runs on the same instance (which traps no more: its count is past 2).
    let out = pool.process_batch(batch).unwrap();
    assert!(out.iter().all(|m| m.error.is_none() && m.content == b"x"), "{out:?}");
    assert_eq!(pool.instances_made(), 1, "the instance that trapped was put back and reused");
}
