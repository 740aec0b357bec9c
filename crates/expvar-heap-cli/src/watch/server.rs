//! The page's server: HTTP/1.1 on its own thread (so that no page, however slow or many, takes
//! time from the scrapes), GET on its own paths only, and only for requests whose `Host` no
//! other web site can have sent (see [`host_allowed`]). No CORS header is sent. The page's
//! files are embedded in the binary.
//!
//! Memory: each open stream holds at most its history (frames the hub keeps anyway) and
//! [`PAGE_LIVE_BYTES`] of live frames the page has not read; a page further behind is cut off
//! (its browser reconnects and starts again from the history). At most [`MAX_STREAMS`] streams
//! are open at once.

use std::convert::Infallible;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{Notify, broadcast, mpsc};

use super::hub::Hub;

/// The page's files: its own, and the chart module it shares with the playground.
const FILES: [(&str, &str, &str); 6] = [
    ("/", "text/html; charset=utf-8", include_str!("www/index.html")),
    ("/watch.js", "text/javascript; charset=utf-8", include_str!("www/watch.js")),
    ("/triage.js", "text/javascript; charset=utf-8", include_str!("www/triage.js")),
    ("/watch.css", "text/css; charset=utf-8", include_str!("www/watch.css")),
    (
        "/charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../expvar-heap-web/www/charts.js"),
    ),
    (
        "/charts.css",
        "text/css; charset=utf-8",
        include_str!("../../../expvar-heap-web/www/charts.css"),
    ),
];

/// The only place scripts, styles and the stream may come from: this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A comment line sent on an idle stream, so that a page (and anything between) sees it alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Live bytes a page may leave unread before it is cut off (its history aside).
pub const PAGE_LIVE_BYTES: usize = 8 << 20;

/// Event streams open at once, at most; past them a page gets 503.
pub const MAX_STREAMS: usize = 16;

/// Whether a request's `Host` may be answered. A web page elsewhere can make a browser send a
/// request here only under a name of its own that it resolves to this address (DNS rebinding),
/// and its scripts may read the answer because the name is its own; so a DNS name is answered
/// only when the user named it (`--allow-host`). Every other Host cannot come from such a page:
/// `localhost` resolves to loopback in every browser, and an IP address literal (`127.0.0.1`,
/// `[::1]`, the machine's own addresses, a NAT's) is an origin no other site's script can read.
/// The port is not compared: a tunnel (`ssh -L 9000:localhost:6061`, `kubectl port-forward`)
/// or a published container port changes it.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        // [IPv6]:port
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => {
                return ip.parse::<std::net::Ipv6Addr>().is_ok();
            }
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return false;
    }
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
        || allowed.iter().any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// The port of a Host: digits.
fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

/// The page's URL, without its scheme: an unspecified listen address (0.0.0.0, [::]) is reached
/// on loopback.
pub fn page_url(address: SocketAddr) -> String {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{}/", SocketAddr::new(ip, address.port()))
}

/// What every connection shares: the hub, the names allowed as `Host`, the count of open
/// streams.
struct Shared {
    hub: Arc<Hub>,
    allowed: Vec<String>,
    streams: AtomicUsize,
}

/// Serves the page on `listener` from a thread of its own, until the process ends.
/// `allow_hosts`: the DNS names (`--allow-host`) answered besides loopback names and addresses.
pub fn serve(listener: TcpListener, hub: Arc<Hub>, allow_hosts: &[String]) -> Result<()> {
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared {
        hub,
        allowed: allow_hosts.iter().map(|h| h.trim_end_matches('.').to_owned()).collect(),
        streams: AtomicUsize::new(0),
    });
    std::thread::Builder::new()
        .name("page server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return eprintln!("expvar-heap: the page server cannot start: {e}"),
            };
            runtime.block_on(accept(listener, shared));
        })
        .context("cannot start the page server")?;
    Ok(())
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => return eprintln!("expvar-heap: the page server cannot listen: {e}"),
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: try again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            // Set when a stream of this connection falls too far behind: the connection is then
            // dropped, with whatever it has not sent.
            let cut = Arc::new(Notify::new());
            let service = {
                let cut = cut.clone();
                hyper::service::service_fn(move |request| {
                    let response = answer(&request, &shared, &cut);
                    async move { Ok::<_, Infallible>(response) }
                })
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // A connection that breaks, or is cut, ends here; it concerns no one else.
            tokio::select! {
                _ = connection => {}
                () = cut.notified() => {}
            }
        });
    }
}

/// The answer to one request.
fn answer(request: &Request<Incoming>, shared: &Arc<Shared>, cut: &Arc<Notify>) -> Response<Body> {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(host, &shared.allowed) {
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server does not answer requests for {host:?}: open it by an IP address or \
                 localhost, or start it with --allow-host NAME for a DNS name that leads to it\n"
            ),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = request.uri().path();
    if path == "/events" {
        return events(shared, cut.clone(), accepts_gzip(request.headers()));
    }
    match FILES.iter().find(|(file, _, _)| *file == path) {
        Some((_, kind, text)) => {
            respond(StatusCode::OK, kind, Body::Full(Some(Bytes::from(*text))))
        }
        None => plain(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// Whether a request's `Accept-Encoding` takes gzip (with a quality above 0, if it gives one).
fn accepts_gzip(headers: &header::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let zero = parts.any(|p| {
                p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
        })
    })
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", Body::Full(Some(Bytes::from(text))))
}

fn respond(status: StatusCode, kind: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
}

/// An open stream, counted while it lives.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The event stream: the kept history, then the live frames. A task of its own takes every live
/// frame as it comes (so that the hub's channel never holds frames for this page) and queues it
/// for the page; when the page has more than [`PAGE_LIVE_BYTES`] of live frames unread, its
/// connection is cut (`cut`): the browser reconnects and starts again from the history.
///
/// With `gzip` (the browser takes it: every browser does), the stream is one gzip stream, flushed
/// after each batch of frames (what was queued when the connection took the last one), so that
/// each scrape reaches the page at once; the history, about 700 bytes a scrape, shrinks about
/// sevenfold. At the fastest level: miniz_oxide's default level took 1.4 s for the 15 MB history of
/// 6 targets x 3,600 scrapes (1.46 MB out), the fastest 0.22 s (2.02 MB), and that time is the
/// page's wait for its first rows.
fn events(shared: &Arc<Shared>, cut: Arc<Notify>, gzip: bool) -> Response<Body> {
    shared.streams.fetch_add(1, Ordering::Relaxed);
    let open = Open(shared.clone());
    if shared.streams.load(Ordering::Relaxed) > MAX_STREAMS {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{MAX_STREAMS} pages are open already: close one (each tab of the page holds a \
                 stream), then reload this one\n"
            ),
        );
    }
    let (history, mut live) = shared.hub.subscribe();
    // What the page may leave unread: its history, and the live bytes on top.
    let bound = history.iter().map(Bytes::len).sum::<usize>() + PAGE_LIVE_BYTES;
    let unread = Arc::new(AtomicUsize::new(0));
    let (to_page, frames) = mpsc::unbounded_channel::<Bytes>();
    for frame in history {
        unread.fetch_add(frame.len(), Ordering::Relaxed);
        let _ = to_page.send(frame);
    }
    let gzip = gzip.then(|| Box::new(GzEncoder::new(Vec::new(), Compression::fast())));
    let body = Body::Stream { frames, unread: unread.clone(), gzip };
    tokio::spawn(async move {
        let _open = open;
        let mut idle = tokio::time::interval(KEEP_ALIVE);
        idle.tick().await;
        loop {
            let frame = tokio::select! {
                frame = live.recv() => match frame {
                    Ok(frame) => frame,
                    // The page server's thread itself fell behind, or the hub is gone.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => break,
                },
                _ = idle.tick() => Bytes::from_static(b": alive\n\n"),
                () = to_page.closed() => return,
            };
            if unread.load(Ordering::Relaxed) + frame.len() > bound {
                break;
            }
            unread.fetch_add(frame.len(), Ordering::Relaxed);
            if to_page.send(frame).is_err() {
                return;
            }
        }
        cut.notify_one();
    });
    let mut response = respond(StatusCode::OK, "text/event-stream", body);
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if matches!(response.body(), Body::Stream { gzip: Some(_), .. }) {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// A response body: a whole file, or the event stream's frames as they come (`unread`: the
/// bytes queued and not yet taken by the connection, before compression; `gzip`: the stream's
/// encoder, when the page takes gzip).
pub enum Body {
    Full(Option<Bytes>),
    Stream {
        frames: mpsc::UnboundedReceiver<Bytes>,
        unread: Arc<AtomicUsize>,
        gzip: Option<Box<GzEncoder<Vec<u8>>>>,
    },
}

/// The most bytes of frames compressed into one piece of the body: a history of many MB goes
/// out in pieces, each sent as it is made.
const GZIP_BATCH_BYTES: usize = 256 << 10;

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream { frames, unread, gzip: None } => frames.poll_recv(cx).map(|frame| {
                frame.map(|bytes| {
                    unread.fetch_sub(bytes.len(), Ordering::Relaxed);
                    Ok(Frame::data(bytes))
                })
            }),
            Body::Stream { frames, unread, gzip: Some(encoder) } => {
                let Some(first) = std::task::ready!(frames.poll_recv(cx)) else {
                    return Poll::Ready(None);
                };
                // This frame and every one queued behind it, up to a batch, then a sync flush:
                // the page can decode all of it now.
                let mut taken = 0;
                let mut next = Some(first);
                while let Some(frame) = next.take() {
                    taken += frame.len();
                    // Writing to a Vec fails only when memory does.
                    encoder.write_all(&frame).expect("compressing into memory");
                    if taken < GZIP_BATCH_BYTES {
                        next = frames.try_recv().ok();
                    }
                }
                encoder.flush().expect("compressing into memory");
                unread.fetch_sub(taken, Ordering::Relaxed);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(std::mem::take(encoder.get_mut()))))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, Bytes::len) as u64),
            Body::Stream { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_no_other_site_can_send_are_answered() {
        let allowed = ["watch.internal.example".to_owned()];
        for host in [
            "127.0.0.1:6061",
            "localhost:9000",
            "LOCALHOST",
            "localhost.:80",
            "[::1]:6061",
            "[::1]",
            "10.1.2.3:80",
            "192.168.0.7",
            "[fe80::1]:6061",
            "watch.internal.example:443",
            "WATCH.internal.example.",
        ] {
            assert!(host_allowed(host, &allowed), "{host}");
        }
        for host in [
            "",
            "attacker.example:6061",
            "attacker.example",
            "localhost.attacker.example:6061",
            "127.0.0.1.attacker.example",
            "watch.internal.example.attacker.example",
            "[::1",
            "[::1]x",
            "[::1]6061",
            "[nonsense]:1",
            "127.0.0.1:http",
            ":6061",
            "10.1.2.3:123456",
        ] {
            assert!(!host_allowed(host, &allowed), "{host:?}");
        }
        assert!(!host_allowed("watch.internal.example", &[]));
    }

    #[test]
    fn an_unspecified_address_is_reached_on_loopback() {
        assert_eq!(page_url("0.0.0.0:6061".parse().unwrap()), "127.0.0.1:6061/");
        assert_eq!(page_url("[::]:6061".parse().unwrap()), "[::1]:6061/");
        assert_eq!(page_url("10.0.0.5:80".parse().unwrap()), "10.0.0.5:80/");
    }
}
