//! `expvar-heap transform`: reads the inputs, hands each body to the engine, writes the events,
//! and keeps every body even when it is too large or the component fails on it.

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Result, bail};
use expvar_heap::{CollectionTime, Event, ValidOptions};
use expvar_heap_wasmtime::CallError;

use crate::args::TransformArgs;
use crate::engine::{Engine, ProcessCollector};
use crate::unread;

/// Counts for the closing summary.
#[derive(Default)]
struct Tally {
    bodies: usize,
    events: usize,
    with_errors: usize,
    failures: usize,
}

pub fn transform(args: TransformArgs) -> Result<ExitCode> {
    let options = args.options()?;
    let mut collector = Engine::open(&args.engine, args.run.quiet)?.collector(&options)?;

    let started = Instant::now();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    let stdin_only = [PathBuf::from("-")];
    let inputs = if args.files.is_empty() { &stdin_only[..] } else { &args.files[..] };
    for input in inputs {
        let name = if input == Path::new("-") {
            "<stdin>".to_owned()
        } else {
            input.display().to_string()
        };
        let content = match read_input(input, &args) {
            Ok(content) => content,
            Err(e) => {
                eprintln!("expvar-heap: cannot read {name}: {e:#}");
                tally.failures += 1;
                continue;
            }
        };
        let bodies = bodies(&content, &args);
        for body in bodies {
            let time =
                args.time.unwrap_or_else(|| CollectionTime::from_system_time(SystemTime::now()));
            let events =
                transform_one(&mut collector, body, time, &options, &args, &name, &mut tally)?;
            tally.bodies += 1;
            tally.events += events.len();
            tally.with_errors += events.iter().filter(|event| event.has_error).count();
            for event in events {
                if let Err(e) = writeln!(out, "{}", event.json) {
                    return Ok(write_failed(&e));
                }
            }
        }
    }
    if let Err(e) = out.flush() {
        return Ok(write_failed(&e));
    }
    if !args.run.quiet {
        eprintln!(
            "expvar-heap: {} bodies -> {} events ({} with error.message) {} in {:.1?}",
            tally.bodies,
            tally.events,
            tally.with_errors,
            collector.how(),
            started.elapsed()
        );
    }
    Ok(if tally.failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The exit status when the events cannot be written: 0 when the reader went away (a closed
/// pipe, as `| head` does), else 1, with the system's reason (a full disk, a closed descriptor).
fn write_failed(error: &io::Error) -> ExitCode {
    if error.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("expvar-heap: cannot write the events: {error}");
    ExitCode::FAILURE
}

/// The bodies of one input: each line with `--lines`; else each JSON value of it, one after
/// another (Go's multi-line bodies as `cat a.json b.json` gives them, or NDJSON), as the
/// playground reads a paste, each with the whitespace after it, so that the bodies joined are the
/// input ([`expvar_heap::split_body_bytes`]: from where the input stops being JSON values, the
/// rest is one body). An input over the size limit, or holding no value, is one body, which then
/// becomes its error event.
fn bodies<'a>(content: &'a [u8], args: &TransformArgs) -> Vec<&'a [u8]> {
    if args.lines {
        return content
            .split(|&b| b == b'\n')
            .map(trim_cr)
            .filter(|line| !line.is_empty())
            .collect();
    }
    let split = match content.len() <= args.run.max_body_bytes {
        true => expvar_heap::split_body_bytes(content),
        false => Vec::new(),
    };
    if split.is_empty() {
        return vec![content];
    }
    split
}

/// One body's events. A body over the size limit, or one the component traps on, still yields
/// error events (made by the library), so no body is lost.
fn transform_one(
    collector: &mut ProcessCollector,
    body: &[u8],
    time: CollectionTime,
    options: &ValidOptions,
    args: &TransformArgs,
    name: &str,
    tally: &mut Tally,
) -> Result<Vec<Event>> {
    let limit = args.run.max_body_bytes;
    if body.len() > limit {
        let kept = unread::kept(body);
        let message = unread::over_limit(limit, kept.len());
        return Ok(expvar_heap::error_events(&message, kept, time, options));
    }
    match collector.push(body, time) {
        Ok(events) => Ok(events),
        Err(CallError::Options(why)) => bail!(why),
        Err(error @ CallError::Trap(_)) => {
            eprintln!(
                "expvar-heap: {name}: the component failed on a body ({error}); it is kept in an error event"
            );
            tally.failures += 1;
            let message = unread::transform_failed(&error);
            Ok(expvar_heap::error_events(&message, body, time, options))
        }
    }
}

/// Reads a file or stdin, stopping one byte past what can be used (the body limit, or for
/// `--lines` no limit: each line is checked on its own).
fn read_input(input: &Path, args: &TransformArgs) -> Result<Vec<u8>> {
    let mut reader: Box<dyn Read> = if input == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input)?)
    };
    let mut content = Vec::new();
    if args.lines {
        reader.read_to_end(&mut content)?;
    } else {
        reader.take(args.run.max_body_bytes as u64 + 1).read_to_end(&mut content)?;
    }
    Ok(content)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}
