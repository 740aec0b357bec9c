//! `expvar-heap`: turns Go `/debug/vars` bodies into Elastic `golang.heap` events, by running the
//! `golang:expvar/processor` WebAssembly component in wasmtime (or the same library natively).

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use expvar_heap::{CollectionTime, Collector, Datasets, Options};
use expvar_heap_host::component::{CallError, Limits, Processor};
use expvar_heap_host::{COMPONENT_FILE, built_component_path};

/// How much of a body over `--max-body-bytes` is kept in its error event's `event.original`.
const OVERSIZE_KEPT_BYTES: usize = 64 << 10;

#[derive(Parser)]
#[command(
    name = "expvar-heap",
    version,
    about = "Turn Go /debug/vars bodies into Elastic golang.heap events (ECS JSON, one per line)",
    long_about = "Turn Go /debug/vars bodies into the events of Elastic's golang integration \
(data stream logs-golang.heap-*), one JSON object per line, ready for any log pipeline.\n\n\
The mapping runs inside a WebAssembly component (wasmtime, no imports, capped memory, a deadline \
per call); --native runs the same library without WebAssembly.",
    after_help = "Examples:\n  \
curl -s http://127.0.0.1:6060/debug/vars | expvar-heap transform\n  \
expvar-heap transform --namespace prod --service-address http://10.0.0.5:6060 vars.json\n  \
expvar-heap transform --lines --preserve-original bodies.ndjson"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transform bodies into events, written to stdout one per line (NDJSON).
    ///
    /// The bodies are taken as successive scrapes of one Go process, in the order given, so each
    /// golang.heap event also has golang.heap.gc.pause.* for the GC cycles since the body before
    /// (the first body: the cycles still in its PauseNs ring).
    ///
    /// Every body yields an event per dataset, even a broken one: that event has error.message
    /// saying what was wrong and keeps the body in event.original. The exit status is 0 when
    /// every body was transformed, 1 when a file could not be read or the component failed on a
    /// body, 2 for bad options or a component that cannot be loaded.
    Transform(TransformArgs),
}

#[derive(clap::Args)]
struct TransformArgs {
    /// Files holding one /debug/vars body each (with --lines, one body per line). No file, or
    /// `-`, reads standard input.
    files: Vec<PathBuf>,

    /// data_stream.namespace: lower case, no `-`, at most 100 bytes.
    #[arg(long, default_value = expvar_heap::DEFAULT_NAMESPACE)]
    namespace: String,

    /// A tag for the events; repeat for several. Replaces the defaults (`forwarded` and
    /// `golang-heap` or `golang-expvar`).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,

    /// Keep each body in event.original and tag the events `preserve_original_event`.
    #[arg(long)]
    preserve_original: bool,

    /// service.address: where the bodies came from, e.g. http://10.0.0.5:6060.
    #[arg(long, value_name = "URL")]
    service_address: Option<String>,

    /// ecs.version of the events.
    #[arg(long, default_value = expvar_heap::DEFAULT_ECS_VERSION, value_name = "VERSION")]
    ecs_version: String,

    /// Which events each body yields: golang.heap, golang.expvar, or both (heap first).
    #[arg(long, value_enum, default_value_t = DatasetArg::Heap)]
    dataset: DatasetArg,

    /// The collection time of every body, RFC 3339 in UTC (2026-01-01T12:00:00Z). Default: the
    /// time each body is read.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    time: Option<CollectionTime>,

    /// Each line of each input is a body (as in Elastic's pipeline tests); empty lines are skipped.
    #[arg(long)]
    lines: bool,

    /// The component to run. Default: expvar-heap.wasm beside this program, else the one
    /// `cargo xtask build` wrote.
    #[arg(long, value_name = "PATH", conflicts_with = "native")]
    component: Option<PathBuf>,

    /// Run the transform natively instead of in WebAssembly (same library, same output).
    #[arg(long)]
    native: bool,

    /// A larger body is not transformed: it becomes an error event keeping its first 64 KiB.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_body_bytes: usize,

    /// The most linear memory the component may use, in bytes.
    #[arg(long, default_value_t = Limits::default().memory_bytes, value_name = "BYTES")]
    max_memory_bytes: usize,

    /// The longest one call of the component may run (e.g. 500ms, 10s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    call_timeout: Duration,

    /// Print no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetArg {
    Heap,
    Expvar,
    All,
}

fn parse_time(text: &str) -> Result<CollectionTime, String> {
    let time = humantime::parse_rfc3339(text)
        .map_err(|e| format!("{e}: expected RFC 3339 in UTC, e.g. 2026-01-01T12:00:00Z"))?;
    Ok(collection_time(time))
}

fn collection_time(time: SystemTime) -> CollectionTime {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    CollectionTime { seconds: since_epoch.as_secs(), nanoseconds: since_epoch.subsec_nanos() }
}

fn main() -> ExitCode {
    let Cli { command: Command::Transform(args) } = Cli::parse();
    match transform(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("expvar-heap: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Where the events come from: the component's collector in wasmtime, or the library's. Either
/// way all the bodies of a run are one process's, in order, so the pause window spans them.
enum Engine {
    Component(Box<Processor>),
    Native(Collector),
}

impl Engine {
    fn push(
        &mut self,
        body: &[u8],
        time: CollectionTime,
        options: &Options,
    ) -> Result<Vec<String>, CallError> {
        match self {
            Engine::Component(processor) => processor.push(body, time, options),
            Engine::Native(collector) => Ok(collector.push(body, time)),
        }
    }
}

/// Counts for the closing summary.
#[derive(Default)]
struct Tally {
    bodies: usize,
    events: usize,
    with_errors: usize,
    failures: usize,
}

fn transform(args: TransformArgs) -> Result<ExitCode> {
    let options = Options {
        namespace: args.namespace.clone(),
        tags: (!args.tags.is_empty()).then(|| args.tags.clone()),
        preserve_original_event: args.preserve_original,
        ecs_version: args.ecs_version.clone(),
        service_address: args.service_address.clone(),
        datasets: match args.dataset {
            DatasetArg::Heap => Datasets::HEAP,
            DatasetArg::Expvar => Datasets::EXPVAR,
            DatasetArg::All => Datasets::ALL,
        },
    };
    options.validate()?;
    let mut engine = if args.native {
        Engine::Native(Collector::new(options.clone())?)
    } else {
        let path = match &args.component {
            Some(path) => path.clone(),
            None => default_component()?,
        };
        let limits =
            Limits { memory_bytes: args.max_memory_bytes, call_timeout: args.call_timeout };
        Engine::Component(Box::new(Processor::load(&path, limits)?))
    };

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
        let bodies: Vec<&[u8]> = if args.lines {
            content.split(|&b| b == b'\n').map(trim_cr).filter(|line| !line.is_empty()).collect()
        } else {
            vec![&content[..]]
        };
        for body in bodies {
            let time = args.time.unwrap_or_else(|| collection_time(SystemTime::now()));
            let events =
                transform_one(&mut engine, body, time, &options, &args, &name, &mut tally)?;
            tally.bodies += 1;
            tally.events += events.len();
            tally.with_errors +=
                events.iter().filter(|e| e.contains(r#""error":{"message""#)).count();
            for event in events {
                if writeln!(out, "{event}").is_err() {
                    return Ok(ExitCode::SUCCESS); // the reader went away (a closed pipe)
                }
            }
        }
    }
    if out.flush().is_err() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.quiet {
        let how = if args.native { "natively" } else { "in the component" };
        eprintln!(
            "expvar-heap: {} bodies -> {} events ({} with error.message) {how} in {:.1?}",
            tally.bodies,
            tally.events,
            tally.with_errors,
            started.elapsed()
        );
    }
    Ok(if tally.failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One body's events. A body over the size limit, or one the component traps on, still yields
/// error events (made by the library), so no body is lost.
fn transform_one(
    engine: &mut Engine,
    body: &[u8],
    time: CollectionTime,
    options: &Options,
    args: &TransformArgs,
    name: &str,
    tally: &mut Tally,
) -> Result<Vec<String>> {
    if body.len() > args.max_body_bytes {
        let message = format!(
            "body not read: it is over the limit of {} bytes (--max-body-bytes); event.original keeps its first {} bytes",
            args.max_body_bytes, OVERSIZE_KEPT_BYTES
        );
        let kept = &body[..body.len().min(OVERSIZE_KEPT_BYTES)];
        return Ok(expvar_heap::error_events(&message, kept, time, options)?);
    }
    match engine.push(body, time, options) {
        Ok(events) => Ok(events),
        Err(CallError::Options(why)) => bail!(why),
        Err(CallError::Trap(trap)) => {
            eprintln!(
                "expvar-heap: {name}: the component failed on a body ({trap:#}); it is kept in an error event"
            );
            tally.failures += 1;
            let message = format!("the transform failed on this body: {trap:#}");
            Ok(expvar_heap::error_events(&message, body, time, options)?)
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
        reader.take(args.max_body_bytes as u64 + 1).read_to_end(&mut content)?;
    }
    Ok(content)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The component beside this program (as in `dist/`), else the one `cargo xtask build` wrote.
fn default_component() -> Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(COMPONENT_FILE)));
    let built = built_component_path();
    for candidate in beside.iter().chain([&built]) {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    let beside = beside.map(|p| p.display().to_string()).unwrap_or_default();
    bail!(
        "no component found (looked for {beside} and {}): run `cargo xtask build`, pass --component PATH, or use --native",
        built.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn times_parse_as_rfc3339_utc() {
        let time = parse_time("2023-02-01T10:17:48.723Z").unwrap();
        assert_eq!(time, CollectionTime { seconds: 1_675_246_668, nanoseconds: 723_000_000 });
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
