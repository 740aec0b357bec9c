//! Per real Go body: what the transform costs natively, in the component (wasmtime, deadline on),
//! and in the pipeline modules, against serde_json's validate-and-skip floor. Run it with
//! `cargo xtask bench` (which builds the WebAssembly first).
//!
//! For each real Go fixture body, and each body of Elastic's pipeline tests (written with spaces),
//! it prints:
//! - µs per body: native, serde_json skipping the body (`IgnoredAny`, the floor), the component
//!   as shipped (JIT, deadline on) and the Fluent Bit module in wasmi (an interpreter, as Fluent
//!   Bit's default WAMR build runs it);
//! - WebAssembly instructions per byte (wasmtime's fuel: deterministic) for the component's
//!   `transform`, the Fluent Bit filter (one tag per fixture folder, so pause windows run) and the
//!   Redpanda Connect processor.
//!
//! Timings are the lowest of five means over repeated runs, `EXPVAR_HEAP_BENCH_MS` milliseconds
//! per cell in all (default 50). Each instance's first call sets up what later calls share (the
//! field layouts, a tag's collector): it is counted apart, before the table.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use expvar_heap::{CollectionTime, Options};
use expvar_heap_host_test::pipelines::{
    FluentBitFilter, Message, RedpandaProcessor, counting_engine, fluent_bit_conf,
};
use expvar_heap_redpanda::COLLECTED_AT_META;
use expvar_heap_test_support::conformance::conformance_dir;
use expvar_heap_test_support::fixtures::{self, BLESS_TIME};
use expvar_heap_test_support::{
    FLUENT_BIT_MODULE_FILE, REDPANDA_MODULE_FILE, built_component_path, built_module_path,
};
use expvar_heap_wasmtime::{Limits, Processor};

/// The collection time a pipeline's mapping gives each Redpanda message, in ns.
const CLOCK_NS: u64 = 1_675_246_668_723_000_000;

/// A body and the tag (its fixture folder) it is filtered under.
struct Body {
    name: String,
    tag: String,
    bytes: Vec<u8>,
}

/// Every real Go fixture body, then the bodies of Elastic's pipeline tests (real Go bodies
/// written again with a space after each `:` and `,`).
fn bodies() -> Vec<Body> {
    let cases = fixtures::cases().unwrap();
    let real = cases.into_iter().filter(|case| case.name().starts_with("go"));
    let mut bodies: Vec<Body> = real
        .map(|case| Body {
            name: case.name(),
            tag: case.input.parent().unwrap().display().to_string(),
            bytes: std::fs::read(&case.input).unwrap(),
        })
        .collect();
    for (name, log) in [
        ("elastic/heap", "test-heap-metrics.log"),
        ("elastic/expvar", "expvar/test-expvar-metrics.log"),
    ] {
        let text = std::fs::read(conformance_dir().join(log)).unwrap();
        let lines = text.split(|&b| b == b'\n').filter(|line| !line.is_empty());
        for (i, line) in lines.enumerate() {
            let name = format!("{name}/{i:02}");
            bodies.push(Body { name, tag: "elastic".to_owned(), bytes: line.to_vec() });
        }
    }
    bodies
}

/// Time of one run of `f`: the lowest of five means over runs lasting a fifth of `budget` each,
/// so that a burst of other work on the machine does not count.
fn mean_us(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < budget / 5 || runs < 3 {
            f();
            runs += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(runs));
    }
    best
}

/// The Fluent Bit module in wasmi, called as Fluent Bit calls it (tag and record copied into the
/// app heap, NUL-terminated).
struct InterpretedFilter {
    store: wasmi::Store<()>,
    memory: wasmi::Memory,
    filter: wasmi::TypedFunc<(u32, u32, u32, u32, u32, u32), u32>,
    heap_start: usize,
}

impl InterpretedFilter {
    fn load(path: &Path, function: &str, heap_size: usize) -> InterpretedFilter {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, std::fs::read(path).unwrap()).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let linker = wasmi::Linker::<()>::new(&engine);
        let instance = linker.instantiate_and_start(&mut store, &module).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        let pages = heap_size.div_ceil(64 << 10) as u64;
        let heap_start = memory.grow(&mut store, pages).unwrap() as usize * (64 << 10);
        let filter = instance.get_typed_func(&store, function).unwrap();
        InterpretedFilter { store, memory, filter, heap_start }
    }

    fn call(&mut self, tag: &str, time: CollectionTime, record: &[u8]) -> u32 {
        let data = self.memory.data_mut(&mut self.store);
        let tag_at = self.heap_start;
        data[tag_at..tag_at + tag.len()].copy_from_slice(tag.as_bytes());
        data[tag_at + tag.len()] = 0;
        let record_at = tag_at + tag.len() + 1;
        data[record_at..record_at + record.len()].copy_from_slice(record);
        data[record_at + record.len()] = 0;
        let args = (
            tag_at as u32,
            tag.len() as u32,
            time.seconds as u32,
            time.nanoseconds,
            record_at as u32,
            record.len() as u32,
        );
        self.filter.call(&mut self.store, args).unwrap()
    }
}

fn per_byte(instructions: u64, bytes: usize) -> f64 {
    instructions as f64 / bytes.max(1) as f64
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("EXPVAR_HEAP_BENCH_MS").ok().and_then(|ms| ms.parse().ok()).unwrap_or(50),
    );
    let component_path = built_component_path();
    let fluent_bit_path = built_module_path(FLUENT_BIT_MODULE_FILE);
    let redpanda_path = built_module_path(REDPANDA_MODULE_FILE);
    for path in [&component_path, &fluent_bit_path, &redpanda_path] {
        assert!(path.is_file(), "{} is missing: run `cargo xtask bench`", path.display());
    }

    let options = Options::default();
    let valid = options.clone().validate().unwrap();
    let shipped = Processor::load(&component_path, Limits::default()).unwrap();
    let counting_limits = Limits { max_instructions: Some(u64::MAX / 2), ..Limits::default() };
    let counting = Processor::load(&component_path, counting_limits).unwrap();
    let engine = counting_engine();
    let (function, heap_size) = fluent_bit_conf();
    let mut fluent_bit =
        FluentBitFilter::load_in(&engine, &fluent_bit_path, &function, heap_size).unwrap();
    let mut redpanda = RedpandaProcessor::load_in(&engine, &redpanda_path).unwrap();
    let mut interpreted = InterpretedFilter::load(&fluent_bit_path, &function, heap_size);

    // The first call of each instance, on an empty record.
    counting.transform(b"{}", BLESS_TIME, &options).unwrap();
    let component_first = counting.last_call_instructions().unwrap();
    let seconds = BLESS_TIME.seconds as u32;
    fluent_bit.call("first", seconds, BLESS_TIME.nanoseconds, b"{}").unwrap();
    let fluent_bit_first = fluent_bit.last_call_instructions().unwrap();
    let message = Message::new(b"{}".to_vec()).with_meta(COLLECTED_AT_META, CLOCK_NS);
    redpanda.process(message).unwrap();
    let redpanda_first = redpanda.last_call_instructions().unwrap();
    println!(
        "first call of an instance (one-time setup included), instructions: component \
         {component_first}, Fluent Bit {fluent_bit_first}, Redpanda {redpanda_first}\n"
    );
    interpreted.call("first", BLESS_TIME, b"{}");

    println!(
        "{:<24} {:>6} | {:>8} {:>8} {:>9} {:>6} {:>9} | {:>8} {:>8} {:>8}",
        "body",
        "bytes",
        "native",
        "serde",
        "component",
        "x nat",
        "wasmi FB",
        "comp",
        "FB",
        "Redpanda"
    );
    println!("{:<31} | {:^45} | {:^26}", "", "µs per body", "instructions per byte");
    let mut worst = [0f64; 3];
    let mut ratios = Vec::new();
    let bodies = bodies();
    for body in &bodies {
        let bytes = &body.bytes;
        let native = mean_us(budget, || {
            black_box(expvar_heap::transform(black_box(bytes), BLESS_TIME, &valid));
        });
        let serde = mean_us(budget, || {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(bytes)).ok());
        });
        let component = mean_us(budget, || {
            black_box(shipped.transform(black_box(bytes), BLESS_TIME, &options).unwrap());
        });
        let mut interpreted_tag = 0u32;
        let wasmi_us = mean_us(budget, || {
            // A tag per call would fill the module's table of tags: cycle through a few.
            interpreted_tag = (interpreted_tag + 1) % 8;
            black_box(interpreted.call(&format!("t{interpreted_tag}"), BLESS_TIME, bytes));
        });

        counting.transform(bytes, BLESS_TIME, &options).unwrap();
        let component_count = counting.last_call_instructions().unwrap();
        let seconds = BLESS_TIME.seconds as u32;
        fluent_bit.call(&body.tag, seconds, BLESS_TIME.nanoseconds, bytes).unwrap();
        let fluent_bit_count = fluent_bit.last_call_instructions().unwrap();
        let message = Message::new(bytes.clone()).with_meta(COLLECTED_AT_META, CLOCK_NS);
        redpanda.process(message).unwrap();
        let redpanda_count = redpanda.last_call_instructions().unwrap();

        let counts = [component_count, fluent_bit_count, redpanda_count];
        let figures = counts.map(|count| per_byte(count, bytes.len()));
        for (worst, figure) in worst.iter_mut().zip(figures) {
            *worst = worst.max(figure);
        }
        ratios.push(component / native);
        println!(
            "{:<24} {:>6} | {:>8.1} {:>8.1} {:>9.1} {:>6.2} {:>9.1} | {:>8.2} {:>8.2} {:>8.2}",
            body.name,
            bytes.len(),
            native,
            serde,
            component,
            component / native,
            wasmi_us,
            figures[0],
            figures[1],
            figures[2],
        );
    }
    println!(
        "worst instructions per byte: component {:.2}, Fluent Bit {:.2}, Redpanda {:.2}",
        worst[0], worst[1], worst[2]
    );
    ratios.sort_by(f64::total_cmp);
    println!(
        "component / native: median {:.2}, worst {:.2}",
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1]
    );

    // Each measured on its second call, as every record after the first of a tag (the first
    // sets up the tag's collector).
    for (label, record) in [("empty record {}", &b"{}"[..]), ("empty body", &b""[..])] {
        counting.transform(record, BLESS_TIME, &options).unwrap();
        fluent_bit.call("empty", BLESS_TIME.seconds as u32, 0, record).unwrap();
        counting.transform(record, BLESS_TIME, &options).unwrap();
        let component_count = counting.last_call_instructions().unwrap();
        let seconds = BLESS_TIME.seconds as u32;
        fluent_bit.call("empty", seconds, BLESS_TIME.nanoseconds, record).unwrap();
        let fluent_bit_count = fluent_bit.last_call_instructions().unwrap();
        let message = Message::new(record.to_vec()).with_meta(COLLECTED_AT_META, CLOCK_NS);
        redpanda.process(message).unwrap();
        let redpanda_count = redpanda.last_call_instructions().unwrap();
        println!(
            "{label}: instructions: component {component_count}, Fluent Bit {fluent_bit_count}, Redpanda {redpanda_count}"
        );
    }

    for path in [&component_path, &fluent_bit_path, &redpanda_path] {
        let size = std::fs::metadata(path).unwrap().len();
        println!("size: {} {size} B", path.file_name().unwrap().to_string_lossy());
    }
}
