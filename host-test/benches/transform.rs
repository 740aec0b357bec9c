//! Native library against the component in wasmtime, per body, on every real Go fixture
//! (`cargo bench -p expvar-heap-host-test`; build the component first with `cargo xtask build`).
//!
//! Besides criterion's timings it prints the component's linear memory after one call and after a
//! million calls on one instance (set `EXPVAR_HEAP_BENCH_CALLS` to change the count).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use expvar_heap::{Datasets, Options};
use expvar_heap_test_support::built_component_path;
use expvar_heap_test_support::fixtures::{self, BLESS_TIME};
use expvar_heap_wasmtime::{Limits, Processor};

/// The real bodies of ordinary size (the `custom` fixtures are 75 KB, benchmarked apart).
fn bodies(custom: bool) -> Vec<Vec<u8>> {
    fixtures::cases()
        .unwrap()
        .into_iter()
        .filter(|c| c.name().starts_with("go") && c.name().contains("/custom/") == custom)
        .map(|c| std::fs::read(&c.input).unwrap())
        .collect()
}

fn processor() -> Processor {
    let path = built_component_path();
    Processor::load(&path, Limits::default()).expect("run `cargo xtask build` first")
}

fn per_body(c: &mut Criterion) {
    for (label, custom, options) in [
        ("heap", false, Options::default()),
        ("heap+expvar", false, Options { datasets: Datasets::ALL, ..Options::default() }),
        (
            "heap+expvar/75KB custom",
            true,
            Options { datasets: Datasets::ALL, ..Options::default() },
        ),
    ] {
        let bodies = bodies(custom);
        let valid = options.clone().validate().unwrap();
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        let mut group = c.benchmark_group(format!(
            "{label} ({} bodies, mean {} B)",
            bodies.len(),
            bytes / bodies.len()
        ));
        group.throughput(Throughput::Elements(bodies.len() as u64));
        group.bench_function("native", |b| {
            b.iter(|| {
                for body in &bodies {
                    std::hint::black_box(expvar_heap::transform(body, BLESS_TIME, &valid));
                }
            })
        });
        let processor = processor();
        group.bench_function("component", |b| {
            b.iter(|| {
                for body in &bodies {
                    std::hint::black_box(processor.transform(body, BLESS_TIME, &options).unwrap());
                }
            })
        });
        group.finish();
    }
}

fn memory() {
    let calls: usize = std::env::var("EXPVAR_HEAP_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let bodies = bodies(false);
    let largest = bodies.iter().max_by_key(|b| b.len()).unwrap();
    let processor = processor();
    let options = Options { datasets: Datasets::ALL, ..Options::default() };
    processor.transform(largest, BLESS_TIME, &options).unwrap();
    let first = processor.linear_memory_bytes();
    for i in 0..calls {
        processor.transform(&bodies[i % bodies.len()], BLESS_TIME, &options).unwrap();
    }
    println!(
        "component linear memory: {first} bytes after one call on a {} B body, {} bytes after {calls} more calls",
        largest.len(),
        processor.linear_memory_bytes()
    );
}

fn benches(c: &mut Criterion) {
    per_body(c);
    memory();
}

criterion_group!(transform, benches);
criterion_main!(transform);
