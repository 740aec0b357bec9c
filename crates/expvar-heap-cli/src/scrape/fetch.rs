//! One scrape of one target: a GET with the target's credentials and headers, the redirects
//! that keep them to the target's origin followed, the body read up to the size limit, and every
//! way it can fail told in one line that names no credential.
//!
//! Redirects are followed here, not by reqwest (its client follows none and sends no Referer):
//! 301, 302, 303, 307 and 308, at most [`MAX_REDIRECTS`] in a scrape, each `Location` resolved
//! against the URL it answered. To the target's own origin (scheme, host and port), the request
//! goes again with everything (auth, headers). To another origin, a target that carries any
//! credential (basic or bearer auth, a header of its own, a client certificate) does not go at
//! all, so that none of them reaches a host it was not given for; a target without any follows
//! it, as there is nothing to leak.

use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::header::LOCATION;
use reqwest::{Client, Response, StatusCode, Url};

use super::targets::{Auth, Target};

use crate::unread::{self, KEPT_BYTES};

/// The redirects one scrape follows at most.
pub const MAX_REDIRECTS: usize = 10;

/// Why a scrape gave no body to transform.
#[derive(Debug)]
pub struct Failure {
    /// One line: what failed.
    pub message: String,
    /// What the target answered, when it did: its first [`KEPT_BYTES`].
    pub body: Vec<u8>,
}

/// Fetches the target's body, following its redirects as the module's documentation says;
/// `timeout` bounds the whole scrape, redirects included.
pub async fn fetch(
    client: &Client,
    target: &Target,
    timeout: Duration,
    max_body_bytes: usize,
) -> Result<Vec<u8>, Failure> {
    let deadline = Instant::now() + timeout;
    let failed = |message: String| Failure { message, body: Vec::new() };
    let home = origin(&target.url);
    let mut url = target.url.clone();
    let mut redirects = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(failed(timed_out(timeout)));
        }
        let mut request = client.get(url.clone()).timeout(left);
        // The target's credentials go to its own origin only (and a target that has any never
        // leaves it).
        if origin(&url) == home {
            for (name, value) in &target.headers {
                request = request.header(name, value);
            }
            request = match &target.auth {
                Auth::None => request,
                Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
                Auth::Bearer(token) => request.bearer_auth(token),
            };
        }
        let mut response =
            request.send().await.map_err(|e| failed(describe(&e, timeout, target)))?;
        let status = response.status();
        let limit = if status.is_success() { max_body_bytes } else { KEPT_BYTES };
        let (mut body, over) = read(&mut response, limit, timeout, target).await?;
        if is_redirect(status) {
            match next_url(&response, &url, target, redirects) {
                Ok(next) => {
                    url = next;
                    redirects += 1;
                    continue;
                }
                Err(message) => return Err(Failure { message, body }),
            }
        }
        if !status.is_success() {
            let mut message = http_status(status);
            if status == StatusCode::BAD_REQUEST && url.scheme() == "http" && speaks_tls(&body) {
                message.push_str(": the target serves HTTPS on this port: use https://");
            }
            if status == StatusCode::NOT_FOUND {
                message.push_str(&not_found(&url));
            }
            return Err(Failure { message, body });
        }
        if over {
            body.truncate(KEPT_BYTES);
            let message = unread::over_limit(max_body_bytes, body.len());
            return Err(Failure { message, body });
        }
        return Ok(body);
    }
}

/// The body of `response`, up to `limit` bytes, and whether there was more (the rest is not
/// read: the connection is dropped).
async fn read(
    response: &mut Response,
    limit: usize,
    timeout: Duration,
    target: &Target,
) -> Result<(Vec<u8>, bool), Failure> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    body.extend_from_slice(&chunk[..limit - body.len()]);
                    return Ok((body, true));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok((body, false)),
            Err(e) => {
                let message = describe(&e, timeout, target);
                body.truncate(KEPT_BYTES);
                return Err(Failure { message, body });
            }
        }
    }
}

/// Whether `status` is a redirect that is followed (300, 304 and 305 are not: their answer is
/// no body to transform, and says so as any other status does).
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Where the redirect `response` to a request for `url` leads, or why it is not followed: its
/// message. `redirects`: those followed before it.
fn next_url(
    response: &Response,
    url: &Url,
    target: &Target,
    redirects: usize,
) -> Result<Url, String> {
    let code = response.status().as_u16();
    if redirects >= MAX_REDIRECTS {
        return Err("too many redirects (a redirect loop?)".to_owned());
    }
    let Some(location) = response.headers().get(LOCATION) else {
        return Err(format!("HTTP {code} redirect without a Location header"));
    };
    let next = std::str::from_utf8(location.as_bytes())
        .ok()
        .and_then(|location| url.join(location.trim()).ok())
        .filter(|next| matches!(next.scheme(), "http" | "https") && next.host().is_some());
    // The Location itself is never shown: its path or query may hold a token.
    let Some(mut next) = next else {
        return Err(format!("HTTP {code} redirect to a Location that is no http(s) URL"));
    };
    // Userinfo in a Location would become basic auth; a fragment is never sent.
    let _ = next.set_username("");
    let _ = next.set_password(None);
    next.set_fragment(None);
    let to = origin(&next);
    if to != origin(&target.url) && has_credentials(target) {
        return Err(format!(
            "HTTP {code} redirect to {to}, another origin: not followed, so that this target's \
             credentials (auth, headers, client certificate) stay with it; scrape that URL \
             directly"
        ));
    }
    Ok(next)
}

/// The origin of an http(s) URL, `scheme://host:port` (the port always written): what two URLs
/// must share for a target's credentials to go to both.
fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or_default();
    format!("{}://{host}:{port}", url.scheme())
}

/// Whether the target sends anything that is its own: basic or bearer auth, a header, or a
/// client certificate (which its client presents to any server that asks).
fn has_credentials(target: &Target) -> bool {
    !matches!(target.auth, Auth::None)
        || !target.headers.is_empty()
        || target.tls.client_cert.is_some()
}

fn timed_out(timeout: Duration) -> String {
    format!("timeout after {}", humantime::format_duration(timeout))
}

/// The TLS error inside an error, through the `io::Error`s that may wrap it (hyper and tokio-rustls
/// each wrap it once).
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
    tls_error(inner)
}

/// Whether a 400 page is a TLS server's answer to plain HTTP: Go's `net/http` writes "Client sent
/// an HTTP request to an HTTPS server." (`server.go`, `conn.serve`, on a `tls.RecordHeaderError`
/// that looks like HTTP), nginx "The plain HTTP request was sent to HTTPS port".
fn speaks_tls(page: &[u8]) -> bool {
    let page = String::from_utf8_lossy(page);
    [
        "Client sent an HTTP request to an HTTPS server",
        "The plain HTTP request was sent to HTTPS port",
    ]
    .iter()
    .any(|says| page.contains(says))
}

/// What a 404 most often means for a scrape: the service serves no `/debug/vars` (it does once
/// it imports `expvar`, on the default mux), or the URL's own path is not where it does.
fn not_found(url: &reqwest::Url) -> String {
    if url.path() == super::targets::DEFAULT_PATH {
        format!(
            ": the service serves no {}: it does once it imports \"expvar\" (on \
             http.DefaultServeMux; a service with a mux of its own must add expvar.Handler())",
            super::targets::DEFAULT_PATH
        )
    } else {
        format!(
            ": nothing is served at {}, the path of the URL (used as given; with no path, {} \
             is scraped)",
            url.path(),
            super::targets::DEFAULT_PATH
        )
    }
}

fn http_status(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// One line for a failed request. The URL is never part of it (the caller's address is the
/// event's `service.address`), and credentials never reach it.
pub fn describe(error: &reqwest::Error, timeout: Duration, target: &Target) -> String {
    if error.is_timeout() {
        return timed_out(timeout);
    }
    let client_cert = target.tls.client_cert.is_some();
    let mut source = error.source();
    let mut deepest = None;
    while let Some(cause) = source {
        if let Some(tls) = tls_error(cause) {
            return super::tls::describe(tls, client_cert);
        }
        if cause.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_canceled) {
            // hyper's dispatcher saw the connection end before an answer (the TLS alert that
            // may have ended it stays inside hyper). Go's TLS server does so to a client without
            // a certificate when it requires one.
            let mut message = "the target closed the connection without answering".to_owned();
            if target.url.scheme() == "https" && !client_cert {
                message.push_str(
                    " (a target that requires a client certificate does so: pass --client-cert \
                     and --client-key)",
                );
            }
            return message;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // rustls reports an alert from the peer, once the handshake is done, as the text
            // of an io::Error ("received fatal alert: BadCertificate").
            if let Some(alert) = super::tls::alert_in(&io.to_string()) {
                return super::tls::alert_received(alert, client_cert);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => {
                    return "connection reset by the target".to_owned();
                }
                _ => {}
            }
        }
        deepest = Some(cause);
        source = cause.source();
    }
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the body was cut short"
    } else {
        "the request failed"
    };
    match deepest {
        Some(cause) => format!("{what}: {cause}"),
        None => what.to_owned(),
    }
}
