//! The scrape agent at scale: 1,000 targets served by a loopback server that answers with real
//! fixture bodies, scraped every second for a minute by the release `expvar-heap scrape`. Prints
//! CPU per scrape, peak and sampled RSS, skipped ticks, and how the scrape start times spread over
//! the period. `cargo bench -p expvar-heap-cli --bench scrape` (after `cargo xtask build`);
//! `EXPVAR_HEAP_BENCH_TARGETS`, `EXPVAR_HEAP_BENCH_SECONDS` change the size.

mod common;

use common::{Fleet, env_or, run};

fn main() {
    let targets = env_or("EXPVAR_HEAP_BENCH_TARGETS", 1_000);
    let seconds = env_or("EXPVAR_HEAP_BENCH_SECONDS", 60);
    let fleet = Fleet::new(targets);
    let events = fleet.dir.join("events.ndjson");
    println!(
        "scrape: {targets} targets, period 1s, {seconds} s, real bodies of mean {} B on 127.0.0.1",
        fleet.mean_body
    );
    let list = fleet.list.to_str().unwrap();
    let count = seconds.to_string();
    let measured =
        run(&["scrape", "--period", "1s", "--count", &count, "--targets", list], &events, 0);
    let scrapes = targets * seconds;
    println!("summary: {}", measured.summary);
    assert!(measured.streamed.is_empty(), "scrape serves no page");
    println!("ticks skipped: {}", measured.skipped());
    println!(
        "CPU: {:.1} s over {:.0} s ({:.0}% of one core), {:.0} us per scrape (fetch, transform in the component, write)",
        measured.cpu,
        measured.elapsed.as_secs_f64(),
        100.0 * measured.cpu / measured.elapsed.as_secs_f64(),
        measured.cpu * 1e6 / scrapes as f64
    );
    println!(
        "memory: peak RSS {} KiB; RSS every 5 s (KiB): {}",
        measured.peak_rss_kib,
        measured.rss_kib.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
    );
    // Where inside the second each scrape started, in tenths of the period.
    let text = std::fs::read_to_string(&events).unwrap();
    let mut tenths = [0u64; 10];
    let mut lines = 0;
    for line in text.lines() {
        let at = line.split("\"@timestamp\":\"").nth(1).unwrap();
        let millis: u64 = at[20..23].parse().unwrap();
        tenths[(millis / 100) as usize] += 1;
        lines += 1;
    }
    println!("events: {lines}; scrape starts per tenth of the period: {tenths:?}");
}
