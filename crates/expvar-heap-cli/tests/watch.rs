//! `expvar-heap watch`'s page server, over raw HTTP on loopback: its files and event stream, the
//! requests it refuses (another `Host`, another method, another path), no CORS header, and no
//! credential in anything it serves. (The page itself is tested in Chromium:
//! `host-test/js/watch.test.mjs`.)

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for an answer it expects: long enough to matter only when something is
/// truly broken, on any machine however loaded.
const WAIT: Duration = Duration::from_secs(30);

/// `expvar-heap watch ARGS`, and the address of its page (read from its first line on stderr).
fn watch(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .arg("watch")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(at) = line.find("http://") {
            let address = line[at + 7..].split('/').next().unwrap_or("").to_owned();
            // The rest of stderr is read (and dropped) as it comes: a closed pipe would fail the
            // tool's next line.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, address);
        }
    }
    let _ = child.kill();
    let status = child.wait();
    panic!("watch printed no address ({status:?})");
}

/// One request; the answer's head (lower-cased names) and its body, read until the server closes
/// the connection or, for a stream, until the answer `has` what is looked for (at most [`WAIT`]).
fn request(address: &str, head: &str, has: impl Fn(&str) -> bool) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut answer = Vec::new();
    let mut buffer = [0; 65536];
    while Instant::now() < deadline && !has(&String::from_utf8_lossy(&answer)) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_ascii_lowercase(), body.to_owned())
}

/// A GET answered whole (the server closes the connection after it: `Connection: close`).
fn get(address: &str, path: &str, host: &str) -> (String, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    request(address, &head, |_| false)
}

#[test]
fn the_page_server_answers_its_own_requests_only_and_shows_no_credential() {
    let (mut child, address) = watch(&[
        "--listen",
        "127.0.0.1:0",
        "--period",
        "300ms",
        "--header",
        "Authorization: Bearer tok-SECRET-1",
        // Nothing listens on port 1: every scrape fails, with a message.
        "http://someone:pass-SECRET-2@127.0.0.1:1",
    ]);
    let port = address.rsplit(':').next().unwrap();

    let (head, body) = get(&address, "/", &address);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'"), "{head}");
    assert!(!head.contains("access-control-"), "{head}");
    assert!(body.contains("<script type=\"module\" src=\"watch.js\">"), "{body}");
    for path in ["/watch.js", "/charts.js", "/watch.css", "/charts.css"] {
        let (head, body) = get(&address, path, &format!("localhost:{port}"));
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(!body.is_empty(), "{path}");
    }
    // The chart module is the playground's own.
    let (_, charts) = get(&address, "/charts.js", &address);
    let playground = concat!(env!("CARGO_MANIFEST_DIR"), "/../expvar-heap-web/www/charts.js");
    assert_eq!(charts, std::fs::read_to_string(playground).unwrap());

    // Another name for this address (DNS rebinding), another method, another path.
    let (head, _) = get(&address, "/", &format!("attacker.example:{port}"));
    assert!(head.starts_with("http/1.1 421"), "{head}");
    let (head, _) = get(&address, "/events", "attacker.example");
    assert!(head.starts_with("http/1.1 421"), "{head}");
    let post = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (head, _) = request(&address, &post, |_| false);
    assert!(head.starts_with("http/1.1 405"), "{head}");
    let (head, _) = get(&address, "/../etc/passwd", &address);
    assert!(head.starts_with("http/1.1 404"), "{head}");

    // The stream: hello, the target (its address without userinfo), its failed scrapes; read
    // until all of them came (a failed scrape within a period or so).
    let target = "event: target\ndata: {\"address\":\"http://127.0.0.1:1\",\"id\":0}\n\n";
    let events = format!("GET /events HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let (head, stream) = request(&address, &events, |answer| {
        answer.contains("event: hello\n")
            && answer.contains(target)
            && answer.contains("connection refused")
    });
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(stream.contains("event: hello\n"), "{stream}");
    assert!(stream.contains(target), "{stream}");
    assert!(stream.contains("connection refused"), "{stream}");
    assert!(!stream.contains("SECRET") && !stream.contains("someone"), "{stream}");

    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_history_shorter_than_a_period_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .args(["watch", "--listen", "127.0.0.1:0", "--history", "1s", "--period", "10s"])
        .arg("http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("--history must be at least one --period"), "{errors}");
}
