//! The command line: every flag, its help, and how the flags become the core's [`ValidOptions`]
//! and the wasmtime host's [`Limits`]. Nothing here runs anything.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use expvar_heap::templates::Target;
use expvar_heap::{CollectionTime, Datasets, Options, OptionsError, ValidOptions};
use expvar_heap_wasmtime::Limits;

/// The largest body read by default, in `transform` and `scrape` alike.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

#[derive(Parser)]
#[command(
    name = "expvar-heap",
    version,
    about = "Turn Go /debug/vars bodies into Elastic golang.heap events (ECS JSON, one per line)",
    long_about = "Turn Go /debug/vars bodies into the events of Elastic's golang integration \
(data stream logs-golang.heap-*), one JSON object per line, ready for any log pipeline.\n\n\
The mapping runs inside the WebAssembly component embedded in this program (wasmtime, no \
imports, capped memory, a deadline per call); --component runs another one, --native the same \
library without WebAssembly.",
    after_help = "Examples:\n  \
curl -s http://127.0.0.1:6060/debug/vars | expvar-heap transform\n  \
expvar-heap transform --namespace prod --service-address http://10.0.0.5:6060 vars.json\n  \
expvar-heap transform --lines --preserve-original bodies.ndjson\n  \
expvar-heap scrape --period 10s http://127.0.0.1:6060\n  \
expvar-heap watch http://127.0.0.1:6060\n  \
expvar-heap templates --target opensearch --out templates/"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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

    /// Print the index templates that type every field before the first event arrives.
    ///
    /// For Elasticsearch 8.11+ or OpenSearch 2.7+ without Elastic's golang integration: component
    /// templates (the envelope, and each data stream's fields), then one index template per data
    /// stream (logs-golang.heap-*, logs-golang.expvar-*) made of them. In Elasticsearch they also
    /// compose the built-in logs@mappings and logs@settings (whose lifecycle policy rolls the
    /// data streams over) and, when they exist, your own logs@custom and
    /// logs-golang.heap@custom / logs-golang.expvar@custom, last: set retention there. Install
    /// them in the order printed. Without --out or --only, prints them as Kibana Dev Tools
    /// requests (`PUT <path>` and the body), ready to paste.
    Templates(TemplatesArgs),

    /// Poll Go services' /debug/vars and write their events to stdout (NDJSON), live.
    ///
    /// Each target is scraped every --period on a fixed schedule (its own stable offset inside the
    /// period, so a fleet is spread out), until --count scrapes per target are done or SIGINT or
    /// SIGTERM arrives (scrapes in flight then finish and their events are written whole). Each
    /// target has its own collector, so golang.heap.gc.pause.* covers the GC cycles between two
    /// scrapes, across failed scrapes and restarts of the service. A failed scrape is an event
    /// with error.message (and the target's answer, when there was one, in event.original).
    ///
    /// A URL without a path means /debug/vars; service.address is the URL as given, without
    /// userinfo. Credentials (userinfo, --password-file, EXPVAR_HEAP_PASSWORD, a bearer token)
    /// never appear in an event or a message. The exit status is 0 when the run ended as asked,
    /// 1 when the output could not be written, 2 for bad options or an unreadable targets file,
    /// 3 when --count was given and not one scrape of any target gave a usable body (so that
    /// `scrape --count 1 URL` is a health check).
    Scrape(Box<ScrapeArgs>),

    /// Scrape Go services as `scrape` does, and show their heaps live on a local page.
    ///
    /// Every option of `scrape` works here, and the events are the same. The page (served by
    /// this program, at --listen; its URL is printed at start) shows the fleet, one row per target,
    /// worst first (its verdict and why: down since when, never answered, near its memory limit,
    /// GC thrashing, the heap kept growing, restarted, no memstats, or ok, as docs/watch.md says;
    /// its name; heap in use with its trend, and its goal; allocation rate; GC cycles per minute;
    /// the longest pause of the last interval; the share of its memory limit held; age of the last
    /// good scrape), and per target its panels over clock time (heap and the heap the GC keeps,
    /// allocation rate, GC cycles a second and time stopped, pause max, p99 and p50, GC CPU since
    /// the process started), with restarts and failed scrapes marked and each scrape's figures
    /// under the pointer. New scrapes reach open pages at
    /// once; a page opened later first receives the kept history (--history).
    ///
    /// Events are written only to --output FILE (appended), so one process can ship and show.
    /// The page listens on loopback by default; it shows the targets' command lines and memory
    /// figures to whoever reaches it, never credentials.
    #[command(after_help = "Examples:\n  \
expvar-heap watch http://127.0.0.1:6060                 (then open the URL it prints)\n  \
expvar-heap watch --period 2s --history 15m --targets fleet.toml --output events.ndjson")]
    Watch(Box<WatchArgs>),
}

#[derive(clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub scrape: ScrapeArgs,

    /// Where the page is served, IP:PORT (port 0 picks a free one). Any address but loopback
    /// shows the targets' command lines and memory figures to whoever can reach it.
    #[arg(long, default_value = "127.0.0.1:6061", value_name = "IP:PORT")]
    pub listen: std::net::SocketAddr,

    /// How much of each target's past the page keeps and shows, e.g. 15m or 6h: that many
    /// scrapes at --period, in the tool and in each open page, so memory stays flat.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub history: Duration,

    /// A DNS name the page may be opened by, besides localhost and IP addresses (which are
    /// always answered, on any port: tunnels and port forwards change it); repeat for several.
    /// Any other name in a request's Host gets 421, so that no other web site can read the
    /// page by pointing a name of its own at this address (DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
}

#[derive(clap::Args)]
pub struct ScrapeArgs {
    /// The services to scrape, e.g. http://127.0.0.1:6060 (userinfo is basic auth).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,

    /// A file of targets, combined with the URLs given, read again when it changes (once
    /// unchanged for a second) and at SIGHUP. Either TOML (any other extension): [[targets]]
    /// tables with url and, optionally, their own namespace, tags, username, password_file,
    /// bearer_token_file, headers, ca_cert, client_cert, client_key and insecure_skip_verify
    /// (paths relative to the file), and for watch's page a name and a memory_limit ("512MiB",
    /// as GOMEMLIMIT writes it, or memory_limit_variable: a custom variable that publishes it);
    /// or a Prometheus file_sd list in JSON (.json) or YAML (.yaml, .yml): [{"targets":
    /// ["host:port"], "labels": {"__scheme__": "https", "__metrics_path__": "/debug/vars",
    /// "name": "orders", "memory_limit": "2GiB"}}], its other labels ignored. An empty list is no error: targets start when
    /// the file names some.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    #[command(flatten)]
    pub events: EventArgs,

    /// Time between two scrapes of a target.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub period: Duration,

    /// The longest one scrape may take, connection to last byte. Default: 90% of the period.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// Stop after this many scrapes of each target. Default: run until SIGINT or SIGTERM.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Append the events to FILE instead of writing them to stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Basic auth user for targets without userinfo; the password comes from --password-file or
    /// the EXPVAR_HEAP_PASSWORD environment variable.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,

    /// A file holding the basic auth password (a final newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// A file holding a bearer token, sent as `Authorization: Bearer ...`.
    #[arg(long, value_name = "FILE", conflicts_with = "username")]
    pub bearer_token_file: Option<PathBuf>,

    /// An extra request header, `Name: value`; repeat for several.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// A PEM file of CA certificates to trust besides the system's (ca_cert in a targets file),
    /// read again at SIGHUP and when the targets file changes. A certificate signed by one of
    /// them is checked in full: chain, host name, dates and key usage. A self-signed certificate
    /// in the file that the target presents byte for byte is pinned: trusted without a chain (as
    /// `openssl req -x509` makes them), yet it must name the URL's host in its subjectAltName and
    /// be valid now, and the handshake proves the target holds its key (what curl's --cacert
    /// checks too). A CA-signed certificate in the file (a fullchain.pem) is never pinned.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// A PEM client certificate, for mutual TLS (with --client-key).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// The PEM private key of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// Do not verify the targets' TLS certificates (warns once on stderr).
    #[arg(long)]
    pub insecure_skip_verify: bool,

    /// Where a target's first pause window starts. first-scrape: the first good scrape of a
    /// target is the baseline (its event has no golang.heap.gc.pause.* but the cumulative
    /// total.ns), so every window is one period's. process-start: the first event also gets the
    /// cycles still in the ring since the service started (up to 256, over however long it has
    /// run), marked golang.heap.gc.pause.since: process_start, as Elastic's and Metricbeat's
    /// pollers report it.
    #[arg(long, value_enum, default_value_t = FirstWindow::FirstScrape, value_name = "START")]
    pub first_window: FirstWindow,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub run: RunArgs,
}

/// What `transform` and `scrape` share: the body size limit and quiet.
#[derive(clap::Args)]
pub struct RunArgs {
    /// A larger body (for transform: or input, unless --lines) is not transformed: it becomes an
    /// error event keeping its first 64 KiB; scrape reads no further.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES, value_name = "BYTES")]
    pub max_body_bytes: usize,

    /// Print no summary (nor notice) on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Where a target's first pause window starts (`--first-window`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FirstWindow {
    /// At the first good scrape: its event has no window.
    FirstScrape,
    /// At the service's start: the first event reports the cycles still in its ring.
    ProcessStart,
}

#[derive(clap::Args)]
pub struct TemplatesArgs {
    /// Where they go: elasticsearch or opensearch (no constant_keyword, flattened or
    /// time_series_metric there).
    #[arg(long, default_value = "elasticsearch", value_name = "elasticsearch|opensearch", value_parser = parse_target)]
    pub target: Target,

    /// Write each template to DIR/<_component_template|_index_template>/<name>.json and print
    /// the curl commands that install them.
    #[arg(long, value_name = "DIR", conflicts_with = "only")]
    pub out: Option<PathBuf>,

    /// Print only the body of this template, e.g. `_index_template/expvar-heap-logs-golang.heap`
    /// (for `curl -d @-`).
    #[arg(long, value_name = "PATH")]
    pub only: Option<String>,
}

/// The options that shape every event (shared by every command that makes events).
#[derive(clap::Args)]
pub struct EventArgs {
    /// data_stream.namespace: lower case, no `-`, at most 100 bytes.
    #[arg(long, default_value = expvar_heap::DEFAULT_NAMESPACE)]
    pub namespace: String,

    /// A tag for the events; repeat for several. Replaces the defaults (`forwarded` and
    /// `golang-heap` or `golang-expvar`).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Keep each body in event.original and tag the events `preserve_original_event`.
    #[arg(long)]
    pub preserve_original: bool,

    /// ecs.version of the events.
    #[arg(long, default_value = expvar_heap::DEFAULT_ECS_VERSION, value_name = "VERSION")]
    pub ecs_version: String,

    /// Which events each body yields: heap (golang.heap), expvar (golang.expvar), or all (both,
    /// heap first).
    #[arg(long, default_value = "heap", value_name = "heap|expvar|all", value_parser = parse_datasets)]
    pub dataset: Datasets,
}

impl EventArgs {
    /// The core's options, checked once; `service_address` is the command's own.
    pub fn options(&self, service_address: Option<String>) -> Result<ValidOptions, OptionsError> {
        Options {
            namespace: self.namespace.clone(),
            tags: self.tags.clone(),
            preserve_original_event: self.preserve_original,
            ecs_version: self.ecs_version.clone(),
            service_address,
            datasets: self.dataset,
        }
        .validate()
    }
}

/// Which engine runs the transform, and what the component may use.
#[derive(clap::Args)]
pub struct EngineArgs {
    /// Run this component instead of the one embedded in the program.
    #[arg(long, value_name = "PATH", conflicts_with = "native")]
    pub component: Option<PathBuf>,

    /// Run the transform natively instead of in WebAssembly (same library, same output).
    #[arg(long)]
    pub native: bool,

    /// The most linear memory the component may use, in bytes.
    #[arg(long, default_value_t = Limits::default().max_memory_bytes, value_name = "BYTES")]
    pub max_memory_bytes: usize,

    /// The longest one call of the component may run (e.g. 500ms, 10s).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub call_timeout: Duration,
}

impl EngineArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_memory_bytes: self.max_memory_bytes,
            call_timeout: self.call_timeout,
            max_instructions: None,
        }
    }
}

#[derive(clap::Args)]
pub struct TransformArgs {
    /// Files holding /debug/vars bodies: one, or several one after another (as `cat a.json
    /// b.json` gives them, or NDJSON); with --lines, one per line. No file, or `-`, reads
    /// standard input.
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub events: EventArgs,

    /// service.address: where the bodies came from, e.g. http://10.0.0.5:6060.
    #[arg(long, value_name = "URL")]
    pub service_address: Option<String>,

    /// The collection time of every body, RFC 3339 (2026-01-01T12:00:00Z, or with an offset:
    /// 2026-01-01T13:00:00+01:00). Default: the time each body is read.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub time: Option<CollectionTime>,

    /// Each line of each input is a body (as in Elastic's pipeline tests); empty lines are skipped.
    #[arg(long)]
    pub lines: bool,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub run: RunArgs,
}

impl TransformArgs {
    pub fn options(&self) -> Result<ValidOptions, OptionsError> {
        self.events.options(self.service_address.clone())
    }
}

/// A duration as the docs write them (`10s`, `500ms`, `2m`, `1h30m`), with a message in the same
/// notation when it has no unit or one humantime does not know.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let number = text.trim();
    humantime::parse_duration(text).map_err(|e| {
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            format!("{text:?} has no unit: write it as {number}s, {number}ms or {number}m")
        } else {
            format!(
                "{text:?} is not a duration: write a number and a unit, such as 10s, 500ms, 2m \
                 or 1h30m ({e})"
            )
        }
    })
}

fn parse_datasets(name: &str) -> Result<Datasets, String> {
    name.parse().map_err(|e: OptionsError| e.to_string())
}

fn parse_target(name: &str) -> Result<Target, String> {
    name.parse().map_err(|e: OptionsError| e.to_string())
}

/// An RFC 3339 date and time, in UTC (`Z`) or with an offset (`+01:00`).
fn parse_time(text: &str) -> Result<CollectionTime, String> {
    let wrong = |e: &dyn std::fmt::Display| {
        format!("{e}: expected RFC 3339, e.g. 2026-01-01T12:00:00Z or 2026-01-01T13:00:00+01:00")
    };
    // humantime reads UTC only: an offset is taken off, and applied after.
    let (utc, offset_seconds) = match text.len().checked_sub(6).map(|at| text.split_at(at)) {
        Some((local, offset)) if matches!(offset.as_bytes()[0], b'+' | b'-') => {
            let (hours, minutes) =
                offset[1..].split_once(':').ok_or_else(|| wrong(&"bad offset"))?;
            let number = |part: &str, max: i64| match part.parse::<i64>() {
                Ok(n) if part.len() == 2 && n <= max => Ok(n),
                _ => Err(wrong(&format!("bad offset {offset}"))),
            };
            let seconds = number(hours, 23)? * 3600 + number(minutes, 59)? * 60;
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            (format!("{local}Z"), sign * seconds)
        }
        _ => (text.to_owned(), 0),
    };
    let local: SystemTime = humantime::parse_rfc3339(&utc).map_err(|e| wrong(&e))?;
    let offset = Duration::from_secs(offset_seconds.unsigned_abs());
    let time =
        if offset_seconds >= 0 { local.checked_sub(offset) } else { local.checked_add(offset) };
    Ok(CollectionTime::from_system_time(time.ok_or_else(|| wrong(&"out of range"))?))
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
    fn durations_are_suggested_as_the_docs_write_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "\"10\" has no unit: write it as 10s, 10ms or 10m"
        );
        let err = parse_duration("ten seconds").unwrap_err();
        assert!(err.contains("such as 10s, 500ms"), "{err}");
        assert!(!err.contains("sec or"), "{err}");
    }

    #[test]
    fn times_parse_as_rfc3339_utc() {
        let time = parse_time("2023-02-01T10:17:48.723Z").unwrap();
        assert_eq!(time, CollectionTime { seconds: 1_675_246_668, nanoseconds: 723_000_000 });
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        // Offsets: the same instant, written in other zones.
        let utc = parse_time("2026-01-01T00:00:00.5Z").unwrap();
        assert_eq!(utc, CollectionTime { seconds: 1_767_225_600, nanoseconds: 500_000_000 });
        assert_eq!(parse_time("2026-01-01T01:00:00.5+01:00").unwrap(), utc);
        assert_eq!(parse_time("2025-12-31T19:30:00.5-04:30").unwrap(), utc);
        assert_eq!(parse_time("2026-01-01T00:00:00.5+00:00").unwrap(), utc);
        assert!(parse_time("2026-01-01T01:00:00+1:00").unwrap_err().contains("RFC 3339"));
        assert!(parse_time("2026-01-01T01:00:00+24:00").unwrap_err().contains("bad offset"));
    }

    #[test]
    fn flags_become_the_cores_options() {
        let cli = Cli::parse_from([
            "expvar-heap",
            "transform",
            "--namespace",
            "prod",
            "--tag",
            "a",
            "--dataset",
            "all",
            "--service-address",
            "http://127.0.0.1:6060",
        ]);
        let Command::Transform(args) = cli.command else { panic!("not transform") };
        let options = args.options().unwrap();
        assert_eq!(options.namespace, "prod");
        assert_eq!(options.tags, ["a"]);
        assert_eq!(options.datasets, Datasets::ALL);
        assert_eq!(options.service_address.as_deref(), Some("http://127.0.0.1:6060"));
        assert_eq!(args.engine.limits(), Limits::default());
    }
}
