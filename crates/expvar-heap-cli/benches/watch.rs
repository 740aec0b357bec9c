//! `watch` under load: 200 targets served by a loopback server of real fixture bodies, scraped
//! every second for a minute, first by `expvar-heap scrape` alone, then by `expvar-heap watch`
//! with three readers of its page's event stream (each as a browser's EventSource reads it).
//! Prints the ticks skipped, CPU per scrape of each, RSS at the start and end, and the bytes per
//! second each reader received. `cargo bench -p expvar-heap-cli --bench watch` (after `cargo
//! xtask build`); `EXPVAR_HEAP_BENCH_TARGETS`, `EXPVAR_HEAP_BENCH_SECONDS`,
//! `EXPVAR_HEAP_BENCH_READERS` change the size, and `EXPVAR_HEAP_BENCH_HISTORY` watch's
//! `--history` (default 30s: the kept history fills half-way through a minute's run, so the RSS
//! of the second half shows whether memory then stays flat).

mod common;

use common::{Fleet, env_or, run};

fn main() {
    let targets = env_or("EXPVAR_HEAP_BENCH_TARGETS", 200);
    let seconds = env_or("EXPVAR_HEAP_BENCH_SECONDS", 60);
    let readers = env_or("EXPVAR_HEAP_BENCH_READERS", 3) as usize;
    let history = std::env::var("EXPVAR_HEAP_BENCH_HISTORY").unwrap_or_else(|_| "30s".to_owned());
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
        &[&["watch", "--listen", "127.0.0.1:0", "--history", &history][..], &common].concat(),
        &fleet.dir.join("watch.ndjson"),
        readers,
    );
    let name = format!("watch --history {history}, {readers} pages");
    for (name, measured) in [("scrape", &alone), (&name as &str, &watched)] {
        println!("{name}: {}", measured.summary);
        println!(
            "  ticks skipped {}; CPU {:.1} s, {:.0} us per scrape; RSS every 5 s (KiB): {}; peak {}",
            measured.skipped(),
            measured.cpu,
            measured.cpu * 1e6 / scrapes,
            measured.rss_kib.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
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
