//! `expvar-heap watch`: the fleet of `scrape`, and a live page of its targets' heaps.
//!
//! - `hub`: each target's kept scrapes and the live stream of new ones, for the pages;
//! - `server`: the page's HTTP server (its files embedded, the event stream, the `Host` check);
//! - `www/`: the page itself, drawing with the playground's chart module.

mod hub;
mod server;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::args::WatchArgs;
use crate::scrape::{Ndjson, Observer, Prepared};
use hub::Hub;

pub fn run(args: WatchArgs) -> Result<ExitCode> {
    let period = args.scrape.period;
    if period.is_zero() {
        bail!("--period must be longer than zero");
    }
    if args.history < period {
        bail!("--history must be at least one --period");
    }
    // Everything that can fail at start does, before the page is served and its URL printed.
    let output = args.scrape.output.clone();
    let prepared = Prepared::new(args.scrape)?;
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if let Some(path) = output {
        observers.push(Box::new(Ndjson::open(Some(&path))?));
    }
    let listener = TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let address = listener.local_addr()?;
    let keep = (args.history.as_secs_f64() / period.as_secs_f64()).ceil() as usize;
    let hub = Arc::new(Hub::new(keep, period));
    server::serve(listener, hub.clone(), &args.allow_hosts)?;
    if let Some(warning) = exposed(address) {
        eprintln!("expvar-heap: warning: {warning}");
    }
    eprintln!(
        "expvar-heap: the page is at http://{} (the last {keep} scrapes of each target)",
        server::page_url(address)
    );
    observers.push(Box::new(hub::Publisher(hub)));
    prepared.run(observers)
}

/// What to warn of when the page listens beyond loopback.
fn exposed(address: SocketAddr) -> Option<String> {
    (!address.ip().is_loopback()).then(|| {
        format!(
            "the page listens on {address}, not on loopback: whoever reaches it sees the targets' command lines and memory figures"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_beyond_loopback_is_warned_about() {
        for quiet in ["127.0.0.1:6061", "127.0.0.9:1", "[::1]:6061"] {
            assert_eq!(exposed(quiet.parse().unwrap()), None, "{quiet}");
        }
        for loud in ["0.0.0.0:6061", "10.0.0.5:80", "[::]:6061"] {
            let warning = exposed(loud.parse().unwrap()).unwrap();
            assert!(warning.contains("command lines and memory figures"), "{warning}");
        }
    }
}
