//! `expvar-heap scrape`: polls each target on a fixed schedule and writes its events, with one
//! collector per target, until `--count` scrapes are done or SIGINT/SIGTERM arrives.
//!
//! What a scrape produced goes to [`Observer`]s: the NDJSON output is one; `watch` adds its page.
//! This module knows nothing of pages.
//!
//! - `targets`: the targets, their credentials, headers and TLS;
//! - `fetch`: one request, its size limit, and the one-line message of each failure.
//!
//! Scheduling: each target of a fleet has a fixed offset inside the period (from a hash of its
//! URL, so the fleet is spread out and a restart keeps the pattern; a lone target is scraped at
//! once), then ticks at a fixed rate (no drift).
//! Each target is its own task: a slow target delays no other, and one target never has two
//! scrapes in flight; a tick that comes while its scrape still runs is skipped and counted.
//!
//! Transforming: the scrapes hand their bodies to one thread, which owns every target's
//! collector and transforms the bodies in the order they came (the component's one instance runs
//! one call at a time anyway), then writes their events. A body that takes long to transform so
//! delays other targets' events, never their scrapes: each target's schedule (and `@timestamp`)
//! stays on its ticks. A target may have a few bodies waiting ([`Backlog`]); past that, its own
//! ticks wait and are skipped.

mod fetch;
mod targets;
pub use targets::Label;
mod tls;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use expvar_heap::CollectionTime;
use reqwest::Client;
use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;

use crate::args::{FirstWindow, ScrapeArgs};
use crate::engine::{Engine, ProcessCollector};
use targets::{Target, Tls};

/// What the scrapes of a run produced, told to each of its observers in the order they happened
/// (from the one thread that transforms the bodies): targets joining and leaving, and each
/// scrape's events, whole.
pub trait Observer: Send {
    /// A target joins. `address` is its `service.address`, which holds no credential; `label`
    /// what the targets file says of it for people (its name, its memory limit).
    fn target_added(&mut self, _id: u64, _address: &str, _label: &Label) {}
    /// A target leaves (its targets file no longer names it).
    fn target_removed(&mut self, _id: u64) {}
    /// One scrape's events. An error stops the run (an output that cannot be written).
    fn scraped(&mut self, id: u64, events: &[expvar_heap::Event]) -> std::io::Result<()>;
}

/// What the run counted, for the summary.
#[derive(Default)]
struct Tally {
    scrapes: AtomicU64,
    failed: AtomicU64,
    events: AtomicU64,
    skipped: AtomicU64,
}

/// The events as NDJSON, one line each, written and flushed one whole scrape at a time.
pub struct Ndjson(Box<dyn Write + Send>);

impl Ndjson {
    /// To the file `path` (appended to) or, with none, to stdout.
    pub fn open(path: Option<&std::path::Path>) -> Result<Ndjson> {
        Ok(Ndjson(match path {
            Some(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {} to append", path.display()))?,
            ),
            None => Box::new(std::io::stdout()),
        }))
    }
}

impl Observer for Ndjson {
    fn scraped(&mut self, _id: u64, events: &[expvar_heap::Event]) -> std::io::Result<()> {
        let lines: String = events.iter().map(|event| format!("{}\n", event.json)).collect();
        self.0.write_all(lines.as_bytes())?;
        self.0.flush()
    }
}

pub fn run(args: ScrapeArgs) -> Result<ExitCode> {
    let prepared = Prepared::new(args)?;
    let output = Ndjson::open(prepared.args.output.as_deref())?;
    prepared.run(vec![Box::new(output)])
}

/// A run whose arguments, targets file, secrets, certificates and engine were all read and found
/// usable: what can fail at start has failed before anything is printed or served.
pub struct Prepared {
    args: Arc<ScrapeArgs>,
    targets: Vec<Target>,
    /// The targets file's bytes the targets came from (what a change is compared with).
    file: Option<Vec<u8>>,
    clients: BTreeMap<Tls, Client>,
    engine: Engine,
    timeout: Duration,
}

impl Prepared {
    pub fn new(args: ScrapeArgs) -> Result<Prepared> {
        if args.period.is_zero() {
            bail!("--period must be longer than zero");
        }
        let timeout = args.timeout.unwrap_or_else(|| default_timeout(args.period));
        let file = match &args.targets {
            Some(path) => Some(targets::read_targets_file(path)?),
            None => None,
        };
        let targets = targets::resolve_with(&args, file.as_deref())?;
        let clients = clients(&targets, timeout)
            .into_iter()
            .map(|(tls, client)| Ok((tls, client?)))
            .collect::<Result<_>>()?;
        let engine = Engine::open(&args.engine, args.run.quiet)?;
        Ok(Prepared { args: Arc::new(args), targets, file, clients, engine, timeout })
    }

    /// Scrapes the fleet, telling `observers` what each scrape produced, until the run ends.
    pub fn run(self, observers: Vec<Box<dyn Observer>>) -> Result<ExitCode> {
        fleet(self, observers)
    }
}

/// An HTTP client for each TLS setting of `targets` (reading their certificate files and the
/// system's CA store: blocking work).
fn clients(targets: &[Target], timeout: Duration) -> BTreeMap<Tls, Result<Client>> {
    let mut clients = BTreeMap::new();
    for target in targets {
        if !clients.contains_key(&target.tls) {
            clients.insert(target.tls.clone(), client(&target.tls, timeout));
        }
    }
    clients
}

/// Scrapes the fleet of `prepared`, telling `observers` each scrape's events.
fn fleet(prepared: Prepared, observers: Vec<Box<dyn Observer>>) -> Result<ExitCode> {
    let Prepared { args, targets, file, clients, engine, timeout } = prepared;
    let broken: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    let tally = Arc::new(Tally::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the scheduler")?;
    let started = Instant::now();
    let (stop, mut stopped) = watch::channel(false);
    let (to_transform, messages) = mpsc::channel::<ToTransform>();
    let transformer = {
        let (broken, tally, stop) = (broken.clone(), tally.clone(), stop.clone());
        std::thread::Builder::new()
            .name("transform".into())
            .spawn(move || {
                if let Err(e) = transform_bodies(messages, observers, &tally) {
                    broken.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    let _ = stop.send(true);
                }
            })
            .context("cannot start the transform thread")?
    };
    let count = runtime.block_on(async {
        let signals = tokio::spawn(wait_for_signal(stop.clone(), args.run.quiet));
        // A lone target named on the command line is scraped at once; a fleet is spread out.
        let lone = targets.len() == 1 && args.targets.is_none();
        let mut fleet = Fleet {
            args: args.clone(),
            engine: &engine,
            timeout,
            start: tokio::time::Instant::now(),
            lone,
            clients,
            running: Vec::new(),
            tasks: tokio::task::JoinSet::new(),
            next_id: 0,
            warned_unverified: false,
            warned_none: false,
            tally: tally.clone(),
            stopped: stopped.clone(),
            to_transform,
        };
        for target in targets {
            fleet.add(target, false)?;
        }
        if fleet.running.is_empty() {
            fleet.say_none_yet();
        }
        let mut changes = TargetsFileChanges::new(args.targets.as_deref(), file)?;
        loop {
            // A run whose targets are all done ends, but one with a targets file that has named
            // none yet, or that runs with no --count, waits for the file to name (more) targets.
            let started_any = fleet.next_id > 0;
            if fleet.tasks.is_empty()
                && (!changes.watching() || (args.count.is_some() && started_any))
            {
                break;
            }
            let next = tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => Next::Stop,
                _ = fleet.tasks.join_next(), if !fleet.tasks.is_empty() => Next::Go,
                read = changes.next() => Next::Reload(read),
            };
            match next {
                Next::Stop => break,
                Next::Go => {}
                Next::Reload(read) => fleet.reload(read).await,
            }
        }
        // The scrapes in flight end and are handed over.
        while fleet.tasks.join_next().await.is_some() {}
        signals.abort();
        anyhow::Ok(fleet.running.len())
    })?;
    // Every scrape is handed over (the fleet and its sender are gone): the thread writes what
    // is left, then ends.
    transformer.join().map_err(|_| anyhow::anyhow!("the transform thread failed"))?;
    if !args.run.quiet {
        eprintln!(
            "expvar-heap: {count} targets, {} scrapes ({} failed), {} events, {} ticks skipped; transformed {}; ran for {:.1?}",
            tally.scrapes.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed),
            tally.events.load(Ordering::Relaxed),
            tally.skipped.load(Ordering::Relaxed),
            engine.how(),
            started.elapsed()
        );
    }
    if let Some(why) = broken.lock().unwrap_or_else(|e| e.into_inner()).take() {
        eprintln!("expvar-heap: the output could not be written: {why}; stopped");
        return Ok(ExitCode::FAILURE);
    }
    let scrapes = tally.scrapes.load(Ordering::Relaxed);
    if args.count.is_some() && scrapes > 0 && tally.failed.load(Ordering::Relaxed) == scrapes {
        return Ok(ExitCode::from(ALL_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit status of a `--count` run in which every scrape of every target failed.
pub const ALL_FAILED: u8 = 3;

/// Whether a scrape's events say that its body gave nothing to chart: an error, and no figure
/// of `memstats` (at most the `cmdline`) in the event. A body with one unusable field, whose other
/// figures are there, is no failure.
fn unusable(events: &[expvar_heap::Event]) -> bool {
    let Some(first) = events.first().filter(|event| event.has_error) else { return false };
    let Ok(event) = serde_json::from_str::<serde_json::Value>(&first.json) else { return true };
    let figures = ["heap", "expvar"]
        .iter()
        .filter_map(|dataset| event["golang"][dataset].as_object())
        .flat_map(|fields| fields.keys())
        .filter(|key| *key != "cmdline")
        .count();
    figures == 0
}

/// One scrape's timeout when none is given: below the period, so that a scrape ends before the
/// next tick.
pub fn default_timeout(period: Duration) -> Duration {
    period.mul_f64(0.9)
}

/// Stops the run at SIGINT or SIGTERM, once the scrapes in flight are written; a second signal
/// stops it at once (exit status 130, as a shell reports an interrupted program).
async fn wait_for_signal(stop: watch::Sender<bool>, quiet: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    let _ = stop.send(true);
    if !quiet {
        eprintln!("expvar-heap: stopping once the scrapes in flight are written (again: at once)");
    }
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    std::process::exit(130);
}

/// An HTTP client for a TLS setting (targets that share one share the client, and its
/// connections).
fn client(tls: &Tls, timeout: Duration) -> Result<Client> {
    Client::builder()
        .use_preconfigured_tls(tls::client_config(tls)?)
        .connect_timeout(timeout)
        // Redirects are followed by `fetch`, which knows the target's credentials and keeps
        // them to its origin; no Referer is ever sent.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("expvar-heap/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot set up HTTP")
}

/// What the run loop does next.
enum Next {
    Stop,
    Go,
    /// The targets file, read again (or why it could not be).
    Reload(std::io::Result<Vec<u8>>),
}

/// The targets being scraped, and what starts and stops them.
struct Fleet<'a> {
    args: Arc<ScrapeArgs>,
    engine: &'a Engine,
    timeout: Duration,
    /// When the run started: every target's ticks keep their offset from it.
    start: tokio::time::Instant,
    /// One target named on the command line only: scraped at once, with no offset.
    lone: bool,
    /// The client of each TLS setting in use, made when the targets were last read (their
    /// certificate files read then).
    clients: BTreeMap<Tls, Client>,
    running: Vec<Running>,
    tasks: tokio::task::JoinSet<()>,
    next_id: u64,
    /// Whether the warning of a target whose certificate is not checked was given (once a run).
    warned_unverified: bool,
    /// Whether it was said that the targets file names no target (once a run).
    warned_none: bool,
    tally: Arc<Tally>,
    stopped: watch::Receiver<bool>,
    to_transform: mpsc::Sender<ToTransform>,
}

/// A target being scraped: what it is (to tell whether a targets file read again still names
/// it) and what stops it.
struct Running {
    id: u64,
    target: Target,
    stop: watch::Sender<bool>,
    /// Its client: replaced when the targets file (or SIGHUP) makes new ones.
    client: watch::Sender<Client>,
}

impl Fleet<'_> {
    /// Starts scraping `target`: its collector joins the transform thread, its schedule starts
    /// at its offset from the run's start, or (`later`, a target added by a targets file read
    /// again) at its next tick from now.
    fn add(&mut self, target: Target, later: bool) -> Result<()> {
        let unverified = target.tls.insecure_skip_verify && target.url.scheme() == "https";
        if unverified && !self.warned_unverified && !self.args.run.quiet {
            self.warned_unverified = true;
            eprintln!(
                "expvar-heap: warning: TLS certificates are not verified (--insecure-skip-verify): anyone on the path can read and change what is scraped"
            );
        }
        let client = match self.clients.get(&target.tls) {
            Some(client) => client.clone(),
            None => bail!("no HTTP client was made for its TLS settings"),
        };
        let (client, clients) = watch::channel(client);
        let id = self.next_id;
        self.next_id += 1;
        let address = target.options.service_address.clone().unwrap_or_default();
        let collector = Box::new(TargetCollector {
            collector: self.engine.collector(&target.options)?,
            options: target.options.clone(),
            baseline_pending: self.args.first_window == FirstWindow::FirstScrape,
        });
        if self
            .to_transform
            .send(ToTransform::Add {
                id,
                address: address.clone(),
                label: target.label.clone(),
                collector,
            })
            .is_err()
        {
            bail!("the transform thread stopped");
        }
        let period = self.args.period;
        let offset = if self.lone { Duration::ZERO } else { offset(&address, period) };
        // Its first tick: the first of its schedule from now on.
        let mut first = self.start + offset;
        let now = tokio::time::Instant::now();
        if later && first < now {
            let behind = (now - first).as_nanos().div_ceil(period.as_nanos());
            first += period.mul_f64(behind as f64);
        }
        let (stop, stopped) = watch::channel(false);
        let job = Job {
            id,
            client: clients,
            target: target.clone(),
            period,
            timeout: self.timeout,
            max_body_bytes: self.args.run.max_body_bytes,
            count: self.args.count,
            tally: self.tally.clone(),
            backlog: Arc::new(Backlog::default()),
            to_transform: self.to_transform.clone(),
        };
        self.tasks.spawn(job.run(first, self.stopped.clone(), stopped));
        self.running.push(Running { id, target, stop, client });
        Ok(())
    }

    /// Says, once, that the targets file names no target yet.
    fn say_none_yet(&mut self) {
        if !self.warned_none && !self.args.run.quiet {
            self.warned_none = true;
            let path = self.args.targets.as_deref().unwrap_or(std::path::Path::new(""));
            eprintln!(
                "expvar-heap: warning: the targets file {} names no target yet: scraping starts when it names some (it is read again when it changes, and at SIGHUP)",
                path.display()
            );
        }
    }

    /// Applies the targets file as read again: targets no longer named stop (a scrape in
    /// flight is dropped), new ones start, and those still named go on with their collector and
    /// schedule. Every TLS client is made again (certificate files read again, so a certificate
    /// rotated at its path is taken), and clients no target uses are dropped. The file is
    /// resolved and the clients made off the scheduler (they read files). A file that cannot be
    /// used changes nothing.
    async fn reload(&mut self, read: std::io::Result<Vec<u8>>) {
        let quiet = self.args.run.quiet;
        let refused = |why: String| {
            eprintln!(
                "expvar-heap: warning: the targets file was read again but cannot be used ({why}); the targets stay as they were"
            );
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => return refused(e.to_string()),
        };
        let (args, timeout) = (self.args.clone(), self.timeout);
        let resolved = tokio::task::spawn_blocking(move || {
            let targets = targets::resolve_with(&args, Some(&bytes))?;
            let clients = clients(&targets, timeout);
            anyhow::Ok((targets, clients))
        })
        .await;
        let (targets, made) = match resolved {
            Ok(Ok(resolved)) => resolved,
            Ok(Err(e)) => return refused(format!("{e:#}")),
            Err(e) => return refused(format!("reading it failed: {e}")),
        };
        let before = self.running.len();
        let (kept, gone): (Vec<Running>, Vec<Running>) =
            self.running.drain(..).partition(|running| targets.contains(&running.target));
        self.running = kept;
        let removed = gone.len();
        for running in gone {
            let _ = running.stop.send(true);
            let _ = self.to_transform.send(ToTransform::Remove { id: running.id });
        }
        // The new clients; a setting whose files cannot be read now keeps its old client for the
        // targets that had it, and starts no new target.
        let mut clients = BTreeMap::new();
        for (tls, client) in made {
            match client {
                Ok(client) => {
                    clients.insert(tls, client);
                }
                Err(e) => {
                    eprintln!("expvar-heap: warning: {e:#}");
                    if let Some(old) = self.clients.get(&tls) {
                        clients.insert(tls, old.clone());
                    }
                }
            }
        }
        for running in &self.running {
            if let Some(client) = clients.get(&running.target.tls) {
                running.client.send_replace(client.clone());
            }
        }
        self.clients = clients;
        let mut added = 0;
        for target in targets {
            if self.running.iter().any(|running| running.target == target) {
                continue;
            }
            let address = target.options.service_address.clone().unwrap_or_default();
            match self.add(target, true) {
                Ok(()) => added += 1,
                Err(e) => eprintln!("expvar-heap: warning: target {address} not started: {e:#}"),
            }
        }
        if self.running.is_empty() {
            self.say_none_yet();
        } else {
            self.warned_none = false;
        }
        if !quiet && (added > 0 || removed > 0) {
            eprintln!(
                "expvar-heap: targets file read again: {added} targets added, {removed} removed, {} kept",
                before - removed
            );
        }
    }
}

/// When to read the targets file again: at SIGHUP (at once, even unchanged: certificate files
/// are read again too), and when its content changed and then stayed the same for one check
/// (checked every second), so that a file seen half-written is not applied. The file is read
/// once for each check, and what was read is what is applied. Without a targets file, never.
struct TargetsFileChanges {
    file: Option<WatchedFile>,
    hangup: Option<tokio::signal::unix::Signal>,
    poll: tokio::time::Interval,
}

struct WatchedFile {
    path: std::path::PathBuf,
    /// The bytes last applied.
    applied: Vec<u8>,
    /// Bytes read that differ from those applied, waiting to be read once more, the same.
    settling: Option<Vec<u8>>,
}

impl TargetsFileChanges {
    /// Watches `path`, whose bytes `applied` are in use.
    fn new(path: Option<&std::path::Path>, applied: Option<Vec<u8>>) -> Result<TargetsFileChanges> {
        let mut poll = tokio::time::interval(Duration::from_secs(1));
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let Some(path) = path else {
            return Ok(TargetsFileChanges { file: None, hangup: None, poll });
        };
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot watch for SIGHUP")?;
        let file = WatchedFile {
            path: path.to_owned(),
            applied: applied.unwrap_or_default(),
            settling: None,
        };
        Ok(TargetsFileChanges { file: Some(file), hangup: Some(hangup), poll })
    }

    /// Whether there is a targets file to watch.
    fn watching(&self) -> bool {
        self.file.is_some()
    }

    /// The file's bytes when they are to be applied (or why it could not be read at SIGHUP).
    async fn next(&mut self) -> std::io::Result<Vec<u8>> {
        let (Some(file), Some(hangup)) = (&mut self.file, &mut self.hangup) else {
            return std::future::pending().await;
        };
        loop {
            let asked = tokio::select! {
                _ = hangup.recv() => true,
                _ = self.poll.tick() => false,
            };
            let path = file.path.clone();
            // At most one byte past the size a targets file may have (enough to refuse it).
            let read = tokio::task::spawn_blocking(move || {
                targets::read_targets_file(&path)
                    .map_err(|e| std::io::Error::other(format!("{e:#}")))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if asked {
                file.settling = None;
                if let Ok(bytes) = &read {
                    file.applied = bytes.clone();
                }
                return read;
            }
            // A file missing for a moment (replaced by a rename) is no change.
            let Ok(now) = read else { continue };
            if let Some(settled) = file.seen(now) {
                return Ok(settled);
            }
        }
    }
}

impl WatchedFile {
    /// What one check read: the bytes to apply once they differ from those applied and were
    /// read the same twice in a row.
    fn seen(&mut self, now: Vec<u8>) -> Option<Vec<u8>> {
        if now == self.applied {
            self.settling = None;
            None
        } else if self.settling.as_ref() == Some(&now) {
            self.settling = None;
            self.applied = now.clone();
            Some(now)
        } else {
            self.settling = Some(now);
            None
        }
    }
}

/// One target's schedule: its scrapes, handed to the transform thread.
struct Job {
    /// Its collector's, in the transform thread.
    id: u64,
    /// Its HTTP client, the latest made for its TLS settings.
    client: watch::Receiver<Client>,
    target: Target,
    period: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    count: Option<u64>,
    tally: Arc<Tally>,
    backlog: Arc<Backlog>,
    to_transform: mpsc::Sender<ToTransform>,
}

impl Job {
    /// Scrapes at `first`, then every period, until its count is done, the run stops
    /// (`stopped`) or the target is removed (`removed`).
    async fn run(
        self,
        first: tokio::time::Instant,
        mut stopped: watch::Receiver<bool>,
        mut removed: watch::Receiver<bool>,
    ) {
        let mut ticks = tokio::time::interval_at(first, self.period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut next = first;
        let mut done = 0;
        while self.count.is_none_or(|count| done < count) {
            let tick = tokio::select! {
                biased;
                _ = stopped.wait_for(|stop| *stop) => return,
                _ = removed.wait_for(|stop| *stop) => return,
                tick = ticks.tick() => tick,
            };
            if tick > next {
                let skipped = (tick - next).as_nanos() / self.period.as_nanos();
                self.tally.skipped.fetch_add(skipped as u64, Ordering::Relaxed);
            }
            next = tick + self.period;
            // `@timestamp` is when the scrape started.
            let time = CollectionTime::from_system_time(SystemTime::now());
            let client = self.client.borrow().clone();
            let fetched =
                fetch::fetch(&client, &self.target, self.timeout, self.max_body_bytes).await;
            self.tally.scrapes.fetch_add(1, Ordering::Relaxed);
            let bytes = fetched.as_ref().map_or_else(|f| f.body.len(), Vec::len);
            // A target whose bodies wait too long already waits here, and its ticks are skipped.
            let place = self.backlog.enter(bytes).await;
            let handed = Fetched { target: self.id, time, fetched, _place: place };
            if self.to_transform.send(ToTransform::Scrape(handed)).is_err() {
                return; // the transform thread stopped (the output broke)
            }
            done += 1;
        }
    }
}

/// What the transform thread is handed, in order: a target's collector when it starts, its
/// scrapes, and its end.
enum ToTransform {
    Add { id: u64, address: String, label: Label, collector: Box<TargetCollector> },
    Scrape(Fetched),
    Remove { id: u64 },
}

/// A scrape, handed to the transform thread.
struct Fetched {
    target: u64,
    time: CollectionTime,
    fetched: Result<Vec<u8>, fetch::Failure>,
    /// Its place in its target's backlog, left once its events are written.
    _place: Place,
}

/// The bodies of one target that wait for the transform thread (or are in it): at most
/// [`Backlog::MAX_BODIES`], and [`Backlog::MAX_BYTES`] together unless there is only one, so
/// that a target whose bodies come faster than they are transformed cannot fill the memory.
#[derive(Default)]
struct Backlog {
    /// Bodies and their bytes.
    waiting: Mutex<(usize, usize)>,
    left: Notify,
}

impl Backlog {
    const MAX_BODIES: usize = 8;
    const MAX_BYTES: usize = 16 << 20;

    /// Waits until a body of `bytes` may join, and joins.
    async fn enter(self: &Arc<Backlog>, bytes: usize) -> Place {
        loop {
            let left = self.left.notified();
            {
                let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                let (bodies, total) = *waiting;
                if bodies == 0 || (bodies < Self::MAX_BODIES && total + bytes <= Self::MAX_BYTES) {
                    *waiting = (bodies + 1, total + bytes);
                    return Place { backlog: self.clone(), bytes };
                }
            }
            left.await;
        }
    }
}

/// A body's place in its target's backlog: left when dropped.
struct Place {
    backlog: Arc<Backlog>,
    bytes: usize,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut waiting = self.backlog.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.0 -= 1;
        waiting.1 -= self.bytes;
        drop(waiting);
        self.backlog.left.notify_waiters();
    }
}

/// One target's collector, in the transform thread.
struct TargetCollector {
    collector: ProcessCollector,
    options: expvar_heap::ValidOptions,
    /// `--first-window first-scrape`, until a scrape gave a usable body: that body's events
    /// get no pause window, and the windows start at it.
    baseline_pending: bool,
}

/// The transform thread: owns every target's collector, and tells the observers each scrape's
/// events, in the order the scrapes were handed over, whole. Ends when every sender is gone, or
/// at the first observer that fails (its error).
fn transform_bodies(
    messages: mpsc::Receiver<ToTransform>,
    mut observers: Vec<Box<dyn Observer>>,
    tally: &Tally,
) -> std::io::Result<()> {
    let mut collectors = BTreeMap::new();
    for message in messages {
        let Fetched { target, time, fetched, _place } = match message {
            ToTransform::Add { id, address, label, collector } => {
                collectors.insert(id, collector);
                observers.iter_mut().for_each(|o| o.target_added(id, &address, &label));
                continue;
            }
            ToTransform::Remove { id } => {
                collectors.remove(&id);
                observers.iter_mut().for_each(|o| o.target_removed(id));
                continue;
            }
            ToTransform::Scrape(fetched) => fetched,
        };
        // A target removed with a scrape in flight: that scrape is dropped.
        let Some(collector) = collectors.get_mut(&target) else { continue };
        let events = collector.events(time, fetched, tally);
        tally.events.fetch_add(events.len() as u64, Ordering::Relaxed);
        for observer in &mut observers {
            observer.scraped(target, &events)?;
        }
    }
    Ok(())
}

impl TargetCollector {
    /// One scrape's events.
    fn events(
        &mut self,
        time: CollectionTime,
        fetched: Result<Vec<u8>, fetch::Failure>,
        tally: &Tally,
    ) -> Vec<expvar_heap::Event> {
        let body = match fetched {
            // A failed scrape is an event, and leaves the collector as it was: the next good
            // body counts from the last good one.
            Err(failure) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                return expvar_heap::error_events(
                    &failure.message,
                    &failure.body,
                    time,
                    &self.options,
                );
            }
            Ok(body) => body,
        };
        let pushed = if self.baseline_pending {
            self.collector.push_as_baseline(&body, time)
        } else {
            self.collector.push(&body, time)
        };
        match pushed {
            Ok(events) => {
                // A 200 answer that is no expvar body (a proxy's page) fails too.
                if unusable(&events) {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.baseline_pending = false;
                }
                events
            }
            Err(e) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                let message = crate::unread::transform_failed(&e);
                expvar_heap::error_events(&message, &body, time, &self.options)
            }
        }
    }
}

/// A target's stable offset inside the period: FNV-1a of its address, spread over the period.
fn offset(address: &str, period: Duration) -> Duration {
    let hash = address
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    Duration::from_nanos((u128::from(hash) % period.as_nanos().max(1)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over long random sequences of reads (empty files, one byte apart, long ones, changes that
    /// flicker back): bytes are applied exactly when read the same twice in a row and unlike
    /// those applied, so what is applied is always the last of two equal reads.
    #[test]
    fn a_settled_read_is_applied_and_nothing_else_over_random_reads() {
        let texts: [Vec<u8>; 5] = [
            Vec::new(),
            b"[a]".to_vec(),
            b"[a, b".to_vec(),
            b"[a, b]".to_vec(),
            vec![b'x'; 1 << 16],
        ];
        let mut file = WatchedFile { path: "t.json".into(), applied: Vec::new(), settling: None };
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut previous, mut applied, mut count) = (None::<usize>, 0usize, 0);
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let now = (state % texts.len() as u64) as usize;
            let settled = file.seen(texts[now].clone());
            // `previous`: the read before, unless it was applied (a third equal read applies
            // nothing); `applied`: what was applied before this read.
            let expected = previous == Some(now) && texts[now] != texts[applied];
            if let Some(bytes) = &settled {
                assert_eq!(bytes, &texts[now]);
                assert_ne!(texts[now], texts[applied]);
                assert_eq!(previous, Some(now), "applied without a second equal read");
                applied = now;
                count += 1;
            }
            assert_eq!(settled.is_some(), expected);
            assert_eq!(file.applied, texts[applied]);
            previous = if settled.is_some() { None } else { Some(now) };
        }
        assert!(count > 1000, "{count} applied");
    }

    /// A file seen half-written is not applied: only bytes read the same at two checks in a row
    /// are, once each.
    #[test]
    fn a_targets_file_is_applied_once_it_settles() {
        let mut file =
            WatchedFile { path: "targets.json".into(), applied: b"[a]".to_vec(), settling: None };
        assert_eq!(file.seen(b"[a]".to_vec()), None);
        // Written in two steps: the first is never applied.
        assert_eq!(file.seen(b"[a, b".to_vec()), None);
        assert_eq!(file.seen(b"[a, b, c]".to_vec()), None);
        assert_eq!(file.seen(b"[a, b, c]".to_vec()), Some(b"[a, b, c]".to_vec()));
        assert_eq!(file.seen(b"[a, b, c]".to_vec()), None);
        // A change undone before it settled changes nothing.
        assert_eq!(file.seen(b"[]".to_vec()), None);
        assert_eq!(file.seen(b"[a, b, c]".to_vec()), None);
        assert_eq!(file.seen(b"[a, b, c]".to_vec()), None);
    }

    #[test]
    fn offsets_are_stable_inside_the_period_and_spread() {
        let period = Duration::from_secs(1);
        assert_eq!(offset("http://a:1", period), offset("http://a:1", period));
        let offsets: Vec<Duration> = (0..1000)
            .map(|i| offset(&format!("http://10.0.{}.{}:6060", i / 256, i % 256), period))
            .collect();
        assert!(offsets.iter().all(|o| *o < period));
        // Spread: every tenth of the period holds some of 1,000 targets.
        for tenth in 0..10 {
            let range = period * tenth / 10..period * (tenth + 1) / 10;
            let n = offsets.iter().filter(|o| range.contains(o)).count();
            assert!((50..150).contains(&n), "{n} offsets in tenth {tenth}");
        }
    }
}
