//! One scrape of one target: a GET with the target's credentials and headers, the body read up to
//! the size limit, and every way it can fail told in one line that names no credential.

use std::error::Error as _;
use std::time::Duration;

use reqwest::{Client, StatusCode};

use super::targets::{Auth, Target};

use crate::unread::{self, KEPT_BYTES};

/// Why a scrape gave no body to transform.
#[derive(Debug)]
pub struct Failure {
    /// One line: what failed.
    pub message: String,
    /// What the target answered, when it did: its first [`KEPT_BYTES`].
    pub body: Vec<u8>,
}

/// Fetches the target's body.
pub async fn fetch(
    client: &Client,
    target: &Target,
    timeout: Duration,
    max_body_bytes: usize,
) -> Result<Vec<u8>, Failure> {
    let mut request = client.get(target.url.clone()).timeout(timeout);
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    request = match &target.auth {
        Auth::None => request,
        Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        Auth::Bearer(token) => request.bearer_auth(token),
    };
    let failed = |message: String| Failure { message, body: Vec::new() };
    let mut response = request.send().await.map_err(|e| failed(describe(&e, timeout, target)))?;
    let status = response.status();
    let limit = if status.is_success() { max_body_bytes } else { KEPT_BYTES };
    let mut body = Vec::new();
    let mut over = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    body.extend_from_slice(&chunk[..limit - body.len()]);
                    over = true;
                    break; // the rest is not read: the connection is dropped
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                let message = describe(&e, timeout, target);
                body.truncate(KEPT_BYTES);
                return Err(Failure { message, body });
            }
        }
    }
    if !status.is_success() {
        let mut message = http_status(status);
        if status == StatusCode::BAD_REQUEST && target.url.scheme() == "http" && speaks_tls(&body) {
            message.push_str(": the target serves HTTPS on this port: use https://");
        }
        return Err(Failure { message, body });
    }
    if over {
        body.truncate(KEPT_BYTES);
        let message = unread::over_limit(max_body_bytes, body.len());
        return Err(Failure { message, body });
    }
    Ok(body)
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
        return format!("timeout after {}", humantime::format_duration(timeout));
    }
    if error.is_redirect() {
        return "too many redirects (a redirect loop?)".to_owned();
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
