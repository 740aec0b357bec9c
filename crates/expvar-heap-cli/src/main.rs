//! `expvar-heap`: turns Go `/debug/vars` bodies into Elastic `golang.heap` events, by running the
//! `golang:expvar/expvar-heap` WebAssembly component embedded in it (or the same library natively).
//!
//! - `args`: the flags, and how they become the core's options and the host's limits;
//! - `engine`: the embedded component, another one, or the native library;
//! - `run`: the transform command itself (inputs, oversize bodies, traps, the summary);
//! - `scrape`: the live agent (schedule, HTTP, TLS, credentials);
//! - `watch`: the same agent, and a live page of its targets' heaps;
//! - `templates`: the index templates command;
//! - `unread`: what becomes of a body that is not transformed (too large, or trapped on), for
//!   both commands.

mod args;
mod engine;
mod run;
mod scrape;
mod templates;
mod unread;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Transform(args) => run::transform(args),
        Command::Templates(args) => templates::print(args),
        Command::Scrape(args) => scrape::run(*args),
        Command::Watch(args) => watch::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("expvar-heap: {e:#}");
            ExitCode::from(2)
        }
    }
}
