//! Which engine makes the events: the component embedded in this program (the default), one named
//! with `--component`, or the library natively. Either way the bodies of a run are one process's,
//! in order, so the collector's pause window spans them.

use anyhow::Result;
use expvar_heap::{CollectionTime, Collector, Event, ValidOptions};
use expvar_heap_wasmtime::{CallError, ComponentCollector, Processor};

use crate::args::EngineArgs;

/// The component `cargo xtask` built before this program, embedded by `build.rs` (empty when
/// there was none).
static EMBEDDED_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/component.wasm"));

/// That component compiled ahead of time by `cargo xtask build` for the machine it ran on
/// (`expvar_heap_wasmtime::precompile`), when this program was built for that machine's target;
/// empty otherwise.
static EMBEDDED_PRECOMPILED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/component.cwasm"));

/// A collector for one process, in the component or native.
pub enum ProcessCollector {
    Component(ComponentCollector),
    Native(Collector),
}

/// What makes the collectors: the component, loaded once (every collector of a run lives in its
/// one instance), or the native library.
pub enum Engine {
    Component(Processor),
    Native,
}

impl Engine {
    /// The engine the flags ask for. A program built without a component runs natively, and says
    /// so on stderr unless `quiet`.
    pub fn open(args: &EngineArgs, quiet: bool) -> Result<Engine> {
        Ok(if args.native {
            Engine::Native
        } else if let Some(path) = &args.component {
            Engine::Component(Processor::load(path, args.limits())?)
        } else if EMBEDDED_COMPONENT.is_empty() {
            if !quiet {
                eprintln!(
                    "expvar-heap: this build embeds no component (build it with `cargo xtask build` first); running the library natively"
                );
            }
            Engine::Native
        } else {
            // SAFETY: `build.rs` embeds, unchanged, what `expvar_heap_wasmtime::precompile` wrote
            // for `EMBEDDED_COMPONENT` (or nothing); from_precompiled compiles the component
            // instead when that does not fit this machine.
            let (processor, _) = unsafe {
                Processor::from_precompiled(EMBEDDED_PRECOMPILED, EMBEDDED_COMPONENT, args.limits())
            }?;
            Engine::Component(processor)
        })
    }

    /// A collector for one process.
    pub fn collector(&self, options: &ValidOptions) -> Result<ProcessCollector> {
        Ok(match self {
            Engine::Component(processor) => {
                ProcessCollector::Component(processor.collector(options)?)
            }
            Engine::Native => ProcessCollector::Native(Collector::new(options.clone())),
        })
    }

    /// How the events are made, for the summary.
    pub fn how(&self) -> &'static str {
        match self {
            Engine::Component(_) => "in the component",
            Engine::Native => "natively",
        }
    }
}

impl ProcessCollector {
    /// The events of the next body.
    pub fn push(&mut self, body: &[u8], time: CollectionTime) -> Result<Vec<Event>, CallError> {
        match self {
            ProcessCollector::Component(collector) => collector.push(body, time),
            ProcessCollector::Native(collector) => Ok(collector.push(body, time)),
        }
    }

    /// The events of a body made as the stateless transform makes them (no pause window), while
    /// the collector still takes the body as the process's latest: the next body's window starts
    /// here. For a first body whose window would span the process's whole life.
    pub fn push_as_baseline(
        &mut self,
        body: &[u8],
        time: CollectionTime,
    ) -> Result<Vec<Event>, CallError> {
        match self {
            ProcessCollector::Component(collector) => {
                collector.push(body, time)?;
                collector.processor().transform(body, time, &collector.options())
            }
            ProcessCollector::Native(collector) => {
                collector.push(body, time);
                Ok(expvar_heap::transform(body, time, collector.options()))
            }
        }
    }

    /// How the events are made, for the summary.
    pub fn how(&self) -> &'static str {
        match self {
            ProcessCollector::Component(_) => "in the component",
            ProcessCollector::Native(_) => "natively",
        }
    }
}
