//! Running the `golang:expvar/expvar-heap` component in wasmtime, safely: an empty linker (the
//! component imports nothing), a cap on its linear memory, a deadline on each call, and a fresh
//! instance after any trap.
//!
//! Compiling the component takes about half a second; a program that ships it can compile it
//! ahead of time with [`precompile`] (the same wasmtime, the same configuration) and load that in
//! milliseconds with [`Processor::from_precompiled`], which falls back to compiling when the
//! precompiled form does not fit the machine.
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
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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

/// How often the epoch ticks while a call runs; call deadlines are counted in these ticks.
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

/// Ticks the engine's epoch every [`EPOCH_TICK`], but only while a call runs: an idle host (a
/// scrape agent between two scrapes) is not woken at all.
struct Ticker {
    state: Mutex<TickerState>,
    wake: Condvar,
}

#[derive(Default)]
struct TickerState {
    calls: usize,
    stop: bool,
    /// How often the epoch ticked.
    ticks: u64,
}

impl Ticker {
    /// Starts the ticking thread of `engine`.
    fn start(engine: Engine) -> std::io::Result<Arc<Ticker>> {
        let ticker =
            Arc::new(Ticker { state: Mutex::new(TickerState::default()), wake: Condvar::new() });
        let thread_ticker = ticker.clone();
        std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
            loop {
                {
                    let state = thread_ticker.lock();
                    let state = thread_ticker
                        .wake
                        .wait_while(state, |s| s.calls == 0 && !s.stop)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if state.stop {
                        return;
                    }
                }
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
                thread_ticker.lock().ticks += 1;
            }
        })?;
        Ok(ticker)
    }

    fn lock(&self) -> MutexGuard<'_, TickerState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `call` with the epoch ticking.
    fn during<T>(&self, call: impl FnOnce() -> T) -> T {
        /// Counts the call out however it ends, a panic included.
        struct Running<'a>(&'a Ticker);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.lock().calls -= 1;
            }
        }
        self.lock().calls += 1;
        self.wake.notify_one();
        let _running = Running(self);
        call()
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
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
    ticker: Arc<Ticker>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker.stop();
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
        let ticker = self.ticker.clone();
        ticker.during(|| self.with_live_ticking(holds_collector, call))
    }

    /// [`Shared::with_live`] once the epoch ticks.
    fn with_live_ticking<T>(
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

/// The one configuration of every engine here: [`precompile`] must match what loads its output.
fn engine_config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(limits.max_instructions.is_some());
    config
}

/// FNV-1a (64 bits) of a component's bytes: ties a precompiled form to the component it was
/// made from.
fn fingerprint(component: &[u8]) -> u64 {
    component.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Compiles `component` ahead of time for this machine (its target and CPU features), with the
/// configuration of a [`Processor`] that counts no instructions, for
/// [`Processor::from_precompiled`]: the component's fingerprint, then wasmtime's serialized
/// form.
pub fn precompile(component: &[u8]) -> anyhow::Result<Vec<u8>> {
    let engine = Engine::new(&engine_config(&Limits::default()))?;
    let code = engine.precompile_component(component)?;
    let mut out = fingerprint(component).to_le_bytes().to_vec();
    out.extend_from_slice(&code);
    Ok(out)
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
        let engine = Engine::new(&engine_config(&limits))?;
        let component = Component::new(&engine, bytes)?;
        Processor::from_component(engine, component, limits)
    }

    /// Loads `component` from the form [`precompile`] made of it, in milliseconds where
    /// compiling takes about half a second. Falls back to compiling `component` when that form
    /// does not fit: made from other bytes, by another wasmtime or configuration, for another
    /// target or CPU, or when [`Limits::max_instructions`] asks for counted instructions. The
    /// second value says whether the precompiled form was used.
    ///
    /// # Safety
    /// `precompiled` must be bytes that [`precompile`] wrote, unchanged: wasmtime runs the
    /// machine code in them as it is (it checks their version, configuration and target, not
    /// their code).
    pub unsafe fn from_precompiled(
        precompiled: &[u8],
        component: &[u8],
        limits: Limits,
    ) -> anyhow::Result<(Processor, bool)> {
        let engine = Engine::new(&engine_config(&limits))?;
        let compiled = match precompiled.split_first_chunk::<8>() {
            Some((tag, code))
                if limits.max_instructions.is_none()
                    && u64::from_le_bytes(*tag) == fingerprint(component) =>
            {
                // SAFETY: as the caller promises, `code` is what `precompile` serialized;
                // wasmtime refuses it (an error, not undefined behaviour) when it was made by
                // another version, configuration or target.
                unsafe { Component::deserialize(&engine, code) }.ok()
            }
            _ => None,
        };
        let precompiled = compiled.is_some();
        let component = match compiled {
            Some(compiled) => compiled,
            None => Component::new(&engine, component)?,
        };
        Ok((Processor::from_component(engine, component, limits)?, precompiled))
    }

    fn from_component(
        engine: Engine,
        component: Component,
        limits: Limits,
    ) -> anyhow::Result<Processor> {
        let linker = Linker::new(&engine);
        let pre = bindings::ExpvarHeapPre::new(linker.instantiate_pre(&component)?)
            .map_err(anyhow::Error::from)
            .context("it is not a golang:expvar@0.2.0 expvar-heap component")?;
        let ticker = Ticker::start(engine.clone())?;
        let shared = Shared {
            engine,
            pre,
            limits,
            live: None,
            generation: 0,
            collectors: 0,
            last_instructions: None,
            ticker,
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

    /// How often the clock of the call deadlines has ticked: every 10 ms while a call runs, and
    /// never between calls.
    pub fn epoch_ticks(&self) -> u64 {
        let ticker = self.lock().ticker.clone();
        ticker.lock().ticks
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
    /// The processor it lives in.
    pub fn processor(&self) -> &Processor {
        &self.processor
    }

    /// The options its events are made with.
    pub fn options(&self) -> Options {
        from_wit(self.options.clone())
    }

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
