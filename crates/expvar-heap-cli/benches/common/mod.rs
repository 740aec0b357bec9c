//! What the `scrape` and `watch` benchmarks share: a loopback server of real bodies, a targets
//! file of N targets on it, and a run of the release tool measured from /proc (CPU, RSS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use expvar_heap_test_support::fixtures;

pub fn env_or(name: &str, default: u64) -> u64 {
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

/// A loopback server of real Go bodies (every real fixture but the custom-variable ones) and a
/// targets file naming `targets` targets on it, in a fresh folder.
pub struct Fleet {
    pub dir: PathBuf,
    pub list: PathBuf,
    pub mean_body: usize,
}

impl Fleet {
    pub fn new(targets: u64) -> Fleet {
        let bodies: Vec<Vec<u8>> = fixtures::cases()
            .unwrap()
            .into_iter()
            .filter(|c| c.name().starts_with("go") && !c.name().contains("/custom/"))
            .map(|c| std::fs::read(&c.input).unwrap())
            .collect();
        let mean_body = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
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
            toml.push_str(&format!(
                "[[targets]]\nurl = \"http://{address}/service/{i}/debug/vars\"\n"
            ));
        }
        std::fs::write(&list, toml).unwrap();
        Fleet { dir, list, mean_body }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one run of the tool measured.
pub struct Run {
    pub elapsed: Duration,
    /// Its summary line on stderr.
    pub summary: String,
    /// CPU seconds (user and system).
    pub cpu: f64,
    pub peak_rss_kib: u64,
    /// RSS every 5 s, in KiB.
    pub rss_kib: Vec<u64>,
    /// Bytes each event-stream reader received (`watch` only).
    pub streamed: Vec<u64>,
}

impl Run {
    /// Ticks the summary says were skipped.
    pub fn skipped(&self) -> u64 {
        let before = self.summary.split(" ticks skipped").next().unwrap_or("");
        before.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
    }
}

/// Runs `expvar-heap ARGS` to its end (`--count` in ARGS), with `readers` readers of the event
/// stream of `watch` (each a connection to its page's /events, read as a browser would).
pub fn run(args: &[&str], events: &Path, readers: usize) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .args(args)
        .arg("--output")
        .arg(events)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut summary = String::new();
    let counters: Vec<Arc<AtomicU64>> = (0..readers).map(|_| Arc::new(AtomicU64::new(0))).collect();
    if readers > 0 {
        let mut line = String::new();
        while !line.contains("the page is at http://") {
            line.clear();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("watch printed no address");
            }
        }
        let address = line.split("http://").nth(1).unwrap().split('/').next().unwrap().to_owned();
        for counter in &counters {
            let (address, counter) = (address.clone(), counter.clone());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&address).unwrap();
                let head = format!(
                    "GET /events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
                );
                stream.write_all(head.as_bytes()).unwrap();
                let mut buffer = vec![0; 1 << 16];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    }
    let summary_reader = std::thread::spawn(move || {
        let _ = stderr.read_to_string(&mut summary);
        summary
    });
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
    child.wait().unwrap();
    let elapsed = started.elapsed();
    let summary = summary_reader.join().unwrap();
    let summary = summary.lines().last().unwrap_or("").to_owned();
    let (ticks, peak_rss_kib) = last.expect("read the process's counters");
    let clock_ticks = 100.0; // USER_HZ on Linux
    Run {
        elapsed,
        summary,
        cpu: ticks as f64 / clock_ticks,
        peak_rss_kib,
        rss_kib: samples,
        streamed: counters.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
    }
}
