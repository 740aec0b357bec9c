//! `expvar-heap scrape` against real Go services (Debian's Go 1.19 builds
//! `host-test/go/expvar-service`) and against a loopback server that misbehaves on purpose. All
//! traffic stays on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use expvar_heap_test_support::{root, target_dir};
use serde_json::Value;

/// How long a test waits for something that should come (an event, a line, a request, the end of
/// a run) before it fails: long enough to matter only when something is truly broken, on any
/// machine however loaded.
const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The Go service

/// Debian's Go 1.19 (`golang-1.19-go`, which `.ci/run` installs), or `EXPVAR_HEAP_GO`.
fn go() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("EXPVAR_HEAP_GO").map(PathBuf::from),
        Some("/usr/lib/go-1.19/bin/go".into()),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// The built service, or `None` (a failure under CI=true) when Go is missing.
fn service_binary() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let Some(go) = go() else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "Go is missing: install Debian's golang-1.19-go (.ci/run does) or set EXPVAR_HEAP_GO"
                );
                eprintln!("skipped: no Go (install golang-1.19-go); CI fails here instead");
                return None;
            };
            let work = target_dir().join("go");
            let binary = work.join("expvar-service");
            let status = Command::new(go)
                .args(["build", "-o"])
                .arg(&binary)
                .arg(".")
                .current_dir(root().join("host-test/go/expvar-service"))
                .env("GOCACHE", work.join("cache"))
                .env("GOPATH", work.join("path"))
                .env("GOTOOLCHAIN", "local")
                .env("GOFLAGS", "-mod=mod")
                .status()
                .expect("go build runs");
            assert!(status.success(), "go build failed");
            Some(binary)
        })
        .as_deref()
}

/// A running Go service, killed when dropped.
struct Service {
    child: Child,
    address: String,
}

impl Service {
    fn start(args: &[&str]) -> Option<Service> {
        Service::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Option<Service> {
        let mut child = Command::new(service_binary()?)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the service did not start");
        Some(Service { child, address: line.trim().to_owned() })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address of this call alone, port 0, for a service that is stopped and started
/// again on the same port: all of 127.0.0.0/8 is loopback, and every other socket of the tests
/// (the tool's own connections included) has 127.0.0.1 as its address, so no other socket can take
/// the port between the stop and the start.
fn private_loopback() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    format!("127.{}.{}.{}:0", 100 + n % 100, (pid >> 8) & 0xff, pid & 0xff)
}

// ---------------------------------------------------------------------------------------------
// Running the tool

fn expvar_heap() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_expvar-heap"));
    command.env_remove("EXPVAR_HEAP_PASSWORD");
    command
}

/// `expvar-heap scrape ARGS`, started, its output and errors piped.
fn spawn_scrape(args: &[&str]) -> Child {
    expvar_heap()
        .arg("scrape")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Everything a pipe gives until its end, read on a thread.
fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = pipe.read_to_end(&mut all);
        all
    })
}

/// Waits for a child to end, killing it (and failing) if it runs past [`WAIT`].
fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run did not end within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a scrape to its end (bounded by --count), killed (a failure) if it runs past [`WAIT`].
fn scrape(args: &[&str]) -> Output {
    let mut child = spawn_scrape(args);
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child);
    Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// The lines of a child's pipe, read on a thread (the child never waits for a full pipe), each
/// with its newline when it has one.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn read(pipe: impl Read + Send + 'static) -> Lines {
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            loop {
                let mut line = String::new();
                match pipe.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if send.send(line).is_err() => return,
                    Ok(_) => {}
                }
            }
        });
        Lines(lines)
    }

    /// The next line, or `None` at the end; fails when none comes within [`WAIT`].
    fn next(&self) -> Option<String> {
        match self.0.recv_timeout(WAIT) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no line within {WAIT:?}"),
        }
    }
}

/// A scrape running in the background: its events read as they come, its stderr kept.
struct LiveScrape {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    /// The lines of stderr read so far.
    errors: String,
}

impl LiveScrape {
    fn start(args: &[&str]) -> LiveScrape {
        let mut child = spawn_scrape(args);
        let stdout = Lines::read(child.stdout.take().unwrap());
        let stderr = Lines::read(child.stderr.take().unwrap());
        LiveScrape { child, stdout, stderr, errors: String::new() }
    }

    /// The next event, waiting for it (at most [`WAIT`]).
    fn next(&mut self) -> Value {
        let Some(line) = self.stdout.next() else {
            let rest = self.stderr_to_end();
            panic!("the run ended before the next event: {rest}");
        };
        assert!(line.ends_with('\n'), "an event cut short: {line}");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends a signal (`-TERM`, `-INT`, `-HUP`) to the tool.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    /// Reads stderr until a line that contains `text`, and returns that line.
    fn stderr_until(&mut self, text: &str) -> String {
        loop {
            let Some(line) = self.stderr.next() else {
                panic!("the run ended without saying {text:?}: {}", self.errors);
            };
            self.errors.push_str(&line);
            if line.contains(text) {
                return line;
            }
        }
    }

    /// All of stderr, up to the end of the run.
    fn stderr_to_end(&mut self) -> String {
        while let Some(line) = self.stderr.next() {
            self.errors.push_str(&line);
        }
        self.errors.clone()
    }

    /// Waits for the run to end: its status, the lines it wrote after the last one read (each
    /// with its newline, if it had one), and all of its stderr.
    fn finish(&mut self) -> (ExitStatus, Vec<String>, String) {
        let rest: Vec<String> = std::iter::from_fn(|| self.stdout.next()).collect();
        let errors = self.stderr_to_end();
        (wait_bounded(&mut self.child), rest, errors)
    }

    /// Ends the run as SIGTERM does (the scrapes in flight are written): its status, the events
    /// it wrote after the last one read, and all of its stderr.
    fn stop(&mut self) -> (ExitStatus, Vec<Value>, String) {
        self.signal("-TERM");
        let (status, rest, errors) = self.finish();
        let events = rest
            .iter()
            .map(|line| {
                assert!(line.ends_with('\n'), "an event cut short: {line}");
                serde_json::from_str(line).unwrap()
            })
            .collect();
        (status, events, errors)
    }
}

impl Drop for LiveScrape {
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|status| status.is_none()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn events(output: &Output) -> Vec<Value> {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "output ends mid-line");
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn message(event: &Value) -> Option<&str> {
    event["error"]["message"].as_str()
}

/// The memstats of the body an event kept in `event.original`.
fn memstats(event: &Value) -> Value {
    let original = event["event"]["original"].as_str().expect("event.original");
    serde_json::from_str::<Value>(original).unwrap()["memstats"].clone()
}

fn figure(value: &Value) -> u64 {
    value.as_u64().unwrap_or_else(|| panic!("not a count: {value}"))
}

// ---------------------------------------------------------------------------------------------
// Live Go services

/// Milliseconds since the Unix epoch of an event's `@timestamp`.
fn timestamp_ms(event: &Value) -> u64 {
    let text = event["@timestamp"].as_str().expect("@timestamp");
    let time = humantime::parse_rfc3339_weak(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    time.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The text the service published with `-note`, read from the body an event kept.
fn note(event: &Value) -> Option<String> {
    let original = event["event"]["original"].as_str()?;
    let body: Value = serde_json::from_str(original).ok()?;
    body["note"].as_str().map(str::to_owned)
}

/// N scrapes of a service collecting garbage all the time (and once more before each body, so
/// that every window has cycles): the events come in order, never before their tick, and the
/// pause windows add up exactly to the growth of the service's own counters, computed here from
/// the bodies.
#[test]
fn pause_windows_add_up_to_the_growth_of_the_counters() {
    let Some(service) = Service::start(&["-gc-every", "50ms", "-gc-per-request"]) else { return };
    let url = format!("http://{}", service.address);
    // Before the run's start: its ticks are at or after this, one period apart.
    let spawned =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64;
    let output = scrape(&[
        "--period",
        "400ms",
        "--timeout",
        "30s",
        "--count",
        "6",
        "--preserve-original",
        &url,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let events = events(&output);
    assert_eq!(events.len(), 6);
    assert!(
        stderr(&output).contains("1 targets, 6 scrapes (0 failed), 6 events"),
        "{}",
        stderr(&output)
    );
    // The first scrape is the windows' baseline (--first-window first-scrape, the default):
    // no window, only the cumulative total.
    let first = &events[0]["golang"]["heap"]["gc"]["pause"];
    assert_eq!(first.as_object().unwrap().keys().collect::<Vec<_>>(), ["total"], "{first}");
    // Scrape k starts on its tick or later (a tick skipped on a busy machine only makes it
    // later): never before k periods from the start (the system's clock, in whole ms, with a
    // few ms for the slewing of that clock against the tool's monotonic one).
    for (k, event) in events.iter().enumerate() {
        let at = timestamp_ms(event);
        assert!(
            at + 5 >= spawned + 400 * k as u64,
            "scrape {k} at {at}, the run started {spawned}"
        );
    }
    for pair in events.windows(2) {
        let (before, after) = (memstats(&pair[0]), memstats(&pair[1]));
        let pause = &pair[1]["golang"]["heap"]["gc"]["pause"];
        assert_eq!(pause["since"], "previous_body");
        let cycles = figure(&after["NumGC"]) - figure(&before["NumGC"]);
        assert!(cycles <= 256, "more cycles than the ring holds: {cycles}");
        // -gc-per-request: at least the one before this body.
        assert!(cycles >= 1, "the service collected no garbage between scrapes");
        assert_eq!(figure(&pause["count"]), cycles);
        assert_eq!(
            figure(&pause["sum"]["ns"]),
            figure(&after["PauseTotalNs"]) - figure(&before["PauseTotalNs"])
        );
        assert_eq!(pair[1]["service"]["address"], url.as_str());
        // In order.
        assert!(timestamp_ms(&pair[1]) >= timestamp_ms(&pair[0]), "{} then {}", pair[0], pair[1]);
    }
}

/// The service killed and started again on the same port mid-run: error events while it is down,
/// then a window counted from the new process, never negative or huge.
#[test]
fn a_restarted_service_starts_a_new_window() {
    let first = &["-listen", &private_loopback(), "-gc-every", "15ms", "-note", "first"];
    let Some(first) = Service::start(first) else { return };
    let address = first.address.clone();
    let url = format!("http://{address}");
    let mut run =
        LiveScrape::start(&["--period", "300ms", "--timeout", "30s", "--preserve-original", &url]);
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(run.next());
    }
    drop(first);
    // Down: a scrape cut by the kill says what it saw (a reset, a body cut short, a pooled
    // connection closed); one that connects afterwards finds nobody listening.
    while !events.iter().any(|e| message(e) == Some("connection refused")) {
        events.push(run.next());
    }
    let second = ["-listen", &address, "-gc-every", "15ms", "-note", "second"];
    let second = Service::start(&second).unwrap();
    // Three good scrapes of the new process: the restart's window and two after it.
    while events.iter().filter(|e| note(e).as_deref() == Some("second")).count() < 3 {
        events.push(run.next());
    }
    let (status, rest, errors) = run.stop();
    assert!(status.success(), "{errors}");
    events.extend(rest);
    drop(second);

    assert!(events.iter().any(|e| message(e).is_some()), "no failed scrape while it was down");
    let good: Vec<&Value> = events.iter().filter(|e| message(e).is_none()).collect();
    let restart = good
        .iter()
        .position(|e| note(e).as_deref() == Some("second"))
        .expect("a good scrape of the new process");
    assert!(restart >= 1, "no good scrape of the first process");
    assert!(good[restart..].iter().all(|e| note(e).as_deref() == Some("second")));
    for (i, event) in good.iter().enumerate().skip(1) {
        let pause = &event["golang"]["heap"]["gc"]["pause"];
        let num_gc = figure(&memstats(event)["NumGC"]);
        let previous = if i == restart { 0 } else { figure(&memstats(good[i - 1])["NumGC"]) };
        assert_eq!(pause["since"], if i == restart { "restart" } else { "previous_body" });
        // Across failed scrapes too, the window counts from the last good body.
        assert_eq!(
            figure(&pause["count"]) + pause["missed"]["count"].as_u64().unwrap_or(0),
            num_gc - previous
        );
    }
}

/// A restart between two scrapes whose new process has already run more GC cycles than the old
/// one had (fewer than 256 more): NumGC went up, yet the window is the new process's cycles,
/// not the difference (Metricbeat's beats#6543).
#[test]
fn a_restart_past_the_old_count_is_seen() {
    // The old process: one cycle before its first body (and none by the clock); the new one:
    // 40 before its first.
    let first = ["-listen", &private_loopback(), "-gc-at-start", "1", "-note", "first"];
    let Some(first) = Service::start(&first) else { return };
    let address = first.address.clone();
    let url = format!("http://{address}");
    let mut run =
        LiveScrape::start(&["--period", "300ms", "--timeout", "30s", "--preserve-original", &url]);
    let mut events = vec![run.next()];
    drop(first);
    let second = ["-listen", &address, "-gc-at-start", "40", "-note", "second"];
    let second = Service::start(&second).unwrap();
    // Until the new process's first good body (scrapes while it was down failed).
    while note(events.last().unwrap()).as_deref() != Some("second") {
        events.push(run.next());
    }
    drop(run);
    drop(second);

    let good: Vec<&Value> = events.iter().filter(|e| message(e).is_none()).collect();
    assert!(good.len() >= 2, "{events:?}");
    let (before, after) = (good[good.len() - 2], good[good.len() - 1]);
    assert_eq!(note(before).as_deref(), Some("first"), "no good scrape of the old process");
    let count = |event: &Value| figure(&event["golang"]["heap"]["gc"]["total"]["count"]);
    let (old, new) = (count(before), count(after));
    assert!(old >= 1 && new >= old && new - old < 256, "NumGC {old} then {new}");
    let pause = &after["golang"]["heap"]["gc"]["pause"];
    let window = figure(&pause["count"]) + pause["missed"]["count"].as_u64().unwrap_or(0);
    assert_eq!(window, new, "NumGC {old} then {new} in a new process");
    assert_eq!(pause["since"], "restart");
}

/// `--first-window process-start`: the first event reports the cycles still in the ring since
/// the service started, and says so; the default makes the first scrape the baseline.
#[test]
fn the_first_window_starts_where_asked() {
    // Cycles before the first scrape: three before the service says where it listens.
    let Some(service) = Service::start(&["-gc-at-start", "3", "-gc-every", "5ms"]) else { return };
    let url = format!("http://{}", service.address);
    let output = scrape(&[
        "--first-window",
        "process-start",
        "--count",
        "2",
        "--period",
        "300ms",
        "--timeout",
        "30s",
        &url,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let got = events(&output);
    let pause = &got[0]["golang"]["heap"]["gc"]["pause"];
    let num_gc = figure(&got[0]["golang"]["heap"]["gc"]["total"]["count"]);
    assert!(num_gc >= 3, "the service ran {num_gc} GC cycles before the first scrape");
    assert_eq!(pause["since"], "process_start");
    assert_eq!(figure(&pause["count"]), num_gc.min(256));
    assert_eq!(pause["missed"]["count"].as_u64().unwrap_or(0), num_gc.saturating_sub(256));
    assert_eq!(got[1]["golang"]["heap"]["gc"]["pause"]["since"], "previous_body");

    // The default: a baseline, then a window of one period.
    let output = scrape(&["--count", "2", "--period", "300ms", "--timeout", "30s", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    let got = events(&output);
    assert!(got[0]["golang"]["heap"]["gc"]["pause"].get("count").is_none());
    assert!(figure(&got[0]["golang"]["heap"]["gc"]["pause"]["total"]["ns"]) > 0);
    assert_eq!(got[1]["golang"]["heap"]["gc"]["pause"]["since"], "previous_body");

    let output = scrape(&["--first-window", "never", &url]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("[possible values: first-scrape, process-start]"));
}

/// A first scrape that fails is no baseline: the windows start at the first good one.
#[test]
fn a_failed_first_scrape_is_no_baseline() {
    // An address nobody else listens on: the service's, once it is stopped.
    let first = ["-listen", &private_loopback()];
    let Some(service) = Service::start(&first) else { return };
    let address = service.address.clone();
    drop(service);
    let url = format!("http://{address}");
    let mut run = LiveScrape::start(&["--period", "300ms", "--timeout", "30s", &url]);
    let down = run.next();
    assert_eq!(message(&down), Some("connection refused"));
    let service = Service::start(&["-listen", &address, "-gc-every", "5ms"]).unwrap();
    let baseline = std::iter::repeat_with(|| run.next()).find(|e| message(e).is_none()).unwrap();
    let window = run.next();
    drop(run);
    drop(service);
    assert!(baseline["golang"]["heap"]["gc"]["pause"].get("count").is_none(), "{baseline}");
    assert_eq!(message(&window), None, "{window}");
    assert_eq!(window["golang"]["heap"]["gc"]["pause"]["since"], "previous_body");
}

/// `--password-file` without a user would send no credentials at all: refused, as `--username`
/// without a password is.
#[test]
fn a_password_without_a_user_is_refused() {
    let dir = temp_dir("password-alone");
    std::fs::write(dir.join("password"), "s3cret\n").unwrap();
    let password_file = dir.join("password");
    let output = scrape(&[
        "--count",
        "1",
        "--password-file",
        password_file.to_str().unwrap(),
        "http://127.0.0.1:9/debug/vars",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).trim(),
        "expvar-heap: http://127.0.0.1:9/debug/vars: --password-file needs --username (the basic \
         auth user) or a user in the URL"
    );
    assert!(events(&output).is_empty());
}

#[test]
fn basic_auth_from_the_url_or_a_file_and_never_shown() {
    let password = "s3cr3t-pa:ss";
    // In the environment: on its command line, the password would be in /debug/vars's cmdline.
    let env = [("EXPVAR_SERVICE_PASSWORD", password)];
    let Some(service) = Service::start_with_env(&["-user", "scraper"], &env) else {
        return;
    };
    let dir = temp_dir("auth");
    std::fs::write(dir.join("password"), format!("{password}\n")).unwrap();
    let in_url = format!("http://scraper:s3cr3t-pa%3Ass@{}", service.address);
    let plain = format!("http://{}", service.address);
    let wrong = format!("http://scraper:wrong@{}", service.address);
    let password_file = dir.join("password");
    // One scrape each, with a timeout no busy machine reaches (not the 90 ms of a short period).
    let once = ["--count", "1", "--timeout", "30s"];
    let outputs = [
        scrape(&[&once[..], &[&in_url]].concat()),
        scrape(&[
            "--count",
            "1",
            "--timeout",
            "30s",
            "--username",
            "scraper",
            "--password-file",
            password_file.to_str().unwrap(),
            &plain,
        ]),
        scrape(&[&once[..], &[&wrong]].concat()),
        scrape(&[&once[..], &[&plain]].concat()),
    ];
    for (output, code) in outputs.iter().zip([0, 0, 3, 3]) {
        // The scrapes answered 401 all failed: status 3.
        assert_eq!(output.status.code(), Some(code), "{}", stderr(output));
        let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), stderr(output));
        let leak = all.find("s3cr3t").or(all.find("wrong@"));
        assert!(
            leak.is_none(),
            "a credential leaked: {}",
            &all[leak.unwrap_or(0).saturating_sub(200)..]
        );
    }
    let first = |o: &Output| events(o).remove(0);
    assert_eq!(message(&first(&outputs[0])), None);
    assert_eq!(first(&outputs[0])["service"]["address"], plain.as_str());
    assert_eq!(message(&first(&outputs[1])), None);
    assert_eq!(message(&first(&outputs[2])), Some("HTTP 401 Unauthorized"));
    assert_eq!(first(&outputs[2])["event"]["original"], "unauthorized\n");
    assert_eq!(message(&first(&outputs[3])), Some("HTTP 401 Unauthorized"));
}

/// A CA made here, a server certificate for 127.0.0.1 and a client certificate it signs, in a
/// folder of its own (tests running at once each make theirs), removed when dropped.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let dir = temp_dir("pki");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issue = |name: &str, san: Vec<SanType>| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::new()).unwrap();
            params.subject_alt_names = san;
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        };
        issue("server", vec![SanType::IpAddress([127, 0, 0, 1].into())]);
        issue("client", vec![SanType::DnsName("scraper".try_into().unwrap())]);
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

#[test]
fn tls_with_a_private_ca_and_mutual_tls() {
    let pki = Pki::new();
    let tls = ["-tls-cert", &pki.path("server.pem"), "-tls-key", &pki.path("server.key")];
    let Some(service) = Service::start(&tls) else { return };
    let url = format!("https://{}", service.address);
    // One scrape each, with a timeout no busy machine reaches (not the 90 ms of a short period).
    let once = ["--count", "1", "--timeout", "30s"];
    let trusted = scrape(&[&once[..], &["--ca-cert", &pki.path("ca.pem"), &url]].concat());
    assert_eq!(message(&events(&trusted)[0]), None, "{}", stderr(&trusted));
    let untrusted = scrape(&[&once[..], &[url.as_str()]].concat());
    assert_eq!(
        message(&events(&untrusted)[0]),
        Some(
            "TLS: the target's certificate is not signed by a CA this machine trusts: pass its \
             CA, or the certificate itself when it is self-signed, with --ca-cert (or ca_cert in \
             the targets file)"
        )
    );
    let insecure = scrape(&[&once[..], &["--insecure-skip-verify", &url]].concat());
    assert_eq!(message(&events(&insecure)[0]), None);
    assert_eq!(stderr(&insecure).matches("not verified").count(), 1, "{}", stderr(&insecure));
    // No https target: nothing goes unverified, and nothing is said.
    let plain = "http://127.0.0.1:9/debug/vars";
    let no_tls = scrape(&[&once[..], &["--insecure-skip-verify", plain]].concat());
    assert!(!stderr(&no_tls).contains("not verified"), "{}", stderr(&no_tls));

    let (ca_pem, client_pem, client_key) =
        (pki.path("ca.pem"), pki.path("client.pem"), pki.path("client.key"));
    let mutual = [&tls[..], &["-client-ca", &ca_pem]].concat();
    let service = Service::start(&mutual).unwrap();
    let url = format!("https://{}", service.address);
    let ca = ["--count", "1", "--timeout", "30s", "--ca-cert", &pki.path("ca.pem")];
    let with_cert =
        [&ca[..], &["--client-cert", &client_pem, "--client-key", &client_key, &url]].concat();
    let output = scrape(&with_cert);
    assert_eq!(message(&events(&output)[0]), None, "{}", stderr(&output));
    let output = scrape(&[&ca[..], &[url.as_str()]].concat());
    // Go's server sends its alert after the handshake: whether it reaches us before the
    // connection's end depends on timing, and either way the sentence says what to pass.
    let refused = message(&events(&output)[0]).map(str::to_owned);
    assert!(
        [
            "the target closed the connection without answering (a target that requires a \
             client certificate does so: pass --client-cert and --client-key)",
            "TLS: the target requires a client certificate: pass --client-cert and --client-key",
        ]
        .contains(&refused.as_deref().unwrap_or_default()),
        "{refused:?}"
    );
}

/// For each name, `NAME.pem` and `NAME.key` in `dir`: a self-signed certificate for 127.0.0.1
/// as `openssl req -x509` makes it (CA:TRUE, and the server's own), and its key.
fn self_signed_certificates(dir: &Path, names: &[&str]) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    for name in names {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// A self-signed certificate as `openssl req -x509` makes it (CA:TRUE, and the server's own):
/// trusted when `--ca-cert` is that very certificate, refused when it is another one.
#[test]
fn a_self_signed_certificate_given_with_ca_cert_is_trusted() {
    let dir = temp_dir("self-signed");
    self_signed_certificates(&dir, &["server", "other"]);
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let tls = ["-tls-cert", &path("server.pem"), "-tls-key", &path("server.key")];
    let Some(service) = Service::start(&tls) else { return };
    let url = format!("https://{}", service.address);
    let pinned =
        scrape(&["--count", "1", "--timeout", "30s", "--ca-cert", &path("server.pem"), &url]);
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    let event = &events(&pinned)[0];
    assert_eq!(message(event), None, "{event}");
    assert!(event["golang"]["heap"]["allocations"]["active"]["bytes"].is_u64());

    let other =
        scrape(&["--count", "1", "--timeout", "30s", "--ca-cert", &path("other.pem"), &url]);
    assert_eq!(other.status.code(), Some(3), "{}", stderr(&other));
    // webpki refuses a CA certificate as a server's before it looks for its issuer.
    assert_eq!(
        message(&events(&other)[0]),
        Some(
            "TLS: the target presents a CA certificate as its own (as `openssl req -x509` makes \
             them): pass that very certificate with --ca-cert (or ca_cert in the targets file) to \
             trust it"
        )
    );
}

/// OpenSSL's command line in `dir`: whether it ran and succeeded; `false` (a failure under
/// CI=true) when there is no `openssl`.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    let run = Command::new("openssl").args(args).current_dir(dir).output();
    let Ok(output) = run else {
        assert!(std::env::var_os("CI").is_none(), "openssl is missing");
        eprintln!("skipped: no openssl; CI fails here instead");
        return false;
    };
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// A self-signed certificate for 127.0.0.1 (`expired.pem`, key `expired.key`) that was valid
/// through 2020 only, made in `dir` by OpenSSL, or `false` without it. `openssl req -x509` dates
/// a certificate from now on until OpenSSL 3.4 (`-not_before`), so `openssl ca -selfsign`, which
/// takes any dates in every version, signs the request with its own key (issuer = subject).
fn expired_certificate(dir: &Path) -> bool {
    let config = "[ca]\ndefault_ca = selfsign\n\n[selfsign]\ndatabase = index.txt\n\
                  new_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\n\
                  copy_extensions = copy\n\n[any]\ncommonName = supplied\n";
    std::fs::write(dir.join("ca.cnf"), config).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let request = "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \
                   expired.key -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -out \
                   expired.csr";
    let sign = "ca -batch -config ca.cnf -selfsign -keyfile expired.key -in expired.csr -out \
                expired.pem -notext -startdate 200101000000Z -enddate 210101000000Z";
    let words = |line: &'static str| line.split_whitespace().collect::<Vec<_>>();
    openssl(dir, &words(request)) && openssl(dir, &words(sign))
}

/// A pinned certificate (self-signed, the very one of `--ca-cert`) is still checked for its
/// dates and for the URL's host, as curl's `--cacert` checks it: an expired one, one for another
/// name and one that names no host at all are each refused with their sentence.
#[test]
fn a_pinned_certificate_is_checked_for_dates_and_name() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let dir = temp_dir("pinned-checks");
    if !expired_certificate(&dir) {
        return;
    }
    // As `openssl req -x509` makes them (CA:TRUE), valid now, for other names than 127.0.0.1.
    for (name, names) in [
        ("other", vec![SanType::DnsName("other.example".try_into().unwrap())]),
        ("nameless", Vec::new()),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.subject_alt_names = names;
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    // Each served by the Go service, and pinned.
    let refused = |name: &str| {
        let (cert, key) = (path(&format!("{name}.pem")), path(&format!("{name}.key")));
        let service = Service::start(&["-tls-cert", &cert, "-tls-key", &key])?;
        let url = format!("https://{}", service.address);
        let output = scrape(&["--count", "1", "--timeout", "30s", "--ca-cert", &cert, &url]);
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        Some(message(&events(&output)[0]).unwrap_or_default().to_owned())
    };
    let Some(expired) = refused("expired") else { return };
    assert_eq!(
        expired,
        "TLS: the target's certificate (pinned with --ca-cert) expired at 2021-01-01T00:00:00Z: \
         make a new one"
    );
    let make_one = "`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days \
                    365 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout key.pem \
                    -out cert.pem`";
    assert_eq!(
        refused("other").unwrap(),
        format!(
            "TLS: the target's certificate (pinned with --ca-cert) is not valid for 127.0.0.1 (it \
             names DNS:other.example): scrape it by a name it lists, or make one that names its \
             host: {make_one}"
        )
    );
    assert_eq!(
        refused("nameless").unwrap(),
        format!(
            "TLS: the target's certificate (pinned with --ca-cert) has no subjectAltName, so it \
             is valid for no host (its common name is not read): make one that names its host: \
             {make_one}"
        )
    );
}

/// The wrong scheme for the port, both ways: a sentence that says which one to use.
#[test]
fn the_wrong_scheme_says_which_to_use() {
    let pki = Pki::new();
    let tls = ["-tls-cert", &pki.path("server.pem"), "-tls-key", &pki.path("server.key")];
    let Some(plain) = Service::start(&[]) else { return };
    let output =
        scrape(&["--count", "1", "--timeout", "30s", &format!("https://{}", plain.address)]);
    assert_eq!(
        message(&events(&output)[0]),
        Some("TLS: the target did not answer in TLS (a plain HTTP port?): use http://")
    );
    let secure = Service::start(&tls).unwrap();
    let output =
        scrape(&["--count", "1", "--timeout", "30s", &format!("http://{}", secure.address)]);
    let event = &events(&output)[0];
    assert_eq!(
        message(event),
        Some("HTTP 400 Bad Request: the target serves HTTPS on this port: use https://")
    );
    // Go's own page is kept, as every error page is.
    let page = event["event"]["original"].as_str().unwrap();
    assert!(page.contains("Client sent an HTTP request to an HTTPS server"), "{page}");
}

/// SIGTERM mid-run: the scrapes in flight finish, the output ends with whole lines, the summary
/// is printed, and the exit status is 0.
#[test]
fn sigterm_ends_the_run_cleanly() {
    let Some(service) = Service::start(&[]) else { return };
    let url = format!("http://{}", service.address);
    let mut run = LiveScrape::start(&["--period", "100ms", "--timeout", "30s", &url]);
    // Three events written whole, then the signal, whatever is in flight.
    let first: Vec<Value> = (0..3).map(|_| run.next()).collect();
    run.signal("-TERM");
    let (status, rest, errors) = run.finish();
    assert_eq!(status.code(), Some(0), "{errors}");
    for line in &rest {
        assert!(line.ends_with('\n'), "the output ends mid-line: {line}");
        serde_json::from_str::<Value>(line).unwrap();
    }
    assert!(first.len() + rest.len() >= 3);
    assert!(errors.contains("1 targets,"), "{errors}");
}

/// A targets file with two targets, each with its own namespace and tags, combined with a URL of
/// the command line; events appended to a file.
/// An output that cannot be written (a full disk) stops the run with the system's reason, and an
/// output file in a folder that does not exist is refused at once.
#[test]
fn an_output_that_cannot_be_written_says_why() {
    let dead = "http://127.0.0.1:9/debug/vars";
    let full = scrape(&["--count", "1", "--output", "/dev/full", dead]);
    assert_eq!(full.status.code(), Some(1), "{}", stderr(&full));
    assert!(
        stderr(&full).contains(
            "the output could not be written: No space left on device (os error 28); stopped"
        ),
        "{}",
        stderr(&full)
    );
    let missing = temp_dir("output").join("no-such-folder/events.ndjson");
    let output = scrape(&["--count", "1", "--output", missing.to_str().unwrap(), dead]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).ends_with("No such file or directory (os error 2)\n"),
        "{}",
        stderr(&output)
    );
}

/// The first SIGINT lets the scrape in flight finish; a second one stops at once, with the
/// status a shell gives an interrupted program.
#[test]
fn a_second_interrupt_stops_at_once() {
    // Headers, then nothing: the scrape in flight would wait for its 30 s timeout.
    let stall = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{");
        std::thread::sleep(Duration::from_secs(40));
    });
    let url = format!("http://{}", stall.address);
    let mut run = LiveScrape::start(&["--period", "60s", "--timeout", "30s", &url]);
    // The scrape is in flight once the target has its request.
    stall.requests.recv_timeout(WAIT).expect("the tool sent no request");
    run.signal("-INT");
    run.stderr_until("stopping once the scrapes in flight are written (again: at once)");
    assert!(run.child.try_wait().unwrap().is_none(), "the first interrupt waits for the scrape");
    run.signal("-INT");
    let (status, rest, errors) = run.finish();
    assert_eq!(status.code(), Some(130), "{errors}");
    assert!(rest.is_empty(), "no event of the scrape cut short: {rest:?}");
}

#[test]
fn a_targets_file_and_an_output_file() {
    let Some(service) = Service::start(&[]) else { return };
    let dir = temp_dir("targets");
    let file = dir.join("targets.toml");
    std::fs::write(
        &file,
        format!(
            "[[targets]]\nurl = \"http://{0}\"\nnamespace = \"checkout\"\ntags = [\"eu\"]\n\n[[targets]]\nurl = \"http://{0}/debug/vars\"\nheaders = {{ \"X-Scope\" = \"a\" }}\n",
            service.address
        ),
    )
    .unwrap();
    let out = dir.join("events.ndjson");
    std::fs::write(&out, "kept\n").unwrap();
    let output = scrape(&[
        "--period",
        "100ms",
        "--timeout",
        "30s",
        "--count",
        "2",
        "--targets",
        file.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "http://127.0.0.1:1",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("kept\n"));
    let events: Vec<Value> =
        written.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 6);
    let of = |address: &str| {
        events.iter().filter(|e| e["service"]["address"] == address).collect::<Vec<_>>()
    };
    let checkout = of(&format!("http://{}", service.address));
    assert_eq!(checkout.len(), 2);
    assert!(
        checkout.iter().all(|e| e["data_stream"]["namespace"] == "checkout"
            && e["tags"] == serde_json::json!(["eu"]))
    );
    assert_eq!(of(&format!("http://{}/debug/vars", service.address)).len(), 2);
    assert!(of("http://127.0.0.1:1").iter().all(|e| message(e) == Some("connection refused")));

    let bad = scrape(&["--targets", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("cannot read the targets file"), "{}", stderr(&bad));
}

#[test]
fn a_targets_file_edited_during_a_run_adds_and_removes_targets() {
    let (Some(a), Some(b)) = (Service::start(&[]), Service::start(&[])) else { return };
    let (a, b) = (format!("http://{}", a.address), format!("http://{}", b.address));
    let dir = temp_dir("reload");
    let file = dir.join("targets.json");
    let file_sd = |url: &str| format!("[{{\"targets\": [\"{}\"]}}]", &url["http://".len()..]);
    // Prometheus's file_sd form; the next version of the file is ours, in TOML.
    std::fs::write(&file, file_sd(&a)).unwrap();
    let args = ["--period", "200ms", "--timeout", "30s", "--targets", file.to_str().unwrap()];
    let mut run = LiveScrape::start(&args);
    let address = |event: &Value| event["service"]["address"].as_str().unwrap_or("").to_owned();
    assert_eq!(address(&run.next()), a);
    // A SIGHUP with the file unchanged changes nothing (and does not end the run).
    run.signal("-HUP");
    assert_eq!(address(&run.next()), a);

    // The file edited in place: A out, B in.
    std::fs::write(&file, file_sd(&b)).unwrap();
    // B's events come once the tool sees the change (it looks every second), and after them no
    // more of A's (one in flight may come first).
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    while seen.iter().filter(|s| **s == b).count() < 3 {
        assert!(Instant::now() < deadline, "B not scraped within {WAIT:?}: {seen:?}");
        seen.push(address(&run.next()));
    }
    let first_b = seen.iter().position(|s| *s == b).unwrap();
    assert!(seen[first_b..].iter().all(|s| *s == b), "A scraped after B started: {seen:?}");
    let (_, _, errors) = run.stop();
    assert!(
        errors.contains("targets file read again: 1 targets added, 1 removed, 0 kept"),
        "{errors}"
    );

    // A file that cannot be used keeps the targets as they were, and says why.
    std::fs::write(&file, file_sd(&a)).unwrap();
    let mut run = LiveScrape::start(&args);
    assert_eq!(address(&run.next()), a);
    std::fs::write(&file, "[{\"targets\": [\"http://not-host-port\"]}]").unwrap();
    // Read at once at SIGHUP (if the tool has not seen the change already).
    run.signal("-HUP");
    let warning = run.stderr_until("file_sd target is host:port");
    assert!(warning.contains("the targets file was read again but cannot be used"), "{warning}");
    assert_eq!(address(&run.next()), a);
    let (status, _, errors) = run.stop();
    assert!(status.success(), "{errors}");
}

// ---------------------------------------------------------------------------------------------
// A misbehaving server

/// A loopback server that misbehaves on purpose.
struct FaultServer {
    address: String,
    /// What its `answer` counts (bytes written, requests answered).
    count: &'static AtomicUsize,
    /// A message for each request, once its head is read (before it is answered).
    requests: mpsc::Receiver<()>,
}

/// Serves each connection with `answer`, on 127.0.0.1.
fn fault_server(answer: fn(TcpStream, &AtomicUsize)) -> FaultServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let count: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let (request, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let request = request.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = request.send(());
                answer(stream, count);
            });
        }
    });
    FaultServer { address, count, requests }
}

/// One scrape of a target that fails: its event. The scrape counts as failed (a 200 answer that
/// is no expvar body too), so the run's exit status is 3, as for a failed health check. Unless
/// `extra` sets one, the timeout is one no busy machine reaches, so that only the fault tested
/// can fail the scrape.
fn scrape_one(address: &str, extra: &[&str]) -> Value {
    let url = format!("http://{address}");
    let timeout: &[&str] = if extra.contains(&"--timeout") { &[] } else { &["--timeout", "30s"] };
    let output = scrape(&[&["--count", "1"][..], timeout, extra, &[url.as_str()]].concat());
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 targets, 1 scrapes (1 failed)"), "{}", stderr(&output));
    events(&output).remove(0)
}

#[test]
fn faults_of_the_target_become_error_events() {
    // Headers, then nothing.
    let stall = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{");
        std::thread::sleep(Duration::from_secs(5));
    });
    let event = scrape_one(&stall.address, &["--timeout", "300ms"]);
    assert_eq!(message(&event), Some("timeout after 300ms"));

    // A body that never ends: cut at the limit, and the rest is never read.
    let endless = fault_server(|mut s, written| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
        let chunk = [b'7'; 64 << 10];
        while s.write_all(&chunk).is_ok() {
            if written.fetch_add(chunk.len(), Ordering::Relaxed) > 1 << 30 {
                break;
            }
        }
    });
    let event = scrape_one(&endless.address, &["--max-body-bytes", "1000000"]);
    assert!(
        message(&event).unwrap().starts_with("body over the size limit of 1000000 bytes"),
        "{event}"
    );
    assert_eq!(event["event"]["original"].as_str().unwrap().len(), 64 << 10);
    let written = endless.count.load(Ordering::Relaxed);
    assert!(written < 64 << 20, "the tool kept reading an endless body");

    // Error pages keep their body.
    let missing = fault_server(|mut s, _| {
        let page = "<html><body>404 page not found</body></html>";
        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{page}", page.len());
    });
    let event = scrape_one(&missing.address, &[]);
    assert_eq!(
        message(&event),
        Some(
            "HTTP 404 Not Found: the service serves no /debug/vars: it does once it imports \
             \"expvar\" (on http.DefaultServeMux; a service with a mux of its own must add \
             expvar.Handler())"
        )
    );
    assert_eq!(event["event"]["original"], "<html><body>404 page not found</body></html>");
    // A URL with a path of its own is used as given.
    let output = scrape(&[
        "--count",
        "1",
        "--timeout",
        "30s",
        &format!("http://{}/metrics/vars", missing.address),
    ]);
    assert_eq!(
        message(&events(&output)[0]),
        Some(
            "HTTP 404 Not Found: nothing is served at /metrics/vars, the path of the URL (used \
             as given; with no path, /debug/vars is scraped)"
        )
    );
    let broken = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
    });
    assert_eq!(message(&scrape_one(&broken.address, &[])), Some("HTTP 500 Internal Server Error"));

    // A redirect to itself, forever.
    let looping = fault_server(|mut s, _| {
        let _ = s
            .write_all(b"HTTP/1.1 302 Found\r\nLocation: /debug/vars\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    let event = scrape_one(&looping.address, &[]);
    assert_eq!(message(&event), Some("too many redirects (a redirect loop?)"));

    // The connection closed mid-body.
    let cut = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n{\"memstats\":{");
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let event = scrape_one(&cut.address, &[]);
    assert!(message(&event).unwrap().starts_with("the body was cut short"), "{event}");

    // Not JSON: the transform says so, with the body kept.
    let text = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world");
    });
    let event = scrape_one(&text.address, &[]);
    assert!(message(&event).unwrap().starts_with("body is not valid JSON"), "{event}");
    assert_eq!(event["event"]["original"], "hello world");

    // Nobody listening (port 1, tcpmux, is served nowhere; a port bound and closed here could be
    // taken by another socket in between).
    assert_eq!(message(&scrape_one("127.0.0.1:1", &[])), Some("connection refused"));
}

/// A loopback server that keeps the head (request line and headers) of every request it gets,
/// before it answers it with `answer(head)`; connections are kept alive.
struct RecordingServer {
    address: String,
    /// The heads, in the order they came. A head is kept before its answer is written, so once
    /// a run has ended every request it made is here.
    heads: mpsc::Receiver<String>,
}

fn recording_server(answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> RecordingServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (keep, heads) = mpsc::channel();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (keep, answer) = (keep.clone(), answer.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    while !head.ends_with("\r\n\r\n") {
                        match reader.read_line(&mut head) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                    let _ = keep.send(head.clone());
                    if stream.write_all(&answer(&head)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    RecordingServer { address, heads }
}

impl RecordingServer {
    /// The heads of the requests it got so far, lowercased (header names are any case).
    fn heads(&self) -> Vec<String> {
        self.heads.try_iter().map(|head| head.to_ascii_lowercase()).collect()
    }
}

/// An answer of `status` that redirects to `location`, with a short body.
fn redirect(status: &str, location: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 5\r\n\r\nmoved")
        .into_bytes()
}

/// A 200 answer of a real Go body.
fn go_body() -> Vec<u8> {
    let body = std::fs::read(root().join("fixtures/go1.19/idle/01.json")).unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    [head.into_bytes(), body].concat()
}

/// A redirect to another origin (another port) is not followed by a target that carries a
/// credential: the other server gets no request at all, and the message names its origin only.
#[test]
fn no_credential_follows_a_redirect_to_another_origin() {
    let b = recording_server(|_| go_body());
    // A path and query of the Location (a token, say) never reach the message.
    let to_b = format!("http://{}/debug/vars?token=t0ken", b.address);
    let a = recording_server(move |_| redirect("302 Found", &to_b));
    let dir = temp_dir("redirect");
    std::fs::write(dir.join("token"), "b34rer-t0ken\n").unwrap();
    let token_file = dir.join("token");
    let header = ["--header", "X-Api-Key: s3cret"];
    let bearer = ["--bearer-token-file", token_file.to_str().unwrap()];
    for (credential, sent) in [(header, "x-api-key: s3cret"), (bearer, "bearer b34rer-t0ken")] {
        let event = scrape_one(&a.address, &credential);
        assert_eq!(
            message(&event),
            Some(
                format!(
                    "HTTP 302 redirect to http://{}, another origin: not followed, so that this \
                     target's credentials (auth, headers, client certificate) stay with it; \
                     scrape that URL directly",
                    b.address
                )
                .as_str()
            )
        );
        // The redirect's own answer is kept, as every error page is.
        assert_eq!(event["event"]["original"], "moved");
        let heads = a.heads();
        assert_eq!(heads.len(), 1, "{heads:?}");
        assert!(heads[0].contains(sent), "{heads:?}");
        // The run has ended, and B keeps a request before answering it: it got none.
        assert_eq!(b.heads(), Vec::<String>::new());
    }
}

/// Without any credential, a redirect to another origin is followed (there is nothing to leak);
/// to the target's own origin, with everything. No Referer is ever sent.
#[test]
fn redirects_are_followed_without_referer() {
    let b = recording_server(|_| go_body());
    let to_b = format!("http://{}/debug/vars", b.address);
    let a = recording_server(move |_| redirect("302 Found", &to_b));
    let url = format!("http://{}", a.address);
    let output = scrape(&["--count", "1", "--timeout", "30s", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    let event = &events(&output)[0];
    assert_eq!(message(event), None, "{event}");
    assert!(event["golang"]["heap"]["allocations"]["active"]["bytes"].is_u64(), "{event}");
    assert_eq!(event["service"]["address"], url.as_str());
    let (to_a, to_b) = (a.heads(), b.heads());
    assert_eq!((to_a.len(), to_b.len()), (1, 1), "{to_a:?} {to_b:?}");
    assert!(to_b[0].starts_with("get /debug/vars http/1.1\r\n"), "{to_b:?}");
    assert!(!to_b[0].contains("\r\nreferer:"), "{to_b:?}");

    // The same origin, by a relative Location (and a 307): the header goes along.
    let same = recording_server(|head| {
        if head.starts_with("GET /debug/vars ") {
            redirect("307 Temporary Redirect", "/moved/vars")
        } else {
            go_body()
        }
    });
    let url = format!("http://{}", same.address);
    let output =
        scrape(&["--count", "1", "--timeout", "30s", "--header", "X-Api-Key: s3cret", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(message(&events(&output)[0]), None);
    let heads = same.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(heads[1].starts_with("get /moved/vars http/1.1\r\n"), "{heads:?}");
    assert!(heads.iter().all(|head| head.contains("\r\nx-api-key: s3cret\r\n")), "{heads:?}");
    assert!(heads.iter().all(|head| !head.contains("\r\nreferer:")), "{heads:?}");

    // A redirect that leads nowhere says so (and never shows its Location).
    let nowhere = recording_server(|head| {
        if head.starts_with("GET /debug/vars ") {
            b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n".to_vec()
        } else {
            redirect("308 Permanent Redirect", "ftp://files.example/s3cret")
        }
    });
    let event = scrape_one(&nowhere.address, &[]);
    assert_eq!(message(&event), Some("HTTP 301 redirect without a Location header"));
    let event = scrape_one(&format!("{}/other", nowhere.address), &[]);
    assert_eq!(message(&event), Some("HTTP 308 redirect to a Location that is no http(s) URL"));
}

/// A 200 answer with `body` as JSON, and the connection closed.
fn answer_json(mut stream: TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
}

/// A target whose body takes long to transform (100,000 custom variables, with both datasets:
/// seconds of work) delays no other target's scrapes: while that body is transformed, a normal
/// target scraped every 100 ms is scraped again and again (the server counts the requests), and
/// every one of its scrapes becomes its event.
#[test]
fn a_body_slow_to_transform_delays_no_other_target() {
    static SLOW: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    static FAST: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SLOW.get_or_init(|| {
        let mut body = String::from("{");
        for i in 0..100_000 {
            body.push_str(&format!(
                r#""v{i:06}":{{"a":[{i},2.5,"x"],"b":"yyyyyyyyyyyyyyyyyyyy"}},"#
            ));
        }
        body.push_str(r#""cmdline":["./slow"],"memstats":{"NumGC":1,"HeapInuse":5,"Sys":1}}"#);
        body.into_bytes()
    });
    FAST.get_or_init(|| std::fs::read(root().join("fixtures/go1.19/idle/01.json")).unwrap());
    // The slow body once (the first request), then normal ones.
    let slow = fault_server(|s, n| {
        let first = n.fetch_add(1, Ordering::SeqCst) == 0;
        answer_json(s, if first { SLOW.get() } else { FAST.get() }.unwrap());
    });
    // Counts its requests before it answers: each is counted before its scrape can end.
    let fast = fault_server(|s, n| {
        n.fetch_add(1, Ordering::SeqCst);
        answer_json(s, FAST.get().unwrap());
    });
    let (slow_url, fast_url) =
        (format!("http://{}", slow.address), format!("http://{}", fast.address));
    let mut run = LiveScrape::start(&[
        "--period",
        "100ms",
        // No timeout of a fetch nor deadline of a transform a busy machine could reach.
        "--timeout",
        "30s",
        "--call-timeout",
        "120s",
        "--dataset",
        "all",
        &slow_url,
        &fast_url,
    ]);
    slow.requests.recv_timeout(WAIT).expect("the slow target was not scraped");
    // From here until its event is written, the slow body is fetched, then transformed (in the
    // one transform thread, which writes every target's events in turn).
    let before = fast.count.load(Ordering::SeqCst);
    let mut events = Vec::new();
    while !events.iter().any(|e: &Value| e["service"]["address"] == slow_url.as_str()) {
        events.push(run.next());
    }
    let during = fast.count.load(Ordering::SeqCst) - before;
    // Its scrapes went on, on their ticks; a tool whose transform held up the scrapes would have
    // made none (at most the one in flight).
    assert!(during >= 3, "the normal target was scraped {during} times during the slow transform");
    let (status, rest, errors) = run.stop();
    assert!(status.success(), "{errors}");
    events.extend(rest);
    let of = |url: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| {
                e["service"]["address"] == url && e["data_stream"]["dataset"] == "golang.heap"
            })
            .collect()
    };
    let (slow_events, fast_events) = (of(&slow_url), of(&fast_url));
    // The slow body was transformed (no trap, no timeout), and every scrape of the normal
    // target, the ones during that transform included, became its event, in order.
    assert_eq!(message(slow_events[0]), None, "{}", slow_events[0]);
    assert!(fast_events.iter().all(|e| message(e).is_none()), "{errors}");
    assert_eq!(fast_events.len(), fast.count.load(Ordering::SeqCst), "{errors}");
    for pair in fast_events.windows(2) {
        assert!(timestamp_ms(pair[1]) >= timestamp_ms(pair[0]), "{} then {}", pair[0], pair[1]);
    }
}

/// A folder of its own for each call (two tests running at once never share one), removed when
/// dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("expvar-heap-scrape-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir); // left by an earlier process of the same pid
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// An empty targets file (what discovery writes when nothing is registered) is no error: the run
/// says so once and waits, then scrapes the targets the file names once it has settled.
#[test]
fn an_empty_targets_file_waits_for_its_targets() {
    let Some(service) = Service::start(&[]) else { return };
    let dir = temp_dir("empty-targets");
    let list = dir.join("targets.json");
    std::fs::write(&list, "[]").unwrap();
    let mut run = LiveScrape::start(&[
        "--period",
        "200ms",
        "--timeout",
        "30s",
        "--targets",
        list.to_str().unwrap(),
    ]);
    run.stderr_until("names no target yet");
    std::fs::write(&list, format!("[{{\"targets\": [\"{}\"]}}]", service.address)).unwrap();
    let event = run.next();
    assert_eq!(message(&event), None, "{event}");
    assert_eq!(event["service"]["address"], format!("http://{}", service.address));
    run.stderr_until("1 targets added, 0 removed");
    let (status, _, errors) = run.stop();
    assert!(status.success(), "{errors}");
    assert_eq!(errors.matches("names no target yet").count(), 1, "{errors}");
}

/// A certificate file replaced at the same path is read again at SIGHUP: the client made from
/// the old one is not kept for the rest of the run.
#[test]
fn a_certificate_rotated_at_its_path_is_read_again_at_sighup() {
    let dir = temp_dir("rotated");
    self_signed_certificates(&dir, &["server", "other"]);
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let tls = ["-tls-cert", &path("server.pem"), "-tls-key", &path("server.key")];
    let Some(service) = Service::start(&tls) else { return };
    // The pinned certificate is, at first, another one.
    std::fs::copy(dir.join("other.pem"), dir.join("pinned.pem")).unwrap();
    let list = dir.join("targets.toml");
    std::fs::write(
        &list,
        format!("[[targets]]\nurl = \"https://{}\"\nca_cert = \"pinned.pem\"\n", service.address),
    )
    .unwrap();
    let mut run = LiveScrape::start(&[
        "--period",
        "300ms",
        "--timeout",
        "30s",
        "--targets",
        &path("targets.toml"),
    ]);
    let refused = run.next();
    assert!(message(&refused).is_some_and(|m| m.starts_with("TLS:")), "{refused}");
    // Rotated in place: the file at that path is now the server's certificate.
    std::fs::copy(dir.join("server.pem"), dir.join("pinned.pem")).unwrap();
    run.signal("-HUP");
    let deadline = Instant::now() + WAIT;
    loop {
        let event = run.next();
        if message(&event).is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "still refused after SIGHUP: {event}");
    }
    let (status, _, errors) = run.stop();
    assert!(status.success(), "{errors}");
}
