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

/// A connection with `head` sent on it, its reads waiting 200 ms at most (the readers loop).
fn send(address: &str, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    stream
}

/// One request; the answer's head (lower-cased names) and its body, read until the server closes
/// the connection or, for a stream, until the answer `has` what is looked for (at most [`WAIT`]).
fn request(address: &str, head: &str, has: impl Fn(&str) -> bool) -> (String, String) {
    let mut stream = send(address, head);
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

/// A request whose answer is a chunked, gzip-compressed stream: its head, and the text decoded
/// from the chunks that came in whole, read until `has` holds of it (or WAIT passed).
fn gzip_stream(address: &str, head: &str, has: impl Fn(&str) -> bool) -> (String, String) {
    let mut stream = send(address, head);
    let deadline = Instant::now() + WAIT;
    let mut answer = Vec::new();
    let mut buffer = [0; 65536];
    let mut text = String::new();
    let mut head = String::new();
    while Instant::now() < deadline && !has(&text) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        }
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        // The whole chunks so far, decoded as one gzip stream (a sync flush ends each).
        let mut body = &answer[end + 4..];
        let mut decoder = flate2::write::GzDecoder::new(Vec::new());
        while let Some(line) = body.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&body[..line]).unwrap(), 16).unwrap();
            if body.len() < line + 2 + size + 2 {
                break;
            }
            decoder.write_all(&body[line + 2..line + 2 + size]).unwrap();
            body = &body[line + 2 + size + 2..];
        }
        decoder.flush().unwrap();
        text = String::from_utf8_lossy(decoder.get_ref()).into_owned();
    }
    (head, text)
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
    // A scrape is a compact record: no ECS envelope, no credential; the kept ones come many to
    // a `history` frame, a new one in a frame of its own.
    assert!(
        stream.contains("event: history\ndata: {\"target\":0,\"scrapes\":[{\"t\":\"")
            || stream.contains("data: {\"target\":0,\"scrape\":{\"t\":\""),
        "{stream}"
    );
    assert!(!stream.contains("\"ecs\""), "{stream}");

    // Asked for gzip, the same stream comes compressed, each batch flushed so that it decodes at
    // once: the history through its `live` mark, and the scrapes after it.
    let gzip = format!(
        "GET /events HTTP/1.1\r\nHost: {address}\r\nAccept-Encoding: br, gzip;q=0.8\r\nConnection: close\r\n\r\n"
    );
    let (head, text) = gzip_stream(&address, &gzip, |text| {
        text.matches("connection refused").count() >= 2 && text.contains("event: live\n")
    });
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    assert!(text.starts_with("retry: 1000\nevent: hello\n"), "{text}");
    assert!(text.contains(target), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    // Refused with a quality of 0: not compressed.
    let refused = format!(
        "GET /events HTTP/1.1\r\nHost: {address}\r\nAccept-Encoding: gzip;q=0\r\nConnection: close\r\n\r\n"
    );
    let (head, stream) = request(&address, &refused, |answer| answer.contains("event: hello\n"));
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(stream.contains("event: hello\n"), "{stream}");

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

/// A target on 127.0.0.1 that answers every request with `body` (one request a connection).
/// Returns its address; its thread lives as long as the test process.
fn serve_body(body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    address
}

/// A real Go body with one more variable: a string of `bytes` bytes (so `--dataset all` makes
/// events of that size).
fn body_of(bytes: usize) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/go1.22/alloc/01.json");
    let body = std::fs::read_to_string(path).unwrap();
    let open = body.find('{').unwrap();
    format!("{{\"blob\": \"{}\",{}", "x".repeat(bytes), &body[open + 1..]).into_bytes()
}

/// The resident memory of a process, in bytes (Linux's /proc).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// The memory `watch` may use with one page that never reads, beyond what it used before that
/// page opened: the page's history (the hub's at most 16 MiB for the one target), the 8 MiB of
/// live frames it may leave unread, and room for the allocator's slack. Before the bound, it grew
/// by about 16 MB a second here (the live channel kept up to 4,096 frames for that page).
const STALLED_PAGE_BOUND: u64 = 96 << 20;

/// A page that opens the stream and never reads it (a laptop asleep with the page open) costs a
/// bounded amount of memory, and its connection is cut; pages that read are not hurt.
#[test]
fn a_page_that_never_reads_is_cut_off_and_memory_stays_bounded() {
    let target = serve_body(body_of(1 << 20));
    let (mut child, address) = watch(&[
        "--listen",
        "127.0.0.1:0",
        "--native",
        "--period",
        "100ms",
        "--history",
        "10s",
        "--dataset",
        "all",
        &format!("http://{target}"),
    ]);
    // Its history fills first (the hub keeps at most 16 MiB a target: 16 of these scrapes),
    // watched by a page that reads, so that the figure before the stalled page is the one of a
    // run with its history full: 24 MiB read is 20 scrapes or more.
    let head = format!("GET /events HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut reader = TcpStream::connect(&address).unwrap();
    reader.write_all(head.as_bytes()).unwrap();
    reader.set_read_timeout(Some(WAIT)).unwrap();
    let mut buffer = vec![0; 1 << 20];
    let mut read = 0;
    while read < 24 << 20 {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => panic!("the stream ended after {read} bytes"),
            Ok(n) => read += n,
        }
    }
    drop(reader);
    let before = rss(child.id());

    let mut stalled = TcpStream::connect(&address).unwrap();
    stalled.write_all(head.as_bytes()).unwrap();
    // 30 s of scrapes at 100 ms: about 300 frames of 1 MB for a page that reads none.
    let mut peak = before;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        peak = peak.max(rss(child.id()));
    }
    // The connection was cut: reading what the kernel holds for it ends (EOF or reset).
    stalled.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut read = 0usize;
    let cut = loop {
        match stalled.read(&mut buffer) {
            Ok(0) => break true,
            Ok(n) => read += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
        // A stream still live sends for ever.
        if Instant::now() > deadline {
            break false;
        }
    };
    let (before_mb, peak_mb) = (before >> 20, peak >> 20);
    let _ = child.kill();
    let _ = child.wait();
    assert!(cut, "the page that never read was not cut off ({read} bytes were waiting for it)");
    assert!(
        peak <= before + STALLED_PAGE_BOUND,
        "RSS {before_mb} MiB before the stalled page, {peak_mb} MiB at most in 30 s after it"
    );
    eprintln!(
        "RSS {before_mb} MiB before the stalled page, {peak_mb} MiB at most in 30 s after it"
    );
}

/// At most 16 streams are open at once; the next gets a 503 that says what to do, and a stream
/// closed makes room again.
#[test]
fn too_many_streams_get_a_clear_503() {
    let (mut child, address) =
        watch(&["--listen", "127.0.0.1:0", "--period", "200ms", "http://127.0.0.1:1"]);
    let head = format!("GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n");
    let open: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            stream
        })
        .collect();
    // Each of the 16 is answered 200 (the server counts it once it answers).
    for mut stream in &open {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut first = [0; 12];
        stream.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
    }
    let close = format!("GET /events HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let (refused, text) = request(&address, &close, |_| false);
    assert!(refused.starts_with("http/1.1 503"), "{refused}");
    assert!(text.contains("16 pages are open already: close one"), "{text}");
    // One page closes; its stream ends when the server next writes to it (a frame a period).
    drop(open.into_iter().next());
    let deadline = Instant::now() + WAIT;
    loop {
        let (head, _) = request(&address, &close, |answer| answer.contains("event: hello"));
        if head.starts_with("http/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no room after a page closed: {head}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Tunnels, port forwards and an unspecified listen address reach the page; other DNS names
/// do not, unless allowed.
#[test]
fn the_page_is_reached_through_tunnels_and_on_every_address() {
    let (mut child, address) = watch(&[
        "--listen",
        "0.0.0.0:0",
        "--allow-host",
        "watch.internal.example",
        "--period",
        "1s",
        "http://127.0.0.1:1",
    ]);
    // The URL printed for 0.0.0.0 is loopback's, which reaches it.
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let port = address.rsplit(':').next().unwrap();
    for host in [
        address.clone(),
        format!("0.0.0.0:{port}"),
        // ssh -L 9000:localhost:PORT, kubectl port-forward 9000:PORT
        "localhost:9000".to_owned(),
        "127.0.0.1:9000".to_owned(),
        "[::1]:9000".to_owned(),
        // This machine's address on its network, or a NAT's in front of it.
        format!("192.0.2.10:{port}"),
        "watch.internal.example:443".to_owned(),
    ] {
        let (head, _) = get(&address, "/", &host);
        assert!(head.starts_with("http/1.1 200"), "{host}: {head}");
    }
    for host in [format!("attacker.example:{port}"), "other.internal.example".to_owned()] {
        let (head, body) = get(&address, "/", &host);
        assert!(head.starts_with("http/1.1 421"), "{host}: {head}");
        assert!(body.contains("--allow-host"), "{body}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn watch_without_a_target_fails_before_serving_the_page() {
    let output = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .args(["watch", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("no target"), "{errors}");
    assert!(!errors.contains("http://127.0.0.1"), "{errors}");
}
