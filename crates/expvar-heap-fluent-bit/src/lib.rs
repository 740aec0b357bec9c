//! A Fluent Bit `filter_wasm` module: each record (a `/debug/vars` body, or a record carrying one
//! under `log`, `message` or `exec`) becomes its `golang.heap` event, with the GC pauses since the
//! previous record of the same tag.
//!
//! Glue only: the body is found by [`expvar_heap::record_body`] and transformed by a
//! [`expvar_heap::Collector`] per tag. Built for `wasm32-unknown-unknown`, so it imports nothing.
//!
//! The ABI (Fluent Bit's v1, `Event_Format json`): Fluent Bit copies the tag and the record (JSON,
//! NUL-terminated) into the module's memory, calls [`expvar_heap_filter`], and copies the
//! NUL-terminated JSON it returns, which replaces the record's body. The module lives as long as
//! Fluent Bit, so the returned text is kept in one buffer reused by every call, and the state per
//! tag is bounded: memory does not grow from call to call.

use std::cell::RefCell;
use std::collections::HashMap;

use expvar_heap::{CollectionTime, Collector, Options};

/// How many tags (scraped processes) keep a pause window at once; past that, the windows start
/// again (each tag's next record counts as a first body).
pub const MAX_TAGS: usize = 256;

/// What lives between calls: a collector per tag, and the buffer of the returned event.
#[derive(Default)]
pub struct Filter {
    collectors: HashMap<String, Collector>,
    output: Vec<u8>,
}

impl Filter {
    /// The event of one record, NUL-terminated, in a buffer valid until the next call.
    pub fn filter(&mut self, tag: &str, time: CollectionTime, record: &[u8]) -> &[u8] {
        if !self.collectors.contains_key(tag) {
            if self.collectors.len() >= MAX_TAGS {
                self.collectors.clear();
            }
            let collector =
                Collector::new(Options::default()).expect("the default options are valid");
            self.collectors.insert(tag.to_owned(), collector);
        }
        // Looked up by &str: a known tag costs no allocation per record.
        let collector = self.collectors.get_mut(tag).expect("inserted above");
        let body = expvar_heap::record_body(record);
        let events = collector.push(&body, time);
        self.output.clear();
        self.output.extend_from_slice(events[0].as_bytes());
        self.output.push(0);
        &self.output
    }
}

thread_local! {
    static FILTER: RefCell<Filter> = RefCell::new(Filter::default());
}

/// The filter function Fluent Bit calls (`Function_Name expvar_heap_filter`).
///
/// # Safety
/// `tag` and `record` point to `tag_len` and `record_len` readable bytes, as Fluent Bit passes them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn expvar_heap_filter(
    tag: *const u8,
    tag_len: u32,
    time_sec: u32,
    time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    // SAFETY: Fluent Bit passes buffers of these lengths (each with a NUL after it).
    let (tag, record) = unsafe {
        (
            std::slice::from_raw_parts(tag, tag_len as usize),
            std::slice::from_raw_parts(record, record_len as usize),
        )
    };
    let tag = String::from_utf8_lossy(tag);
    let time = CollectionTime { seconds: u64::from(time_sec), nanoseconds: time_nsec };
    FILTER.with_borrow_mut(|filter| filter.filter(&tag, time, record).as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_pause_window_per_tag_and_one_output_buffer() {
        let mut filter = Filter::default();
        let at = CollectionTime { seconds: 1, nanoseconds: 0 };
        let body = |num_gc: u64| {
            let mut ring = vec![0u64; 256];
            for cycle in 1..=num_gc {
                ring[((cycle - 1) % 256) as usize] = cycle * 10;
            }
            let ring: Vec<String> = ring.iter().map(u64::to_string).collect();
            format!(r#"{{"memstats":{{"NumGC":{num_gc},"PauseNs":[{}]}}}}"#, ring.join(","))
        };
        filter.filter("a", at, body(2).as_bytes());
        filter.filter("b", at, body(5).as_bytes());
        let wrapped = format!(r#"{{"log":{:?}}}"#, body(4));
        let event = String::from_utf8(filter.filter("a", at, wrapped.as_bytes()).to_vec()).unwrap();
        assert!(event.ends_with('\0'));
        // Tag a went from 2 to 4 cycles: cycles 3 and 4, pauses 30 and 40.
        assert!(
            event
                .contains(r#""pause":{"avg":{"ns":35},"count":2,"max":{"ns":40},"sum":{"ns":70}}"#),
            "{event}"
        );
        assert_eq!(filter.collectors.len(), 2);
    }
}
