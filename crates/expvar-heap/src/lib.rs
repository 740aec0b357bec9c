//! # expvar-heap: a Go `/debug/vars` body in, Elastic's `golang.heap` event out
//!
//! This crate is the one place the mapping lives. Every adapter (the WebAssembly component, the
//! command-line host, the pipeline plugins, the browser playground) calls [`transform`] and adds
//! nothing of its own, so they all write byte-identical events.
//!
//! The transform is pure: the caller gives the body, the collection time and the [`Options`]; it
//! reads no clock, draws no random number and does no I/O, which keeps the WebAssembly component
//! free of imports.
//!
//! Bad input never panics and never loses the body: a body that cannot be read becomes an event
//! with `error.message` (what was wrong, and where) and `event.original` (the body). A field of the
//! wrong type is left out and named in `error.message`; the other fields are kept.
//!
//! ```
//! use expvar_heap::{transform, CollectionTime, Options};
//!
//! let body = br#"{"cmdline":["./app"],"memstats":{"HeapInuse":868352,"NumGC":15}}"#;
//! let time = CollectionTime { seconds: 1_675_246_668, nanoseconds: 723_000_000 };
//! let events = transform(body, time, &Options::default()).unwrap();
//! assert_eq!(
//!     events[0],
//!     concat!(
//!         r#"{"@timestamp":"2023-02-01T10:17:48.723Z","#,
//!         r#""data_stream":{"dataset":"golang.heap","namespace":"default","type":"logs"},"#,
//!         r#""ecs":{"version":"8.11.0"},"#,
//!         r#""event":{"created":"2023-02-01T10:17:48.723Z","dataset":"golang.heap","kind":"metric","module":"golang","type":["info"]},"#,
//!         r#""golang":{"heap":{"allocations":{"active":{"bytes":868352}},"cmdline":["./app"],"gc":{"total":{"count":15}}}},"#,
//!         r#""tags":["forwarded","golang-heap"]}"#,
//!     )
//! );
//! ```

mod collector;
mod event;
pub mod fields;
mod json;
mod options;
mod read;
mod time;

pub use collector::{Collector, PauseWindow};
pub use options::{
    DEFAULT_ECS_VERSION, DEFAULT_NAMESPACE, Dataset, Datasets, MAX_NAMESPACE_BYTES, Options,
    OptionsError, PRESERVE_ORIGINAL_TAG,
};
pub use read::{BODY_STRING_KEYS, record_body, split_bodies};
pub use time::CollectionTime;

/// Turns one `/debug/vars` body into its events, on its own (no pause window: for that, push the
/// bodies of a process through a [`Collector`]): one per dataset selected in
/// [`Options::datasets`], heap first, each one line of compact JSON with keys sorted.
///
/// `Err` only for options Elasticsearch would refuse ([`Options::validate`]); any body, however
/// broken, yields events.
pub fn transform(
    body: &[u8],
    time: CollectionTime,
    options: &Options,
) -> Result<Vec<String>, OptionsError> {
    options.validate()?;
    let want = read::Want { custom: options.datasets.expvar, pauses: false };
    let read = read::read_body(body, want);
    Ok(event::build_all(body, &read, time, options, None))
}

/// The events of a body that was never read (for example one over a host's size limit): the
/// envelope, `error.message` and, as `event.original`, what the caller kept of the body.
pub fn error_events(
    message: &str,
    original: &[u8],
    time: CollectionTime,
    options: &Options,
) -> Result<Vec<String>, OptionsError> {
    options.validate()?;
    Ok(event::build_all(original, &Err(message.to_owned()), time, options, None))
}
