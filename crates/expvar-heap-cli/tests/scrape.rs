//! `expvar-heap scrape` against real Go services (Debian's Go 1.19 builds
//! `host-test/go/expvar-service`) and against a loopback server that misbehaves on purpose. All
//! traffic stays on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use expvar_heap_test_support::{root, target_dir};
use serde_json::Value;

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

/// Runs a scrape to its end (bounded by --count), with a hard stop after 60 s.
fn scrape(args: &[&str]) -> Output {
    let child = spawn_scrape(args);
    let pid = child.id();
    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let output = child.wait_with_output().unwrap();
    let _ = done.send(());
    output
}

/// A scrape running in the background, and a reader of its next event (waiting for it).
fn live_scrape(args: &[&str]) -> (Child, impl FnMut() -> Value + use<>) {
    let mut child = spawn_scrape(args);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let next = move || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    (child, next)
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

/// N scrapes of a service collecting garbage all the time: the events come in order, a whole
/// number of periods apart, and the pause windows add up exactly to the growth of the service's
/// own counters, computed here from the bodies.
#[test]
fn pause_windows_add_up_to_the_growth_of_the_counters() {
    let Some(service) = Service::start(&["-gc-every", "15ms"]) else { return };
    let url = format!("http://{}", service.address);
    let output = scrape(&["--period", "400ms", "--count", "6", "--preserve-original", &url]);
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
    let mut grew = 0;
    for pair in events.windows(2) {
        let (before, after) = (memstats(&pair[0]), memstats(&pair[1]));
        let pause = &pair[1]["golang"]["heap"]["gc"]["pause"];
        assert_eq!(pause["since"], "previous_body");
        let cycles = figure(&after["NumGC"]) - figure(&before["NumGC"]);
        assert!(cycles <= 256, "more cycles than the ring holds: {cycles}");
        assert_eq!(figure(&pause["count"]), cycles);
        assert_eq!(
            figure(&pause["sum"]["ns"]),
            figure(&after["PauseTotalNs"]) - figure(&before["PauseTotalNs"])
        );
        grew += usize::from(cycles > 0);
        assert_eq!(pair[1]["service"]["address"], url.as_str());
        // In order, a whole number of periods apart (scrapes start on the schedule's ticks;
        // 100 ms of slack for a busy machine).
        let at = |e: &Value| {
            let text = e["@timestamp"].as_str().unwrap();
            let (hms, millis) = (&text[11..19], &text[20..23]);
            let seconds: Vec<u64> = hms.split(':').map(|n| n.parse().unwrap()).collect();
            (seconds[0] * 3600 + seconds[1] * 60 + seconds[2]) * 1000
                + millis.parse::<u64>().unwrap()
        };
        let apart = (at(&pair[1]) + 86_400_000 - at(&pair[0])) % 86_400_000; // across midnight too
        assert!(apart >= 300 && (apart + 100) % 400 <= 200, "{apart} ms apart, period 400 ms");
    }
    assert!(grew >= 3, "the service collected no garbage between scrapes");
}

/// The service killed and started again on the same port mid-run: error events while it is down,
/// then a window counted from the new process, never negative or huge.
#[test]
fn a_restarted_service_starts_a_new_window() {
    let Some(first) = Service::start(&["-gc-every", "15ms"]) else { return };
    let address = first.address.clone();
    let url = format!("http://{address}");
    let (mut child, mut next) =
        live_scrape(&["--period", "300ms", "--count", "12", "--preserve-original", &url]);
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(next());
    }
    drop(first);
    let mut down = 0;
    while down < 2 {
        let event = next();
        down += usize::from(message(&event).is_some());
        events.push(event);
    }
    let second = Service::start(&["-listen", &address, "-gc-every", "15ms"]).unwrap();
    for _ in events.len()..12 {
        events.push(next());
    }
    assert!(child.wait().unwrap().success());
    drop(second);

    let failures: Vec<&str> = events.iter().filter_map(message).collect();
    assert!(failures.iter().all(|m| *m == "connection refused"), "{failures:?}");
    let good: Vec<&Value> = events.iter().filter(|e| message(e).is_none()).collect();
    let restart = good
        .windows(2)
        .position(|w| figure(&memstats(w[1])["NumGC"]) < figure(&memstats(w[0])["NumGC"]))
        .expect("a restart among the good scrapes")
        + 1;
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
    let Some(first) = Service::start(&["-gc-every", "10ms"]) else { return };
    let address = first.address.clone();
    // A few cycles in the old process before the first scrape.
    std::thread::sleep(Duration::from_millis(150));
    let url = format!("http://{address}");
    let (mut child, mut next) = live_scrape(&["--period", "1500ms", "--count", "2", &url]);
    let before = next();
    drop(first);
    let second = Service::start(&["-listen", &address, "-gc-every", "10ms"]).unwrap();
    let after = next();
    assert!(child.wait().unwrap().success());
    drop(second);

    let count = |event: &Value| figure(&event["golang"]["heap"]["gc"]["total"]["count"]);
    let (old, new) = (count(&before), count(&after));
    assert!(old >= 1 && new >= old && new - old < 256, "NumGC {old} then {new}: retime the test");
    let pause = &after["golang"]["heap"]["gc"]["pause"];
    let window = figure(&pause["count"]) + pause["missed"]["count"].as_u64().unwrap_or(0);
    assert_eq!(window, new, "NumGC {old} then {new} in a new process");
    assert_eq!(pause["since"], "restart");
}

/// `--first-window process-start`: the first event reports the cycles still in the ring since
/// the service started, and says so; the default makes the first scrape the baseline.
#[test]
fn the_first_window_starts_where_asked() {
    let Some(service) = Service::start(&["-gc-every", "5ms"]) else { return };
    std::thread::sleep(Duration::from_millis(200)); // cycles before the first scrape
    let url = format!("http://{}", service.address);
    let output =
        scrape(&["--first-window", "process-start", "--count", "2", "--period", "300ms", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    let got = events(&output);
    let pause = &got[0]["golang"]["heap"]["gc"]["pause"];
    let num_gc = figure(&got[0]["golang"]["heap"]["gc"]["total"]["count"]);
    assert!(num_gc >= 1, "the service ran no GC before the first scrape");
    assert_eq!(pause["since"], "process_start");
    assert_eq!(figure(&pause["count"]), num_gc.min(256));
    assert_eq!(pause["missed"]["count"].as_u64().unwrap_or(0), num_gc.saturating_sub(256));
    assert_eq!(got[1]["golang"]["heap"]["gc"]["pause"]["since"], "previous_body");

    // The default: a baseline, then a window of one period.
    let output = scrape(&["--count", "2", "--period", "300ms", &url]);
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
    let Some(service) = Service::start(&["-gc-every", "5ms"]) else { return };
    let address = service.address.clone();
    drop(service);
    let url = format!("http://{address}");
    let (mut child, mut next) = live_scrape(&["--period", "300ms", "--count", "8", &url]);
    let down = next();
    assert_eq!(message(&down), Some("connection refused"));
    let service = Service::start(&["-listen", &address, "-gc-every", "5ms"]).unwrap();
    let baseline = std::iter::repeat_with(&mut next).find(|e| message(e).is_none()).unwrap();
    let window = next();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(service);
    assert!(baseline["golang"]["heap"]["gc"]["pause"].get("count").is_none(), "{baseline}");
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
    let outputs = [
        scrape(&["--period", "100ms", "--count", "1", &in_url]),
        scrape(&[
            "--period",
            "100ms",
            "--count",
            "1",
            "--username",
            "scraper",
            "--password-file",
            password_file.to_str().unwrap(),
            &plain,
        ]),
        scrape(&["--period", "100ms", "--count", "1", &wrong]),
        scrape(&["--period", "100ms", "--count", "1", &plain]),
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

/// A CA made here, a server certificate for 127.0.0.1 and a client certificate it signs.
struct Pki {
    dir: PathBuf,
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
    let trusted =
        scrape(&["--period", "100ms", "--count", "1", "--ca-cert", &pki.path("ca.pem"), &url]);
    assert_eq!(message(&events(&trusted)[0]), None, "{}", stderr(&trusted));
    let untrusted = scrape(&["--period", "100ms", "--count", "1", &url]);
    assert_eq!(
        message(&events(&untrusted)[0]),
        Some(
            "TLS: the target's certificate is not signed by a CA this machine trusts: pass its \
             CA, or the certificate itself when it is self-signed, with --ca-cert (or ca_cert in \
             the targets file)"
        )
    );
    let insecure = scrape(&["--period", "100ms", "--count", "1", "--insecure-skip-verify", &url]);
    assert_eq!(message(&events(&insecure)[0]), None);
    assert_eq!(stderr(&insecure).matches("not verified").count(), 1, "{}", stderr(&insecure));
    // No https target: nothing goes unverified, and nothing is said.
    let plain = "http://127.0.0.1:9/debug/vars";
    let no_tls = scrape(&["--period", "100ms", "--count", "1", "--insecure-skip-verify", plain]);
    assert!(!stderr(&no_tls).contains("not verified"), "{}", stderr(&no_tls));

    let (ca_pem, client_pem, client_key) =
        (pki.path("ca.pem"), pki.path("client.pem"), pki.path("client.key"));
    let mutual = [&tls[..], &["-client-ca", &ca_pem]].concat();
    let service = Service::start(&mutual).unwrap();
    let url = format!("https://{}", service.address);
    let ca = ["--period", "100ms", "--count", "1", "--ca-cert", &pki.path("ca.pem")];
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

/// A self-signed certificate as `openssl req -x509` makes it (CA:TRUE, and the server's own):
/// trusted when `--ca-cert` is that very certificate, refused when it is another one.
#[test]
fn a_self_signed_certificate_given_with_ca_cert_is_trusted() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let dir = temp_dir("self-signed");
    for name in ["server", "other"] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let tls = ["-tls-cert", &path("server.pem"), "-tls-key", &path("server.key")];
    let Some(service) = Service::start(&tls) else { return };
    let url = format!("https://{}", service.address);
    let pinned = scrape(&["--count", "1", "--ca-cert", &path("server.pem"), &url]);
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    let event = &events(&pinned)[0];
    assert_eq!(message(event), None, "{event}");
    assert!(event["golang"]["heap"]["allocations"]["active"]["bytes"].is_u64());

    let other = scrape(&["--count", "1", "--ca-cert", &path("other.pem"), &url]);
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

/// The wrong scheme for the port, both ways: a sentence that says which one to use.
#[test]
fn the_wrong_scheme_says_which_to_use() {
    let pki = Pki::new();
    let tls = ["-tls-cert", &pki.path("server.pem"), "-tls-key", &pki.path("server.key")];
    let Some(plain) = Service::start(&[]) else { return };
    let output = scrape(&["--count", "1", &format!("https://{}", plain.address)]);
    assert_eq!(
        message(&events(&output)[0]),
        Some("TLS: the target did not answer in TLS (a plain HTTP port?): use http://")
    );
    let secure = Service::start(&tls).unwrap();
    let output = scrape(&["--count", "1", &format!("http://{}", secure.address)]);
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
    let mut child = expvar_heap()
        .args(["scrape", "--period", "100ms", &format!("http://{}", service.address)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap(); // the first event is on its way
    std::thread::sleep(Duration::from_millis(350));
    assert!(
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success()
    );
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8([&first[..], &rest].concat()).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{} events", lines.len());
    for line in lines {
        serde_json::from_str::<Value>(line).unwrap();
    }
    assert!(stderr(&output).contains("1 targets,"), "{}", stderr(&output));
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
    let (stall, _) = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{");
        std::thread::sleep(Duration::from_secs(40));
    });
    let mut child = expvar_heap()
        .args(["scrape", "--period", "60s", "--timeout", "30s", &format!("http://{stall}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let interrupt = |child: &Child| {
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    };
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the first interrupt waits for the scrape");
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("(again: at once)"), "{}", stderr(&output));
    assert!(output.stdout.is_empty(), "no event of the scrape cut short");
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
    // Prometheus's file_sd form; the next version of the file is ours, in TOML.
    std::fs::write(&file, format!("[{{\"targets\": [\"{}\"]}}]", &a["http://".len()..])).unwrap();
    let (child, mut next) =
        live_scrape(&["--period", "200ms", "--targets", file.to_str().unwrap()]);
    let address = |event: &Value| event["service"]["address"].as_str().unwrap_or("").to_owned();
    assert_eq!(address(&next()), a);
    // A SIGHUP with the file unchanged changes nothing (and does not end the run).
    let _ = Command::new("kill").args(["-HUP", &child.id().to_string()]).status();
    assert_eq!(address(&next()), a);

    // The file edited in place: A out, B in.
    std::fs::write(&file, format!("[{{\"targets\": [\"{}\"]}}]", &b["http://".len()..])).unwrap();
    // Within a few seconds B's events come, and after them no more of A's (one in flight may
    // come first).
    let mut seen = Vec::new();
    while seen.iter().filter(|s| **s == b).count() < 3 {
        seen.push(address(&next()));
        assert!(seen.len() < 60, "B never scraped: {seen:?}");
    }
    let first_b = seen.iter().position(|s| *s == b).unwrap();
    assert!(seen[first_b..].iter().all(|s| *s == b), "A scraped after B started: {seen:?}");
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let output = child.wait_with_output().unwrap();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("targets file read again: 1 targets added, 1 removed, 0 kept"),
        "{errors}"
    );

    // A file that cannot be used keeps the targets as they were, and says why.
    std::fs::write(&file, format!("[{{\"targets\": [\"{}\"]}}]", &a["http://".len()..])).unwrap();
    let (child, mut next) =
        live_scrape(&["--period", "200ms", "--targets", file.to_str().unwrap()]);
    assert_eq!(address(&next()), a);
    std::fs::write(&file, "[{\"targets\": [\"http://not-host-port\"]}]").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(address(&next()), a);
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let output = child.wait_with_output().unwrap();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("the targets file changed but cannot be used"), "{errors}");
    assert!(errors.contains("file_sd target is host:port"), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// A misbehaving server

/// Serves each connection with `answer`, on 127.0.0.1; counts the bytes it wrote.
fn fault_server(answer: fn(TcpStream, &AtomicUsize)) -> (String, &'static AtomicUsize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let written: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let stream = stream.unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                answer(stream, written);
            });
        }
    });
    (address, written)
}

/// One scrape of a target that fails: its event. The scrape counts as failed (a 200 answer that
/// is no expvar body too), so the run's exit status is 3, as for a failed health check.
fn scrape_one(address: &str, extra: &[&str]) -> Value {
    let url = format!("http://{address}");
    let output =
        scrape(&[&["--period", "100ms", "--count", "1"][..], extra, &[url.as_str()]].concat());
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 targets, 1 scrapes (1 failed)"), "{}", stderr(&output));
    events(&output).remove(0)
}

#[test]
fn faults_of_the_target_become_error_events() {
    // Headers, then nothing.
    let (stall, _) = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{");
        std::thread::sleep(Duration::from_secs(5));
    });
    assert_eq!(message(&scrape_one(&stall, &["--timeout", "300ms"])), Some("timeout after 300ms"));

    // A body that never ends: cut at the limit, and the rest is never read.
    let (endless, written) = fault_server(|mut s, written| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
        let chunk = [b'7'; 64 << 10];
        while s.write_all(&chunk).is_ok() {
            if written.fetch_add(chunk.len(), Ordering::Relaxed) > 1 << 30 {
                break;
            }
        }
    });
    let event = scrape_one(&endless, &["--max-body-bytes", "1000000"]);
    assert!(
        message(&event).unwrap().starts_with("body over the size limit of 1000000 bytes"),
        "{event}"
    );
    assert_eq!(event["event"]["original"].as_str().unwrap().len(), 64 << 10);
    assert!(written.load(Ordering::Relaxed) < 64 << 20, "the tool kept reading an endless body");

    // Error pages keep their body.
    let (missing, _) = fault_server(|mut s, _| {
        let page = "<html><body>404 page not found</body></html>";
        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{page}", page.len());
    });
    let event = scrape_one(&missing, &[]);
    assert_eq!(message(&event), Some("HTTP 404 Not Found"));
    assert_eq!(event["event"]["original"], "<html><body>404 page not found</body></html>");
    let (broken, _) = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
    });
    assert_eq!(message(&scrape_one(&broken, &[])), Some("HTTP 500 Internal Server Error"));

    // A redirect to itself, forever.
    let (looping, _) = fault_server(|mut s, _| {
        let _ = s
            .write_all(b"HTTP/1.1 302 Found\r\nLocation: /debug/vars\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    assert_eq!(message(&scrape_one(&looping, &[])), Some("too many redirects (a redirect loop?)"));

    // The connection closed mid-body.
    let (cut, _) = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n{\"memstats\":{");
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let event = scrape_one(&cut, &[]);
    assert!(message(&event).unwrap().starts_with("the body was cut short"), "{event}");

    // Not JSON: the transform says so, with the body kept.
    let (text, _) = fault_server(|mut s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world");
    });
    let event = scrape_one(&text, &[]);
    assert!(message(&event).unwrap().starts_with("body is not valid JSON"), "{event}");
    assert_eq!(event["event"]["original"], "hello world");

    // Nobody listening.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    assert_eq!(message(&scrape_one(&dead, &[])), Some("connection refused"));
}

/// A 200 answer with `body` as JSON, and the connection closed.
fn answer_json(mut stream: TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
}

/// Milliseconds into the day of an event's `@timestamp`.
fn millis_of_day(event: &Value) -> u64 {
    let text = event["@timestamp"].as_str().unwrap();
    let (hms, millis) = (&text[11..19], &text[20..23]);
    let seconds: Vec<u64> = hms.split(':').map(|n| n.parse().unwrap()).collect();
    (seconds[0] * 3600 + seconds[1] * 60 + seconds[2]) * 1000 + millis.parse::<u64>().unwrap()
}

/// A target whose body takes long to transform (100,000 custom variables, with both datasets:
/// over a second each) delays no other target's scrapes: a normal target's scrapes stay on their
/// ticks, one period apart, and all their events come.
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
    let (slow, _) = fault_server(|s, _| answer_json(s, SLOW.get().unwrap()));
    let (fast, _) = fault_server(|s, _| answer_json(s, FAST.get().unwrap()));
    let (slow, fast) = (format!("http://{slow}"), format!("http://{fast}"));
    let output = scrape(&["--period", "400ms", "--count", "6", "--dataset", "all", &slow, &fast]);
    assert!(output.status.success(), "{}", stderr(&output));
    let events = events(&output);
    let of = |url: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| {
                e["service"]["address"] == url && e["data_stream"]["dataset"] == "golang.heap"
            })
            .collect()
    };
    let (slow_events, fast_events) = (of(&slow), of(&fast));
    assert_eq!(fast_events.len(), 6, "{}", stderr(&output));
    assert_eq!(slow_events.len(), 6, "{}", stderr(&output));
    for pair in fast_events.windows(2) {
        let apart = (millis_of_day(pair[1]) + 86_400_000 - millis_of_day(pair[0])) % 86_400_000;
        assert!(apart < 600, "the normal target's scrapes came {apart} ms apart (period 400 ms)");
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("expvar-heap-scrape-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
