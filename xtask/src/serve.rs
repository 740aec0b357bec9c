//! `cargo xtask serve`: the playground on loopback, for trying it in a browser.

use anyhow::{Context, Result};
use expvar_heap_test_support::root;

use crate::playground;

/// Serves dist/playground on loopback until interrupted.
pub fn serve() -> Result<()> {
    let port: u16 = std::env::args().nth(2).map(|p| p.parse()).transpose()?.unwrap_or(8080);
    let site = root().join("dist/playground");
    playground::build(&site)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).with_context(|| {
        format!("cannot listen on 127.0.0.1:{port} (another port: cargo xtask serve PORT)")
    })?;
    eprintln!("serving the playground on http://127.0.0.1:{port}/ (Ctrl-C stops)");
    for stream in listener.incoming() {
        if let Err(e) = serve_one(&site, stream?) {
            eprintln!("request failed: {e:#}");
        }
    }
    Ok(())
}

/// Answers one GET with a file of the site (no directory listing, nothing outside the site).
fn serve_one(site: &std::path::Path, mut stream: std::net::TcpStream) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let mut request = String::new();
    BufReader::new(&stream).read_line(&mut request)?;
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/").trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = site.join(path);
    let found = !path.split('/').any(|part| part == "..") && file.is_file();
    let (status, body) = if found {
        ("200 OK", std::fs::read(&file)?)
    } else {
        ("404 Not Found", b"not found".to_vec())
    };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "text/plain",
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    Ok(())
}
