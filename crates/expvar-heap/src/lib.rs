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
//! use expvar_heap::{transform, CollectionTime, ValidOptions};
//!
//! let body = br#"{"cmdline":["./app"],"memstats":{"HeapInuse":868352,"NumGC":15}}"#;
//! let time = CollectionTime { seconds: 1_675_246_668, nanoseconds: 723_000_000 };
//! let events = transform(body, time, &ValidOptions::default());
//! assert!(!events[0].has_error);
//! assert_eq!(
//!     events[0].json,
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
//!
//! Options are checked once ([`Options::validate`] gives the [`ValidOptions`] every call takes).
//!
//! The modules import downward only: `fields`, `scan`, `options` and `time` at the bottom; the
//! reader (`read/`) and the writer (`write`) over them; `valid` (options checked once, with the
//! envelope of their events); `pause` (the window arithmetic); `framing` (finding bodies in a
//! shipper's record or a pasted sequence); `event` (building the events); `collector` (the state
//! between bodies) at the top.
//!
//! The WebAssembly builds are what the speed work aims at: `cargo xtask bench` counts the
//! instructions they execute per byte of real bodies, and a test holds those counts under bounds.

#![forbid(unsafe_code)]

mod collector;
mod event;
pub mod fields;
mod framing;
mod options;
mod pause;
mod read;
mod scan;
pub mod templates;
mod time;
mod valid;
mod write;

use collector::Framing;
pub use collector::{Collector, CollectorState};
pub use event::Event;
pub use fields::{PAUSE_RING_LEN, pause_ring_slot};
pub use framing::{BODY_STRING_KEYS, record_body, split_bodies, split_body_bytes};
pub use options::{
    DEFAULT_ECS_VERSION, DEFAULT_NAMESPACE, Dataset, Datasets, MAX_NAMESPACE_BYTES, Options,
    OptionsError, PRESERVE_ORIGINAL_TAG,
};
pub use read::{MAX_NESTING, ReadError};
pub use time::CollectionTime;
pub use valid::ValidOptions;

/// Turns one `/debug/vars` body into its events, on its own (no pause window: for that, push the
/// bodies of a process through a [`Collector`]): one per dataset selected in
/// [`Options::datasets`], heap first. Any body, however broken, yields its events.
pub fn transform(body: &[u8], time: CollectionTime, options: &ValidOptions) -> Vec<Event> {
    collector::events(body, Framing::Body, time, options, None)
}

/// [`transform`] of [`record_body`]: the events of the body a log shipper's record carries, or of
/// the record itself, which is read once when it is the body (as it is, most often).
pub fn transform_record(record: &[u8], time: CollectionTime, options: &ValidOptions) -> Vec<Event> {
    collector::events(record, Framing::Record, time, options, None)
}

/// The events of a body that was never read (one over a host's size limit, one a host could not
/// hand over whole): the envelope, `error.message` and, as `event.original`, what the caller kept
/// of the body.
pub fn error_events(
    message: &str,
    original: &[u8],
    time: CollectionTime,
    options: &ValidOptions,
) -> Vec<Event> {
    event::build_all(original, Err(message), time, options, None)
}
