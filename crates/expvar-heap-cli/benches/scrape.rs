//! The scrape agent at scale: 1,000 targets served by a loopback server that answers with real
//! fixture bodies, scraped every second for a minute by the release `expvar-heap scrape`. Prints
//! CPU per scrape, peak and sampled RSS, skipped ticks, and how the scrape start times spread over
//! the period. `cargo bench -p expvar-heap-cli --bench scrape` (after `cargo xtask build`);
//! `EXPVAR_HEAP_BENCH_TARGETS`, `EXPVAR_HEAP_BENCH_SECONDS` change the size.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use expvar_heap_test_support::fixtures;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Answers every request on a keep-alive connection with the next real body.
fn serve(mut stream: TcpStream, bodies: Arc<Vec<Vec<u8>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut served = 0usize;
    loop {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let body = &bodies[served % bodies.len()];
        served += 1;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).is_err() {
            return;
        }
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a process, in clock ticks, and its peak RSS in KiB.
fn cpu_ticks_and_peak(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?;
    Some((ticks, peak.parse().ok()?))
}

fn main() {
    let targets = env_or("EXPVAR_HEAP_BENCH_TARGETS", 1_000);
    let seconds = env_or("EXPVAR_HEAP_BENCH_SECONDS", 60);
    let bodies: Vec<Vec<u8>> = fixtures::cases()
        .unwrap()
        .into_iter()
        .filter(|c| c.name().starts_with("go") && !c.name().contains("/custom/"))
        .map(|c| std::fs::read(&c.input).unwrap())
        .collect();
    let mean = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
    let bodies = Arc::new(bodies);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let bodies = bodies.clone();
            std::thread::spawn(move || serve(stream, bodies));
        }
    });
    let dir = std::env::temp_dir().join(format!("expvar-heap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("targets.toml");
    let mut toml = String::new();
    for i in 0..targets {
        toml.push_str(&format!("[[targets]]\nurl = \"http://{address}/service/{i}/debug/vars\"\n"));
    }
    std::fs::write(&list, toml).unwrap();
    let events = dir.join("events.ndjson");

    println!(
        "scrape: {targets} targets, period 1s, {seconds} s, real bodies of mean {mean} B on 127.0.0.1"
    );
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .args(["scrape", "--period", "1s", "--count", &seconds.to_string(), "--targets"])
        .arg(&list)
        .arg("--output")
        .arg(&events)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut samples = Vec::new();
    let mut last = None;
    for second in 1.. {
        std::thread::sleep(Duration::from_secs(1));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        // The counters of a live process: read every second, so the last is at most 1 s old.
        if let Some(reading) = cpu_ticks_and_peak(pid) {
            last = Some(reading);
        }
        if second % 5 == 0 {
            samples.extend(rss_kib(pid));
        }
    }
    let output = child.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let summary = String::from_utf8_lossy(&output.stderr);
    let (ticks, peak) = last.expect("read the process's counters");
    let clock_ticks = 100.0; // USER_HZ on Linux
    let scrapes = targets * seconds;
    let cpu = ticks as f64 / clock_ticks;
    println!("summary: {}", summary.trim());
    println!(
        "CPU: {cpu:.1} s over {:.0} s ({:.0}% of one core), {:.0} us per scrape (fetch, transform in the component, write)",
        elapsed.as_secs_f64(),
        100.0 * cpu / elapsed.as_secs_f64(),
        cpu * 1e6 / scrapes as f64
    );
    println!(
        "memory: peak RSS {peak} KiB; RSS every 5 s (KiB): {}",
        samples.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
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
    let _ = std::fs::remove_dir_all(&dir);
}
