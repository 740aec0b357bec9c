//! Running the component in wasmtime, safely: an empty linker (the component imports nothing), a
//! cap on its linear memory, a deadline on each call, and a fresh instance after any trap.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, ResourceLimiter, Store};

mod bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "processor" });
}

use bindings::exports::golang::expvar::transform as wit;

/// How often the epoch ticks; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// After a call leaves the instance's memory above this, the instance is dropped so that one
/// large body does not keep its memory for the life of the process.
const KEEP_INSTANCE_BELOW_BYTES: usize = 16 << 20;

/// What one call of the component may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// The longest one call may run.
    pub call_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 512 << 20, call_timeout: Duration::from_secs(10) }
    }
}

/// Why a call gave no events.
#[derive(Debug)]
pub enum CallError {
    /// The options were refused (the component's `err`).
    Options(String),
    /// The component trapped (memory cap, deadline, or a bug): the instance was dropped and the
    /// next call gets a fresh one.
    Trap(anyhow::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Options(why) => f.write_str(why),
            CallError::Trap(trap) => write!(f, "the component trapped: {trap:#}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Tracks and caps the instance's memory.
struct MemoryCap {
    limit: usize,
    current: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::msg(format!(
                "linear memory would grow to {desired} bytes, over the cap of {} bytes",
                self.limit
            )));
        }
        self.current = desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000)
    }
}

struct Live {
    store: Store<MemoryCap>,
    processor: bindings::Processor,
    /// The collector resource of [`Processor::push`], with the options it was made with.
    collector: Option<(expvar_heap::Options, ResourceAny)>,
}

/// The component, compiled once, with at most one live instance.
pub struct Processor {
    engine: Engine,
    pre: bindings::ProcessorPre<MemoryCap>,
    limits: Limits,
    live: Option<Live>,
    ticker_stop: Arc<AtomicBool>,
}

impl Processor {
    /// Compiles the component at `path` and checks that it is a `golang:expvar/processor`.
    pub fn load(path: &Path, limits: Limits) -> Result<Processor> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the component {}", path.display()))?;
        Processor::from_bytes(&bytes, limits)
            .with_context(|| format!("cannot load the component {}", path.display()))
    }

    /// Compiles a component from its bytes.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Processor> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, bytes)?;
        let linker = Linker::new(&engine);
        let pre = bindings::ProcessorPre::new(linker.instantiate_pre(&component)?)
            .map_err(anyhow::Error::from)
            .context("it is not a golang:expvar/processor component")?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking_engine, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticking_engine.increment_epoch();
            }
        })?;
        Ok(Processor { engine, pre, limits, live: None, ticker_stop })
    }

    /// Changes the deadline of the calls that follow.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.limits.call_timeout = timeout;
    }

    /// The size of the live instance's linear memory in bytes (0 when there is none).
    pub fn memory_bytes(&self) -> usize {
        self.live.as_ref().map_or(0, |live| live.store.data().current)
    }

    /// The component's `default-options`.
    pub fn default_options(&mut self) -> Result<expvar_heap::Options, CallError> {
        let result = self.with_instance(|processor, store| {
            processor.golang_expvar_transform().call_default_options(store)
        })?;
        Ok(from_wit(result))
    }

    /// The component's `transform` on one body.
    pub fn transform(
        &mut self,
        body: &[u8],
        time: expvar_heap::CollectionTime,
        options: &expvar_heap::Options,
    ) -> Result<Vec<String>, CallError> {
        let options = to_wit(options);
        let time = wit::Datetime { seconds: time.seconds, nanoseconds: time.nanoseconds };
        self.with_instance(|processor, store| {
            processor.golang_expvar_transform().call_transform(store, body, time, &options)
        })?
        .map_err(CallError::Options)
    }

    /// The component's collector: the next body of the one process this processor follows, with
    /// its pause window. The collector is made on first use and made anew when `options` change.
    /// Its state lives in the instance: after a trap, the next body counts as a first body.
    pub fn push(
        &mut self,
        body: &[u8],
        time: expvar_heap::CollectionTime,
        options: &expvar_heap::Options,
    ) -> Result<Vec<String>, CallError> {
        let time = wit::Datetime { seconds: time.seconds, nanoseconds: time.nanoseconds };
        self.with_live(|live| {
            let api = live.processor.golang_expvar_collector().collector();
            let resource = match &live.collector {
                Some((made_with, resource)) if made_with == options => *resource,
                _ => {
                    if let Some((_, old)) = live.collector.take() {
                        old.resource_drop(&mut live.store)?;
                    }
                    let resource = api.call_constructor(&mut live.store, &to_wit(options))?;
                    live.collector = Some((options.clone(), resource));
                    resource
                }
            };
            api.call_push(&mut live.store, resource, body, time)
        })?
        .map_err(CallError::Options)
    }

    /// Runs `call` on the live instance (instantiating one if needed) under the deadline.
    fn with_instance<T>(
        &mut self,
        call: impl FnOnce(&bindings::Processor, &mut Store<MemoryCap>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        self.with_live(|live| call(&live.processor, &mut live.store))
    }

    /// Runs `call` on the live instance under the deadline. Drops the instance after a trap, or
    /// when the call left its memory large and it holds no collector state worth keeping.
    fn with_live<T>(
        &mut self,
        call: impl FnOnce(&mut Live) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate().map_err(|e| CallError::Trap(e.into()))?,
        };
        live.store.set_epoch_deadline(self.deadline_ticks());
        let result = call(&mut live).map_err(|e| CallError::Trap(e.into()))?;
        if live.store.data().current <= KEEP_INSTANCE_BELOW_BYTES || live.collector.is_some() {
            self.live = Some(live);
        }
        Ok(result)
    }

    /// The call timeout in epoch ticks (at least one).
    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    fn instantiate(&self) -> wasmtime::Result<Live> {
        let mut store =
            Store::new(&self.engine, MemoryCap { limit: self.limits.memory_bytes, current: 0 });
        store.limiter(|cap| cap);
        store.epoch_deadline_trap();
        // Instantiation may run the module's start code: give it the same deadline as a call.
        store.set_epoch_deadline(self.deadline_ticks());
        let processor = self.pre.instantiate(&mut store)?;
        Ok(Live { store, processor, collector: None })
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn to_wit(options: &expvar_heap::Options) -> wit::Options {
    let mut datasets = wit::Datasets::empty();
    if options.datasets.heap {
        datasets |= wit::Datasets::HEAP;
    }
    if options.datasets.expvar {
        datasets |= wit::Datasets::EXPVAR;
    }
    wit::Options {
        namespace: options.namespace.clone(),
        tags: options.tags.clone(),
        preserve_original_event: options.preserve_original_event,
        ecs_version: options.ecs_version.clone(),
        service_address: options.service_address.clone(),
        datasets,
    }
}

fn from_wit(options: wit::Options) -> expvar_heap::Options {
    expvar_heap::Options {
        namespace: options.namespace,
        tags: options.tags,
        preserve_original_event: options.preserve_original_event,
        ecs_version: options.ecs_version,
        service_address: options.service_address,
        datasets: expvar_heap::Datasets {
            heap: options.datasets.contains(wit::Datasets::HEAP),
            expvar: options.datasets.contains(wit::Datasets::EXPVAR),
        },
    }
}
