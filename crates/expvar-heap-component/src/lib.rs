//! The `golang:expvar/expvar-heap` component: the WIT interface of `wit/` over the `expvar-heap`
//! crate. Glue only: every mapping decision is the core crate's.
//!
//! Built for `wasm32-unknown-unknown` (so it imports nothing) and encoded as a component by
//! `cargo xtask build`.

wit_bindgen::generate!({
    path: "../../wit",
    world: "expvar-heap",
});

use std::cell::RefCell;

use exports::golang::expvar::collector::{
    Collector as CollectorHandle, Guest as CollectorGuest, GuestCollector,
};
use exports::golang::expvar::transform::Guest as TransformGuest;
use exports::golang::expvar::types::{Datasets, Datetime, Event, Options};

struct Processor;

impl TransformGuest for Processor {
    fn default_options() -> Options {
        to_wit(expvar_heap::Options::default())
    }

    fn transform(
        body: Vec<u8>,
        collected_at: Datetime,
        options: Options,
    ) -> Result<Vec<Event>, String> {
        let options = from_wit(options);
        LAST_OPTIONS.with_borrow_mut(|last| {
            // A host passes the same options call after call: they are checked (and the
            // envelope of their events written) once, not per body.
            if last.as_ref().is_none_or(|valid| *valid.options() != options) {
                *last = Some(options.validate().map_err(|e| e.to_string())?);
            }
            let options = last.as_ref().expect("set above");
            Ok(events(expvar_heap::transform(&body, from_wit_time(collected_at), options)))
        })
    }
}

thread_local! {
    /// The options of the last `transform` call, checked.
    static LAST_OPTIONS: RefCell<Option<expvar_heap::ValidOptions>> = const { RefCell::new(None) };
}

impl CollectorGuest for Processor {
    type Collector = Collector;
}

/// The WIT resource: the core's collector (`push` takes `&self`, hence the cell).
struct Collector(RefCell<expvar_heap::Collector>);

impl GuestCollector for Collector {
    fn create(options: Options) -> Result<CollectorHandle, String> {
        let options = from_wit(options).validate().map_err(|e| e.to_string())?;
        let collector = expvar_heap::Collector::new(options);
        Ok(CollectorHandle::new(Collector(RefCell::new(collector))))
    }

    fn push(&self, body: Vec<u8>, collected_at: Datetime) -> Vec<Event> {
        events(self.0.borrow_mut().push(&body, from_wit_time(collected_at)))
    }
}

fn events(events: Vec<expvar_heap::Event>) -> Vec<Event> {
    events.into_iter().map(|e| Event { json: e.json, has_error: e.has_error }).collect()
}

fn from_wit_time(time: Datetime) -> expvar_heap::CollectionTime {
    expvar_heap::CollectionTime { seconds: time.seconds, nanoseconds: time.nanoseconds }
}

fn from_wit(options: Options) -> expvar_heap::Options {
    expvar_heap::Options {
        namespace: options.namespace,
        tags: options.tags,
        preserve_original_event: options.preserve_original_event,
        ecs_version: options.ecs_version,
        service_address: options.service_address,
        datasets: expvar_heap::Datasets {
            heap: options.datasets.contains(Datasets::HEAP),
            expvar: options.datasets.contains(Datasets::EXPVAR),
        },
    }
}

fn to_wit(options: expvar_heap::Options) -> Options {
    let mut datasets = Datasets::empty();
    datasets.set(Datasets::HEAP, options.datasets.heap);
    datasets.set(Datasets::EXPVAR, options.datasets.expvar);
    Options {
        namespace: options.namespace,
        tags: options.tags,
        preserve_original_event: options.preserve_original_event,
        ecs_version: options.ecs_version,
        service_address: options.service_address,
        datasets,
    }
}

export!(Processor);
