//! The page's server: HTTP/1.1 on its own thread (so that no page, however slow or many, takes
//! time from the scrapes), GET on its own paths only, and only for requests that name it in
//! `Host` (a web page elsewhere cannot read it by rebinding its own name to this address). No
//! CORS header is sent. The page's files are embedded in the binary.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{broadcast, mpsc};

use super::hub::Hub;

/// The page's files: its own, and the chart module it shares with the playground.
const FILES: [(&str, &str, &str); 5] = [
    ("/", "text/html; charset=utf-8", include_str!("www/index.html")),
    ("/watch.js", "text/javascript; charset=utf-8", include_str!("www/watch.js")),
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

/// The `Host` values a request may carry: the listen address, and for a loopback address the
/// loopback names with its port.
fn allowed_hosts(address: SocketAddr) -> Vec<String> {
    let mut hosts = vec![address.to_string()];
    if address.ip().is_loopback() {
        let port = address.port();
        for name in ["localhost", "127.0.0.1", "[::1]"] {
            hosts.push(format!("{name}:{port}"));
        }
    }
    hosts
}

/// Serves the page on `listener` from a thread of its own, until the process ends.
pub fn serve(listener: TcpListener, hub: Arc<Hub>) -> Result<()> {
    let address = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let hosts: Arc<[String]> = allowed_hosts(address).into();
    std::thread::Builder::new()
        .name("page server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return eprintln!("expvar-heap: the page server cannot start: {e}"),
            };
            runtime.block_on(accept(listener, hub, hosts));
        })
        .context("cannot start the page server")?;
    Ok(())
}

async fn accept(listener: TcpListener, hub: Arc<Hub>, hosts: Arc<[String]>) {
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
        let (hub, hosts) = (hub.clone(), hosts.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = answer(&request, &hub, &hosts);
                async move { Ok::<_, Infallible>(response) }
            });
            // A connection that breaks ends here; it concerns no one else.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer to one request.
fn answer(request: &Request<Incoming>, hub: &Arc<Hub>, hosts: &[String]) -> Response<Body> {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host)) {
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            format!("this server answers requests for http://{}/ only\n", hosts[0]),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = request.uri().path();
    if path == "/events" {
        return events(hub);
    }
    match FILES.iter().find(|(file, _, _)| *file == path) {
        Some((_, kind, text)) => {
            respond(StatusCode::OK, kind, Body::Full(Some(Bytes::from(*text))))
        }
        None => plain(StatusCode::NOT_FOUND, "not found\n".into()),
    }
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

/// The event stream: the kept history, then the live frames. A task of its own forwards them;
/// when the page reads too slowly for the live stream, the stream ends (the page reconnects and
/// starts again from the history), so that no page holds frames for long.
fn events(hub: &Arc<Hub>) -> Response<Body> {
    let (history, mut live) = hub.subscribe();
    let (to_page, frames) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        for frame in history {
            if to_page.send(frame).await.is_err() {
                return;
            }
        }
        let mut idle = tokio::time::interval(KEEP_ALIVE);
        idle.tick().await;
        loop {
            let frame = tokio::select! {
                frame = live.recv() => match frame {
                    Ok(frame) => frame,
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
                _ = idle.tick() => Bytes::from_static(b": alive\n\n"),
            };
            if to_page.send(frame).await.is_err() {
                return;
            }
        }
    });
    respond(StatusCode::OK, "text/event-stream", Body::Stream(frames))
}

/// A response body: a whole file, or the event stream's frames as they come.
pub enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(frames) => frames.poll_recv(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, Bytes::len) as u64),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listen_address_and_loopback_names_are_hosts() {
        let hosts = allowed_hosts("127.0.0.1:6061".parse().unwrap());
        assert_eq!(hosts, ["127.0.0.1:6061", "localhost:6061", "127.0.0.1:6061", "[::1]:6061"]);
        let hosts = allowed_hosts("10.1.2.3:80".parse().unwrap());
        assert_eq!(hosts, ["10.1.2.3:80"]);
    }
}
