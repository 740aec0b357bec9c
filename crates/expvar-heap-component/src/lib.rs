//! The `golang:expvar/processor` component: the WIT interface of `wit/` over the `expvar-heap`
//! crate. Glue only: every mapping decision is the core crate's.
//!
//! Built for `wasm32-unknown-unknown` (so it imports nothing) and encoded as a component by
//! `cargo xtask build`.

wit_bindgen::generate!({
    path: "../../wit",
    world: "processor",
});

use exports::golang::expvar::transform::Guest;
use exports::golang::expvar::transform::{Datasets, Datetime, Options};

struct Processor;

impl Guest for Processor {
    fn default_options() -> Options {
        to_wit(expvar_heap::Options::default())
    }

    fn transform(
        body: Vec<u8>,
        collected_at: Datetime,
        options: Options,
    ) -> Result<Vec<String>, String> {
        let time = expvar_heap::CollectionTime {
            seconds: collected_at.seconds,
            nanoseconds: collected_at.nanoseconds,
        };
        expvar_heap::transform(&body, time, &from_wit(options)).map_err(|e| e.to_string())
    }
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
