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

/// A collector for one process, in the component or native.
pub enum Engine {
    Component(ComponentCollector),
    Native(Collector),
}

impl Engine {
    /// The engine the flags ask for. A program built without a component runs natively, and says
    /// so on stderr unless `quiet`.
    pub fn open(args: &EngineArgs, options: &ValidOptions, quiet: bool) -> Result<Engine> {
        let processor = if args.native {
            return Ok(Engine::Native(Collector::new(options.clone())));
        } else if let Some(path) = &args.component {
            Processor::load(path, args.limits())?
        } else if EMBEDDED_COMPONENT.is_empty() {
            if !quiet {
                eprintln!(
                    "expvar-heap: this build embeds no component (build it with `cargo xtask build` first); running the library natively"
                );
            }
            return Ok(Engine::Native(Collector::new(options.clone())));
        } else {
            Processor::from_bytes(EMBEDDED_COMPONENT, args.limits())?
        };
        let collector = processor.collector(options)?;
        Ok(Engine::Component(collector))
    }

    /// The events of the next body.
    pub fn push(&mut self, body: &[u8], time: CollectionTime) -> Result<Vec<Event>, CallError> {
        match self {
            Engine::Component(collector) => collector.push(body, time),
            Engine::Native(collector) => Ok(collector.push(body, time)),
        }
    }

    /// How the events are made, for the summary.
    pub fn how(&self) -> &'static str {
        match self {
            Engine::Component(_) => "in the component",
            Engine::Native(_) => "natively",
        }
    }
}
