//! A Fluent Bit `filter_wasm` module: each record (a `/debug/vars` body, or a record carrying one
//! under `log`, `message` or `exec`) becomes its `golang.heap` event, with the GC pauses since the
//! previous record of the same tag.
//!
//! Glue only: a [`expvar_heap::Collector`] per tag finds the body in the record and transforms
//! it ([`expvar_heap::Collector::push_host_record`]). Fluent Bit writes each record it hands over
//! itself, from the msgpack it holds (`flb_msgpack_to_json_str` in
//! `plugins/filter_wasm/filter_wasm.c`, strings through `flb_utils_write_str` in
//! `src/flb_utils.c`, which replaces invalid UTF-8): valid JSON with integers within 64 bits. The
//! module trusts that, and passes over what no event needs by its structure alone; a body carried
//! as a string (`log`, `message`, `exec`) is read checked, as everywhere. Built for
//! `wasm32-unknown-unknown`, so it imports nothing.
//!
//! A record too large for the module's app heap (`Wasm_Heap_Size`) is not copied in, yet Fluent
//! Bit 5.1.1 calls the filter anyway, with a null pointer and the record's real length: the
//! filter then answers with an error event that says how large the record was and what to raise.
//!
//! The ABI (Fluent Bit's v1, `Event_Format json`): Fluent Bit copies the tag and the record (JSON,
//! NUL-terminated) into the module's memory, calls [`expvar_heap_filter`], and copies the
//! NUL-terminated JSON it returns, which replaces the record's body. The module lives as long as
//! Fluent Bit, so the returned text is kept in one buffer reused by every call, and the state per
//! tag is bounded: memory does not grow from call to call.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use expvar_heap::{CollectionTime, Collector, Event, ValidOptions};

/// How many tags (scraped processes) keep a pause window at once; past that, the windows start
/// again (each tag's next record counts as a first body).
pub const MAX_TAGS: usize = 256;

/// What lives between calls: a collector per tag, the options (checked once, for every tag),
/// and the buffer of the returned event.
#[derive(Default)]
pub struct Filter {
    collectors: HashMap<String, Collector, BuildHasherDefault<TagHasher>>,
    options: ValidOptions,
    output: Vec<u8>,
}

impl Filter {
    /// The event of one record, NUL-terminated, in a buffer valid until the next call.
    pub fn filter(&mut self, tag: &str, time: CollectionTime, record: &[u8]) -> &[u8] {
        if !self.collectors.contains_key(tag) {
            if self.collectors.len() >= MAX_TAGS {
                self.collectors.clear();
            }
            self.collectors.insert(tag.to_owned(), Collector::new(self.options.clone()));
        }
        // Looked up by &str: a known tag costs no allocation per record.
        let collector = self.collectors.get_mut(tag).expect("inserted above");
        let events = collector.push_host_record(record, time);
        self.emit(&events[0])
    }

    /// The event of a call in which Fluent Bit handed over no tag or no record (a null pointer):
    /// an error event saying what did not fit in `Wasm_Heap_Size`, keeping the record when it
    /// did arrive. No pause window is touched.
    pub fn not_handed_over(
        &mut self,
        tag_len: u32,
        record_len: u32,
        record: Option<&[u8]>,
        time: CollectionTime,
    ) -> &[u8] {
        let message = not_handed_over_message(tag_len, record_len, record.is_some());
        let original = record.map(expvar_heap::record_body).unwrap_or_default();
        let events = expvar_heap::error_events(&message, &original, time, &self.options);
        self.emit(&events[0])
    }

    /// Keeps the event, NUL-terminated, in the one output buffer.
    fn emit(&mut self, event: &Event) -> &[u8] {
        self.output.clear();
        self.output.extend_from_slice(event.json.as_bytes());
        self.output.push(0);
        &self.output
    }
}

/// What to tell the operator when Fluent Bit could not copy the tag or the record into the
/// module's app heap (it then passes a null pointer with the real length).
pub fn not_handed_over_message(tag_len: u32, record_len: u32, record_arrived: bool) -> String {
    let (what, len) = if record_arrived { ("tag", tag_len) } else { ("record", record_len) };
    format!(
        "Fluent Bit passed no {what}: the {what} of {len} bytes did not fit in the filter's \
         Wasm_Heap_Size; raise Wasm_Heap_Size above {} bytes (the record, its tag and two NUL \
         bytes; 1M fits real /debug/vars bodies)",
        u64::from(tag_len) + u64::from(record_len) + 2
    )
}

/// FNV-1a over a tag's bytes: tags are short and chosen by the operator, so a keyed hash (the
/// standard SipHash, which costs more than the rest of a small record's lookup) buys nothing.
#[derive(Default)]
pub struct TagHasher(u64);

impl Hasher for TagHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

thread_local! {
    static FILTER: RefCell<Filter> = RefCell::new(Filter::default());
}

/// The filter function Fluent Bit calls (`Function_Name expvar_heap_filter`).
///
/// # Safety
/// `tag` and `record`, when not null, point to `tag_len` and `record_len` readable bytes that
/// stay valid and unchanged for the duration of the call, as Fluent Bit passes them. A null
/// pointer (Fluent Bit's answer to a failed copy) is never read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn expvar_heap_filter(
    tag: *const u8,
    tag_len: u32,
    time_sec: u32,
    time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    let slice = |ptr: *const u8, len: u32| {
        (!ptr.is_null()).then(|| {
            // SAFETY: soundness rests on the caller's promise above: a non-null pointer is Fluent
            // Bit's copy of `len` bytes in this module's memory, which it frees only after the
            // call returns. The slices are used only during the call: the tag is copied into the
            // map's key and the event into the module's own buffer, so nothing borrowed
            // outlives it.
            unsafe { std::slice::from_raw_parts(ptr, len as usize) }
        })
    };
    let (tag_bytes, record_bytes) = (slice(tag, tag_len), slice(record, record_len));
    let time = CollectionTime { seconds: u64::from(time_sec), nanoseconds: time_nsec };
    FILTER.with_borrow_mut(|filter| {
        let event = match (tag_bytes, record_bytes) {
            (Some(tag), Some(record)) => filter.filter(&String::from_utf8_lossy(tag), time, record),
            (_, record) => filter.not_handed_over(tag_len, record_len, record, time),
        };
        event.as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use expvar_heap::PAUSE_RING_LEN;

    #[test]
    fn keeps_a_pause_window_per_tag_and_one_output_buffer() {
        let mut filter = Filter::default();
        let at = CollectionTime { seconds: 1, nanoseconds: 0 };
        let body = |num_gc: u64| {
            let mut ring = vec![0u64; PAUSE_RING_LEN];
            for cycle in 1..=num_gc {
                ring[(cycle - 1) as usize % PAUSE_RING_LEN] = cycle * 10;
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
            event.contains(
                r#""pause":{"avg":{"ns":35.0},"count":2,"max":{"ns":40},"p50":{"ns":30},"p90":{"ns":40},"p99":{"ns":40},"since":"previous_body","sum":{"ns":70}}"#
            ),
            "{event}"
        );
        assert_eq!(filter.collectors.len(), 2);
    }

    #[test]
    fn a_record_that_did_not_fit_becomes_an_error_event_that_says_what_to_raise() {
        let mut filter = Filter::default();
        let at = CollectionTime { seconds: 1, nanoseconds: 0 };
        let event = String::from_utf8(filter.not_handed_over(5, 9_000, None, at).to_vec()).unwrap();
        let event: serde_json::Value = serde_json::from_str(event.trim_end_matches('\0')).unwrap();
        assert_eq!(
            event["error"]["message"],
            "Fluent Bit passed no record: the record of 9000 bytes did not fit in the filter's \
             Wasm_Heap_Size; raise Wasm_Heap_Size above 9007 bytes (the record, its tag and two \
             NUL bytes; 1M fits real /debug/vars bodies)"
        );
        assert!(event["event"].get("original").is_none());
        let kept = filter.not_handed_over(900, 2, Some(b"{}"), at).to_vec();
        let kept: serde_json::Value =
            serde_json::from_str(std::str::from_utf8(&kept).unwrap().trim_end_matches('\0'))
                .unwrap();
        assert_eq!(kept["event"]["original"], "{}");
        assert!(kept["error"]["message"].as_str().unwrap().starts_with("Fluent Bit passed no tag"));
        assert!(filter.collectors.is_empty());
    }
}
