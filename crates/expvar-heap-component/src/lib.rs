//! The `golang:expvar/processor` component: the WIT interface of `wit/` over the `expvar-heap`
//! crate. Glue only: every mapping decision is the core crate's.
//!
//! Built for `wasm32-unknown-unknown` (so it imports nothing) and encoded as a component by
//! `cargo xtask build`.

wit_bindgen::generate!({
    path: "../../wit",
    world: "processor",
});

use std::cell::RefCell;

use exports::golang::expvar::collector::{Guest as CollectorGuest, GuestCollector};
use exports::golang::expvar::transform::{Datasets, Datetime, Guest as TransformGuest, Options};

struct Processor;

impl TransformGuest for Processor {
    fn default_options() -> Options {
        to_wit(expvar_heap::Options::default())
    }

    fn transform(
        body: Vec<u8>,
        collected_at: Datetime,
        options: Options,
    ) -> Result<Vec<String>, String> {
        expvar_heap::transform(&body, from_wit_time(collected_at), &from_wit(options))
            .map_err(|e| e.to_string())
    }
}

impl CollectorGuest for Processor {
    type Collector = Collector;
}

/// The WIT resource: the core's collector, or why its options were refused (reported by `push`,
/// since a WIT constructor cannot fail).
struct Collector(RefCell<Result<expvar_heap::Collector, String>>);

impl GuestCollector for Collector {
    fn new(options: Options) -> Self {
        Collector(RefCell::new(expvar_heap::Collector::new(from_wit(options)).map_err(|e| e.0)))
    }

    fn push(&self, body: Vec<u8>, collected_at: Datetime) -> Result<Vec<String>, String> {
        match &mut *self.0.borrow_mut() {
            Ok(collector) => Ok(collector.push(&body, from_wit_time(collected_at))),
            Err(why) => Err(why.clone()),
        }
    }
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
