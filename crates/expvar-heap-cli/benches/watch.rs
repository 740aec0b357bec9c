//! `watch` under load: 200 targets served by a loopback server of real fixture bodies, scraped
//! every second for a minute, first by `expvar-heap scrape` alone, then by `expvar-heap watch`
//! with three readers of its page's event stream (each as a browser's EventSource reads it).
//! Prints the ticks skipped, CPU per scrape of each, RSS at the start and end, and the bytes per
//! second each reader received. `cargo bench -p expvar-heap-cli --bench watch` (after `cargo
//! xtask build`); `EXPVAR_HEAP_BENCH_TARGETS`, `EXPVAR_HEAP_BENCH_SECONDS`,
//! `EXPVAR_HEAP_BENCH_READERS` change the size.

mod common;

use common::{Fleet, env_or, run};

fn main() {
    let targets = env_or("EXPVAR_HEAP_BENCH_TARGETS", 200);
    let seconds = env_or("EXPVAR_HEAP_BENCH_SECONDS", 60);
    let readers = env_or("EXPVAR_HEAP_BENCH_READERS", 3) as usize;
    let fleet = Fleet::new(targets);
    println!(
        "{targets} targets, period 1s, {seconds} s, real bodies of mean {} B on 127.0.0.1",
        fleet.mean_body
    );
    let list = fleet.list.to_str().unwrap();
    let count = seconds.to_string();
    let scrapes = (targets * seconds) as f64;
    let common = ["--period", "1s", "--count", &count, "--targets", list];
    let alone = run(&[&["scrape"][..], &common].concat(), &fleet.dir.join("scrape.ndjson"), 0);
    let watched = run(
        &[&["watch", "--listen", "127.0.0.1:0"][..], &common].concat(),
        &fleet.dir.join("watch.ndjson"),
        readers,
    );
    for (name, measured) in
        [("scrape", &alone), (&format!("watch, {readers} pages") as &str, &watched)]
    {
        println!("{name}: {}", measured.summary);
        println!(
            "  ticks skipped {}; CPU {:.1} s, {:.0} us per scrape; RSS (KiB) at 5 s {}, at the end {}, peak {}",
            measured.skipped(),
            measured.cpu,
            measured.cpu * 1e6 / scrapes,
            measured.rss_kib.first().copied().unwrap_or(0),
            measured.rss_kib.last().copied().unwrap_or(0),
            measured.peak_rss_kib
        );
    }
    let seconds = watched.elapsed.as_secs_f64();
    println!(
        "event stream, bytes per second per page: {}",
        watched
            .streamed
            .iter()
            .map(|b| format!("{:.0}", *b as f64 / seconds))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
