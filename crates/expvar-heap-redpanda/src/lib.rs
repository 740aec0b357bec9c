//! A Redpanda Connect (Benthos) `wasm` processor module: each message (a `/debug/vars` body, or a
//! JSON record carrying one under `log`, `message` or `exec`) becomes its `golang.heap` event.
//!
//! Glue only: [`expvar_heap::transform_record`] does the work. Redpanda
//! Connect pools instances and may run any message on any of them, so this module keeps no state
//! between messages (no pause window: use the CLI or the component's collector for that).
//!
//! The ABI: the module exports `process`, `allocate` and `deallocate`, and imports from
//! `benthos_wasm` `v0_msg_as_bytes` (the host allocates a copy of the message in the module with
//! `allocate` and returns `ptr << 32 | len`; the module frees it), `v0_msg_set_bytes` (the host
//! copies the new content, then frees it with `deallocate`) and `v0_msg_get_meta`. The collection
//! time is the message's metadata `expvar_collected_at` (nanoseconds since the epoch) when a
//! `mapping` sets it, else the WASI wall clock (`wasi_snapshot_preview1.clock_time_get`), which
//! the processor always provides.

use std::sync::LazyLock;

use expvar_heap::{CollectionTime, ValidOptions};

/// The metadata key that can carry the collection time, in nanoseconds since the Unix epoch.
pub const COLLECTED_AT_META: &str = "expvar_collected_at";

/// The collection time from the metadata value (empty when not set), else from the clock.
pub fn collection_time(meta: &str, clock_ns: impl FnOnce() -> u64) -> CollectionTime {
    CollectionTime::from_unix_nanos(meta.trim().parse::<u64>().unwrap_or_else(|_| clock_ns()))
}

/// The message's new content: its `golang.heap` event.
pub fn process_message(message: &[u8], time: CollectionTime) -> Vec<u8> {
    // The integration's defaults, checked (and their envelope written) once per instance.
    static OPTIONS: LazyLock<ValidOptions> = LazyLock::new(ValidOptions::default);
    let events = expvar_heap::transform_record(message, time, &OPTIONS);
    events.into_iter().next().map(|event| event.json.into_bytes()).unwrap_or_default()
}

#[cfg(target_arch = "wasm32")]
mod abi {
    use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};

    use super::{COLLECTED_AT_META, collection_time, process_message};

    #[link(wasm_import_module = "benthos_wasm")]
    unsafe extern "C" {
        fn v0_msg_as_bytes() -> u64;
        fn v0_msg_set_bytes(ptr: u32, len: u32);
        fn v0_msg_get_meta(key_ptr: u32, key_len: u32) -> u64;
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn clock_time_get(clock_id: u32, precision: u64, time: *mut u64) -> u32;
    }

    /// Memory for the host to write into; freed by [`deallocate`] or by [`take`]. An allocation
    /// that fails aborts (a trap the host reports), never hands out a null pointer to write to.
    #[unsafe(no_mangle)]
    pub extern "C" fn allocate(size: u32) -> *mut u8 {
        if size == 0 {
            return std::ptr::NonNull::dangling().as_ptr();
        }
        // SAFETY: a size below 2^32 with alignment 1 is a valid layout.
        let layout = unsafe { Layout::from_size_align_unchecked(size as usize, 1) };
        // SAFETY: the layout's size is not zero.
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            handle_alloc_error(layout);
        }
        ptr
    }

    /// Frees what [`allocate`] gave.
    ///
    /// # Safety
    /// `ptr` and `size` are a pair that `allocate` returned and that was not freed yet.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn deallocate(ptr: *mut u8, size: u32) {
        if size != 0 {
            // SAFETY: as the caller promises, allocate made it with this layout.
            unsafe { dealloc(ptr, Layout::from_size_align_unchecked(size as usize, 1)) }
        }
    }

    /// Copies out and frees a `ptr << 32 | len` buffer the host allocated in the module. A null
    /// pointer or a zero length gives an empty buffer (nothing to read, nothing to free).
    ///
    /// # Safety
    /// Unless the pointer is null or the length zero, the host wrote `len` bytes at `ptr`, which
    /// it got from `allocate(len)` and has not freed, and nothing else frees it.
    unsafe fn take(ptr_len: u64) -> Vec<u8> {
        let (ptr, len) = ((ptr_len >> 32) as *mut u8, ptr_len as u32);
        if ptr.is_null() || len == 0 {
            return Vec::new();
        }
        // SAFETY: as the caller promises, `len` bytes written by the host are at `ptr`.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len as usize) }.to_vec();
        // SAFETY: the same pair `allocate` gave, freed once.
        unsafe { deallocate(ptr, len) };
        bytes
    }

    fn wall_clock_ns() -> u64 {
        let mut ns = 0;
        // SAFETY: clock 0 is the realtime clock; `ns` is a valid place for the result.
        let errno = unsafe { clock_time_get(0, 1, &mut ns) };
        if errno == 0 { ns } else { 0 }
    }

    /// The processor's function: replaces the message with its `golang.heap` event.
    #[unsafe(no_mangle)]
    pub extern "C" fn process() {
        // SAFETY: the host allocates the message with `allocate` and hands it over to us.
        let message = unsafe { take(v0_msg_as_bytes()) };
        let key = COLLECTED_AT_META.as_bytes();
        // SAFETY: the key is valid for its length during the call; the value is handed over as
        // the message is.
        let meta = unsafe { take(v0_msg_get_meta(key.as_ptr() as u32, key.len() as u32)) };
        let time = collection_time(&String::from_utf8_lossy(&meta), wall_clock_ns);
        let event = process_message(&message, time);
        let out = allocate(event.len() as u32);
        // SAFETY: `out` has room for `event.len()` bytes; the host frees it with `deallocate`.
        unsafe {
            std::ptr::copy_nonoverlapping(event.as_ptr(), out, event.len());
            v0_msg_set_bytes(out as u32, event.len() as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_comes_from_metadata_else_the_clock() {
        let time = collection_time("1767225600123456789", || unreachable!());
        assert_eq!(time, CollectionTime { seconds: 1_767_225_600, nanoseconds: 123_456_789 });
        let time = collection_time("", || 2_000_000_001);
        assert_eq!(time, CollectionTime { seconds: 2, nanoseconds: 1 });
    }

    #[test]
    fn a_message_becomes_its_heap_event() {
        let at = CollectionTime { seconds: 1, nanoseconds: 0 };
        let event = process_message(br#"{"message":"{\"memstats\":{\"NumGC\":3}}"}"#, at);
        let event = String::from_utf8(event).unwrap();
        assert!(event.contains(r#""gc":{"total":{"count":3}}"#), "{event}");
        assert!(
            String::from_utf8(process_message(b"oops", at))
                .unwrap()
                .contains(r#""original":"oops""#)
        );
    }
}
