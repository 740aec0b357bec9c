//! Running the `golang:expvar/expvar-heap` component in wasmtime, safely: an empty linker (the
//! component imports nothing), a cap on its linear memory, a deadline on each call, and a fresh
//! instance after any trap.
//!
//! The API mirrors the WIT: a [`Processor`] (the compiled component and its one live instance)
//! with [`Processor::transform`], and [`Processor::collector`] for a [`ComponentCollector`] whose
//! [`push`](ComponentCollector::push) matches the native [`expvar_heap::Collector::push`].
//!
//! ```no_run
//! use expvar_heap::{CollectionTime, Options};
//! use expvar_heap_wasmtime::{Limits, Processor};
//!
//! let processor = Processor::load("dist/expvar-heap.wasm".as_ref(), Limits::default())?;
//! let time = CollectionTime::from_system_time(std::time::SystemTime::now());
//! let mut collector = processor.collector(&Options::default())?;
//! for event in collector.push(&std::fs::read("vars.json")?, time)? {
//!     println!("{event}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use expvar_heap::{CollectionTime, Event, Options};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, ResourceLimiter, Store};

mod bindings {
    wasmtime::component::bindgen!({ path: "../../wit", world: "expvar-heap" });
}

use bindings::exports::golang::expvar::collector::GuestCollector;
use bindings::exports::golang::expvar::types as wit;

/// How often the epoch ticks; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// After a call leaves the instance's memory above this, the instance is dropped (when no
/// collector lives in it) so that one large body does not keep its memory for the life of the
/// process.
const KEEP_INSTANCE_BELOW_BYTES: usize = 16 << 20;

/// What the component may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory an instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// The longest one call may run.
    pub call_timeout: Duration,
    /// The most WebAssembly instructions one call may execute (wasmtime's fuel: one unit per
    /// instruction, deterministic), or `None` for no count. Counting costs time in every call;
    /// with it on, [`Processor::last_call_instructions`] tells what each call executed.
    pub max_instructions: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: 512 << 20,
            call_timeout: Duration::from_secs(10),
            max_instructions: None,
        }
    }
}

/// Why a call gave no events.
#[derive(Debug)]
pub enum CallError {
    /// The options were refused (the component's `err`), with the component's sentence.
    Options(String),
    /// The component trapped (memory cap, deadline, or a bug): the instance was dropped and the
    /// next call gets a fresh one, in which every collector starts again as at its first body.
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
    max_bytes: usize,
    current_bytes: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            return Err(wasmtime::Error::msg(format!(
                "linear memory would grow to {desired} bytes, over the cap of {} bytes",
                self.max_bytes
            )));
        }
        self.current_bytes = desired;
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

/// The live instance.
struct Live {
    store: Store<MemoryCap>,
    processor: bindings::ExpvarHeap,
}

/// The state the [`Processor`] handles share.
struct Shared {
    engine: Engine,
    pre: bindings::ExpvarHeapPre<MemoryCap>,
    limits: Limits,
    live: Option<Live>,
    /// Counts the instances made: a collector made in an earlier one must be made anew.
    generation: u64,
    /// Collector resources alive in the current instance (it is kept while there are any).
    collectors: usize,
    /// The instructions the last entry into the instance executed, when they are counted.
    last_instructions: Option<u64>,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Shared {
    /// Runs `call` against the live instance (made first if there is none) under the deadline:
    /// the one place a call enters the component. After a trap the instance is dropped; after a
    /// call that left its memory large, too, unless collectors live in it (`holds_collector`
    /// says this call's does, even before it is counted).
    fn with_live<T>(
        &mut self,
        holds_collector: bool,
        call: impl FnOnce(&mut Live, u64) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => {
                self.generation += 1;
                self.collectors = 0;
                self.instantiate().map_err(|e| CallError::Trap(e.into()))?
            }
        };
        live.store.set_epoch_deadline(self.deadline_ticks());
        if let Some(max) = self.limits.max_instructions {
            live.store.set_fuel(max).map_err(|e| CallError::Trap(e.into()))?;
        }
        let result = call(&mut live, self.generation);
        self.last_instructions = self
            .limits
            .max_instructions
            .map(|max| max.saturating_sub(live.store.get_fuel().unwrap_or(max)));
        let result = result.map_err(|e| CallError::Trap(e.into()))?;
        let small = live.store.data().current_bytes <= KEEP_INSTANCE_BELOW_BYTES;
        if small || holds_collector || self.collectors > 0 {
            self.live = Some(live);
        }
        Ok(result)
    }

    /// The call timeout in epoch ticks (at least one).
    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    fn instantiate(&self) -> wasmtime::Result<Live> {
        let cap = MemoryCap { max_bytes: self.limits.max_memory_bytes, current_bytes: 0 };
        let mut store = Store::new(&self.engine, cap);
        store.limiter(|cap| cap);
        store.epoch_deadline_trap();
        // Instantiation may run the module's start code: give it the same deadline as a call.
        store.set_epoch_deadline(self.deadline_ticks());
        if let Some(max) = self.limits.max_instructions {
            store.set_fuel(max)?;
        }
        let processor = self.pre.instantiate(&mut store)?;
        Ok(Live { store, processor })
    }
}

/// The component, compiled once, with at most one live instance. Cloning gives another handle to
/// the same instance; calls from several threads take turns.
#[derive(Clone)]
pub struct Processor {
    shared: Arc<Mutex<Shared>>,
}

impl Processor {
    /// Compiles the component at `path` and checks that it is a `golang:expvar/expvar-heap` component.
    pub fn load(path: &Path, limits: Limits) -> anyhow::Result<Processor> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the component {}", path.display()))?;
        Processor::from_bytes(&bytes, limits)
            .with_context(|| format!("cannot load the component {}", path.display()))
    }

    /// Compiles a component from its bytes.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> anyhow::Result<Processor> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.consume_fuel(limits.max_instructions.is_some());
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, bytes)?;
        let linker = Linker::new(&engine);
        let pre = bindings::ExpvarHeapPre::new(linker.instantiate_pre(&component)?)
            .map_err(anyhow::Error::from)
            .context("it is not a golang:expvar@0.2.0 expvar-heap component")?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking_engine, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticking_engine.increment_epoch();
            }
        })?;
        let shared = Shared {
            engine,
            pre,
            limits,
            live: None,
            generation: 0,
            collectors: 0,
            last_instructions: None,
            ticker_stop,
        };
        Ok(Processor { shared: Arc::new(Mutex::new(shared)) })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave the state half-changed in a way that
        // matters: at worst the instance is dropped and made anew.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The limits of the calls that follow.
    pub fn limits(&self) -> Limits {
        self.lock().limits
    }

    /// The WebAssembly instructions the last call executed, when [`Limits::max_instructions`]
    /// has them counted (a call that trapped counts what it executed before the trap).
    pub fn last_call_instructions(&self) -> Option<u64> {
        self.lock().last_instructions
    }

    /// Changes the deadline of the calls that follow.
    pub fn set_call_timeout(&self, timeout: Duration) {
        self.lock().limits.call_timeout = timeout;
    }

    /// The size of the live instance's linear memory in bytes (0 when there is none).
    pub fn linear_memory_bytes(&self) -> usize {
        self.lock().live.as_ref().map_or(0, |live| live.store.data().current_bytes)
    }

    /// The component's `default-options`.
    pub fn default_options(&self) -> Result<Options, CallError> {
        let options = self.lock().with_live(false, |live, _| {
            live.processor.golang_expvar_transform().call_default_options(&mut live.store)
        })?;
        Ok(from_wit(options))
    }

    /// The component's `transform` on one body (no pause window).
    pub fn transform(
        &self,
        body: &[u8],
        time: CollectionTime,
        options: &Options,
    ) -> Result<Vec<Event>, CallError> {
        let options = to_wit(options);
        let time = to_wit_time(time);
        let result = self.lock().with_live(false, |live, _| {
            let api = live.processor.golang_expvar_transform();
            api.call_transform(&mut live.store, body, time, &options)
        })?;
        result.map(events).map_err(CallError::Options)
    }

    /// A collector for one process, made in the component with `options` (refused here when
    /// they are invalid).
    pub fn collector(&self, options: &Options) -> Result<ComponentCollector, CallError> {
        let mut collector = ComponentCollector {
            processor: self.clone(),
            options: to_wit(options),
            resource: None,
        };
        collector.call(|_, _, _| Ok(()))?;
        Ok(collector)
    }
}

/// The component's `collector` resource: one process's bodies, with the pause window. Its state
/// lives in the processor's instance: after a trap (of any call of that processor) it is made
/// anew, and its next body counts as a first body.
pub struct ComponentCollector {
    processor: Processor,
    options: wit::Options,
    /// The resource, and the generation of the instance it lives in.
    resource: Option<(u64, ResourceAny)>,
}

impl ComponentCollector {
    /// The events of the next body of the process (one per dataset, heap first).
    pub fn push(&mut self, body: &[u8], time: CollectionTime) -> Result<Vec<Event>, CallError> {
        let time = to_wit_time(time);
        let pushed =
            self.call(|store, api, resource| api.call_push(store, resource, body, time))?;
        Ok(events(pushed))
    }

    /// Runs `call` with the resource, in one entry into the live instance: the resource is made
    /// there first when it is not (yet, or any more, after a trap).
    fn call<T>(
        &mut self,
        call: impl FnOnce(
            &mut Store<MemoryCap>,
            &GuestCollector<'_>,
            ResourceAny,
        ) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let processor = self.processor.clone();
        let mut shared = processor.lock();
        let (options, current) = (&self.options, self.resource);
        let outcome = shared.with_live(true, |live, generation| {
            let Live { store, processor } = live;
            let api = processor.golang_expvar_collector().collector();
            let (resource, made) = match current {
                Some((made_in, resource)) if made_in == generation => (resource, false),
                _ => match api.call_create(&mut *store, options)? {
                    Ok(resource) => (resource, true),
                    Err(why) => return Ok(Err(why)),
                },
            };
            Ok(Ok((generation, resource, made, call(store, &api, resource)?)))
        })?;
        let (generation, resource, made, result) = outcome.map_err(CallError::Options)?;
        if made {
            shared.collectors += 1;
            self.resource = Some((generation, resource));
        }
        Ok(result)
    }
}

impl Drop for ComponentCollector {
    fn drop(&mut self) {
        let Some((made_in, resource)) = self.resource.take() else { return };
        let mut shared = self.processor.lock();
        if made_in != shared.generation {
            return; // its instance is gone, and the resource with it
        }
        shared.collectors -= 1;
        if let Some(live) = shared.live.as_mut() {
            // Dropping a resource runs no guest code that could trap on its own; if it fails
            // anyway, the instance is dropped and the next call makes a fresh one.
            if resource.resource_drop(&mut live.store).is_err() {
                shared.live = None;
            }
        }
    }
}

fn events(events: Vec<wit::Event>) -> Vec<Event> {
    events.into_iter().map(|e| Event { json: e.json, has_error: e.has_error }).collect()
}

fn to_wit_time(time: CollectionTime) -> wit::Datetime {
    wit::Datetime { seconds: time.seconds, nanoseconds: time.nanoseconds }
}

fn to_wit(options: &Options) -> wit::Options {
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

fn from_wit(options: wit::Options) -> Options {
    Options {
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
