//! A Redpanda Connect (Benthos) `wasm` processor module: each message (a `/debug/vars` body, or a
//! JSON record carrying one under `log`, `message` or `exec`) becomes its `golang.heap` event,
//! with the GC pauses since the previous message of the same process when the pipeline hands
//! that message's state along.
//!
//! Glue only: an [`expvar_heap::Collector`] does the work.
//!
//! # State across pooled instances
//!
//! The processor keeps a pool of instances (a Go `sync.Pool`, `processor_wazero.go`,
//! `ProcessBatch`): any batch may run on any instance, and instances are made and dropped freely.
//! So the module keeps nothing between messages; the state travels with the message instead. It
//! reads the previous message's [`CollectorState`] from the metadata [`STATE_META`] (empty: no
//! previous message, so the window is every cycle the `PauseNs` ring still holds, as a collector's
//! first body) and writes the state this message leaves into the same metadata, for the pipeline
//! to keep per service (a `cache` resource: see `examples/redpanda-connect/`). A state it cannot
//! read is named in the metadata [`ERROR_META`] (what the sentence repeats of it capped: see
//! [`MAX_ECHO`]) and the message is taken as a first body.
//!
//! # The processor's memory contract
//!
//! From Redpanda Connect's source (`internal/impl/wasm/processor_wazero.go` and `functions.go`):
//!
//! - The module exports `process` (the processor's `function`), `allocate(size) -> ptr`,
//!   `deallocate(ptr, size)` and `memory`; it imports `benthos_wasm` functions and may import
//!   `wasi_snapshot_preview1`, which the processor instantiates (this module reads its clock).
//! - **In-bound** (`allocateBytesInbound`): `v0_msg_as_bytes` and the answer of `v0_msg_get_meta`
//!   are written into memory the host gets from the module's `allocate`, returned as
//!   `ptr << 32 | len`. The host frees them only through a Go guest's `free`, never for a module
//!   that exports `allocate`: this module owns them and frees them ([`abi`]'s `take`). When the
//!   allocation or the copy fails, the host logs it, flags the message with the error and returns
//!   0: no pointer, which the module answers with an error event.
//! - **Out-bound** (`readBytesOutbound`): every pointer the module passes to the host (the content
//!   of `v0_msg_set_bytes`, the key of `v0_msg_get_meta`, the key and the value of
//!   `v0_msg_set_meta`) is copied by the host, which then calls the module's
//!   `deallocate(ptr, len)` (ignoring a failure). So each is a fresh block from `allocate(len)`,
//!   handed over and never touched again by the module: never static data, the stack, or memory
//!   the module will free itself.
//! - A trap ends the processor's run: every message of the batch goes on flagged with the trap's
//!   error, as the module left it, and the instance goes back to the pool all the same.

use std::cell::RefCell;

use expvar_heap::{CollectionTime, Collector, CollectorState};

/// The metadata key that can carry the collection time, in nanoseconds since the Unix epoch.
pub const COLLECTED_AT_META: &str = "expvar_collected_at";

/// The metadata key that carries a process's [`CollectorState`]: read as the previous message's,
/// written as this message's.
pub const STATE_META: &str = "expvar_heap_state";

/// The metadata key the module writes when the state handed in could not be read, or when the
/// time came from a clock that is not real (why, in sentences); it is not written otherwise.
pub const ERROR_META: &str = "expvar_heap_error";

/// Before this instant (2023-01-01T00:00:00Z), a clock reading cannot be a scrape's time: the
/// processor's clock is wazero's fake one, which reads 2022-01-01 and then 1 ms more a read.
const NO_REAL_CLOCK_BEFORE_NS: u64 = 1_672_531_200_000_000_000;

/// The collection time from the metadata value (empty when not set), else from the clock; with
/// the clock, why the time is wrong when it is plainly not a real one ([`ERROR_META`]).
pub fn collection_time(
    meta: &str,
    clock_ns: impl FnOnce() -> u64,
) -> (CollectionTime, Option<String>) {
    if let Ok(ns) = meta.trim().parse::<u64>() {
        return (CollectionTime::from_unix_nanos(ns), None);
    }
    let ns = clock_ns();
    let why = (ns < NO_REAL_CLOCK_BEFORE_NS).then(|| {
        format!(
            "metadata {COLLECTED_AT_META} is not set, and the wasm processor gives modules no \
             real clock (wazero's default reads 2022-01-01): set it in a mapping before the \
             processor, as examples/redpanda-connect/ does"
        )
    });
    (CollectionTime::from_unix_nanos(ns), why)
}

/// Of a sentence that repeats what the pipeline handed in, [`ERROR_META`] keeps the first
/// [`ECHO_HEAD`] bytes and the last [`ECHO_TAIL`] (where the sentence says what is wrong) when it
/// is longer than [`MAX_ECHO`]: a state line is a few hundred bytes at most, and metadata that
/// repeated a hostile one whole would carry it (a megabyte, or several once escaped) to every
/// log line and output that shows the message's metadata.
pub const MAX_ECHO: usize = 384;

/// The bytes of the head kept of a sentence longer than [`MAX_ECHO`].
pub const ECHO_HEAD: usize = 256;

/// The bytes of the tail kept of a sentence longer than [`MAX_ECHO`].
pub const ECHO_TAIL: usize = 64;

/// `text`, or, when it is longer than [`MAX_ECHO`] bytes, its first [`ECHO_HEAD`] bytes and its
/// last [`ECHO_TAIL`] (each cut on a char boundary) around the length of the whole.
fn capped(text: String) -> String {
    if text.len() <= MAX_ECHO {
        return text;
    }
    let head = &text[..text.floor_char_boundary(ECHO_HEAD)];
    let tail = &text[text.ceil_char_boundary(text.len() - ECHO_TAIL)..];
    format!("{head}... ({} bytes in all) ...{tail}", text.len())
}

/// What one message becomes.
#[derive(Debug, PartialEq, Eq)]
pub struct Processed {
    /// The message's new content: its `golang.heap` event.
    pub content: Vec<u8>,
    /// The state for the next message of the same process ([`STATE_META`]): what the previous
    /// one left, moved on by this body (kept as it was when the body has no usable `NumGC`).
    /// Empty when no body had one yet.
    pub state: String,
    /// Why the state handed in could not be read ([`ERROR_META`]), when it could not; what it
    /// repeats of the state is capped ([`MAX_ECHO`]).
    pub state_error: Option<String>,
}

/// The message's event and the state it leaves, given the state the previous message of the same
/// process left (empty for none).
pub fn process_message(message: &[u8], time: CollectionTime, previous_state: &str) -> Processed {
    thread_local! {
        // The integration's defaults, checked (and their envelope written) once per instance;
        // its state is replaced by the one handed in on every message.
        static COLLECTOR: RefCell<Collector> = RefCell::new(Collector::default());
    }
    let previous_state = previous_state.trim();
    let (state, state_error) = match previous_state {
        "" => (None, None),
        text => match text.parse::<CollectorState>() {
            Ok(state) => (Some(state), None),
            Err(why) => (
                None,
                Some(format!(
                    "metadata {STATE_META}: {}; the window starts as for a first body",
                    capped(why)
                )),
            ),
        },
    };
    let process = |collector: &mut Collector| {
        collector.set_state(state);
        let events = collector.push_record(message, time);
        let content = events.into_iter().next().map(|event| event.json.into_bytes());
        Processed {
            content: content.unwrap_or_default(),
            state: collector.state().map(|state| state.to_string()).unwrap_or_default(),
            state_error,
        }
    };
    COLLECTOR.with(|collector| match collector.try_borrow_mut() {
        Ok(mut collector) => process(&mut collector),
        // Still borrowed: a trap (a panic aborts) ended a call inside it, and the processor
        // kept the instance. A collector of its own serves this message.
        Err(_) => process(&mut Collector::default()),
    })
}

/// The event of a call in which the host handed over no message (its copy into the module
/// failed): what happened and what to change.
pub fn not_handed_over(time: CollectionTime) -> Vec<u8> {
    let message = "Redpanda Connect handed over no message: copying it into the module failed \
                   (the wasm processor logs why and flags the message); a message larger than \
                   the module's memory can take does this, so cap message sizes before the \
                   processor";
    let options = expvar_heap::ValidOptions::default();
    let events = expvar_heap::error_events(message, b"", time, &options);
    events.into_iter().next().map(|event| event.json.into_bytes()).unwrap_or_default()
}

#[cfg(target_arch = "wasm32")]
pub mod abi {
    //! The exports and imports of the processor's ABI (see the crate's docs for who allocates
    //! and who frees).

    use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
    use std::ptr::NonNull;

    use super::{
        COLLECTED_AT_META, ERROR_META, STATE_META, collection_time, not_handed_over,
        process_message,
    };

    #[link(wasm_import_module = "benthos_wasm")]
    unsafe extern "C" {
        fn v0_msg_as_bytes() -> u64;
        fn v0_msg_set_bytes(ptr: u32, len: u32);
        fn v0_msg_get_meta(key_ptr: u32, key_len: u32) -> u64;
        fn v0_msg_set_meta(key_ptr: u32, key_len: u32, value_ptr: u32, value_len: u32);
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn clock_time_get(clock_id: u32, precision: u64, time: *mut u64) -> u32;
    }

    /// Memory for the host to write into, or for the module to hand to the host: `size` bytes,
    /// alignment 1. Zero bytes give a dangling, non-null pointer that nothing frees. A size no
    /// layout can have (2^31 bytes or more on wasm32) gives a null pointer: the host's write
    /// there fails and it reports the error. An allocation that fails for want of memory aborts
    /// (a trap the host reports), never handing out a pointer the host would write through.
    #[unsafe(no_mangle)]
    pub extern "C" fn allocate(size: u32) -> *mut u8 {
        if size == 0 {
            return NonNull::dangling().as_ptr();
        }
        let Ok(layout) = Layout::from_size_align(size as usize, 1) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the layout's size is not zero.
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            handle_alloc_error(layout);
        }
        ptr
    }

    /// Frees what [`allocate`] gave (the processor calls it on every pointer the module passed
    /// to it). Zero bytes, a null pointer or a size no layout can have free nothing.
    ///
    /// # Safety
    /// `ptr` and `size` are a pair that `allocate` returned and that was not freed yet.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn deallocate(ptr: *mut u8, size: u32) {
        let Ok(layout) = Layout::from_size_align(size as usize, 1) else { return };
        if size != 0 && !ptr.is_null() {
            // SAFETY: as the caller promises, allocate made it with this layout.
            unsafe { dealloc(ptr, layout) }
        }
    }

    /// Copies out and frees a `ptr << 32 | len` buffer the host allocated in the module; `None`
    /// for no pointer (the host's allocation or copy failed).
    ///
    /// # Safety
    /// Unless the pointer is null or the length zero, the host wrote `len` bytes at `ptr`, which
    /// it got from `allocate(len)` and will not free, and nothing else frees it.
    unsafe fn take(ptr_len: u64) -> Option<Vec<u8>> {
        let (ptr, len) = ((ptr_len >> 32) as *mut u8, ptr_len as u32);
        if ptr.is_null() {
            return None;
        }
        if len == 0 {
            return Some(Vec::new());
        }
        // SAFETY: as the caller promises, `len` bytes written by the host are at `ptr`.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len as usize) }.to_vec();
        // SAFETY: the same pair `allocate` gave, freed once.
        unsafe { deallocate(ptr, len) };
        Some(bytes)
    }

    /// A copy of `bytes` in a block of its own from [`allocate`], as `(ptr, len)`, for the host
    /// to read and then free with `deallocate`.
    fn hand_over(bytes: &[u8]) -> (u32, u32) {
        let len = u32::try_from(bytes.len()).expect("less than 4 GiB in a wasm32 module");
        let ptr = allocate(len);
        if len != 0 {
            // SAFETY: `allocate` gave `len` writable bytes at `ptr` (it aborts rather than give
            // null for a size wasm32 memory can hold).
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
        }
        (ptr as u32, len)
    }

    /// The value of a metadata key of the message ("" when not set, or when the host could not
    /// hand it over).
    fn get_meta(key: &str) -> String {
        let (key_ptr, key_len) = hand_over(key.as_bytes());
        // SAFETY: the host reads the key, then frees it; it allocates the value with `allocate`
        // and hands it over.
        let value = unsafe { take(v0_msg_get_meta(key_ptr, key_len)) };
        String::from_utf8_lossy(&value.unwrap_or_default()).into_owned()
    }

    fn set_meta(key: &str, value: &str) {
        let (key_ptr, key_len) = hand_over(key.as_bytes());
        let (value_ptr, value_len) = hand_over(value.as_bytes());
        // SAFETY: two blocks of their own; the host reads each, then frees it.
        unsafe { v0_msg_set_meta(key_ptr, key_len, value_ptr, value_len) }
    }

    fn wall_clock_ns() -> u64 {
        let mut ns = 0;
        // SAFETY: clock 0 is the realtime clock; `ns` is a valid place for the result.
        let errno = unsafe { clock_time_get(0, 1, &mut ns) };
        if errno == 0 { ns } else { 0 }
    }

    /// The processor's function: replaces the message with its `golang.heap` event and its
    /// [`STATE_META`] metadata with the state it leaves.
    #[unsafe(no_mangle)]
    pub extern "C" fn process() {
        // SAFETY: the host allocates the message with `allocate` and hands it over to us.
        let message = unsafe { take(v0_msg_as_bytes()) };
        let (time, clock_error) = collection_time(&get_meta(COLLECTED_AT_META), wall_clock_ns);
        let Some(message) = message else {
            let (ptr, len) = hand_over(&not_handed_over(time));
            // SAFETY: a block of its own; the host copies it, then frees it.
            unsafe { v0_msg_set_bytes(ptr, len) };
            return;
        };
        let processed = process_message(&message, time, &get_meta(STATE_META));
        let (ptr, len) = hand_over(&processed.content);
        // SAFETY: a block of its own; the host copies it, then frees it.
        unsafe { v0_msg_set_bytes(ptr, len) };
        set_meta(STATE_META, &processed.state);
        let errors: Vec<&str> =
            [&clock_error, &processed.state_error].into_iter().flatten().map(|e| &e[..]).collect();
        if !errors.is_empty() {
            set_meta(ERROR_META, &errors.join("; "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: CollectionTime = CollectionTime { seconds: 1, nanoseconds: 0 };

    #[test]
    fn the_time_comes_from_metadata_else_the_clock() {
        let time = collection_time("1767225600123456789", || unreachable!());
        let expected = CollectionTime { seconds: 1_767_225_600, nanoseconds: 123_456_789 };
        assert_eq!(time, (expected, None));
        assert_eq!(collection_time("", || 1_767_225_600_123_456_789), (expected, None));
        // wazero's fake clock, as the processor gives it: the time is kept, and said wrong.
        let (time, why) = collection_time(" ", || 1_640_995_200_000_000_000);
        assert_eq!(time, CollectionTime { seconds: 1_640_995_200, nanoseconds: 0 });
        assert!(why.unwrap().starts_with("metadata expvar_collected_at is not set"));
    }

    #[test]
    fn a_message_becomes_its_heap_event_and_the_state_it_leaves() {
        let body = br#"{"message":"{\"memstats\":{\"NumGC\":3,\"LastGC\":7}}"}"#;
        let processed = process_message(body, AT, "");
        let event = String::from_utf8(processed.content).unwrap();
        assert!(event.contains(r#""gc":{"total":{"count":3}}"#), "{event}");
        // No PauseNs: no window, no state.
        assert_eq!(processed.state, "");
        let oops = process_message(b"oops", AT, "num_gc=2");
        assert!(String::from_utf8(oops.content).unwrap().contains(r#""original":"oops""#));
        // A failed body leaves the state as it was.
        assert_eq!(oops.state, "num_gc=2");
        assert_eq!(oops.state_error, None);
    }

    #[test]
    fn a_state_that_cannot_be_read_is_named_and_taken_as_none() {
        let processed = process_message(b"{}", AT, "num_gc=x");
        assert_eq!(
            processed.state_error.as_deref(),
            Some(
                r#"metadata expvar_heap_state: collector state: num_gc="x" is not an unsigned integer; the window starts as for a first body"#
            )
        );
        assert_eq!(processed.state, "");
    }

    /// A hostile state line of a megabyte, of each kind the collector's reader names (a value
    /// that is no integer, a pair that is no name=value, no num_gc at all), is repeated in its
    /// error capped: a head and a tail cut on char boundaries, the whole length, and the sentence
    /// still saying what is wrong and what the module does.
    #[test]
    fn a_hostile_state_is_repeated_capped_in_its_error() {
        let huge = |unit: &str| unit.repeat((1 << 20) / unit.len());
        let cases = [
            (format!("num_gc={}", huge("x")), "\" is not an unsigned integer"),
            // The head's end and the tail's start fall inside a '€' (3 bytes).
            (format!("ab{}", huge("€")), "€€€\" is not name=value"),
            (huge("last_gc=1 "), "last_gc=1 last_gc=1\""),
        ];
        for (state, ends) in cases {
            let processed = process_message(b"{}", AT, &state);
            let why = processed.state_error.unwrap();
            let kept = "metadata expvar_heap_state: ; the window starts as for a first body".len()
                + ECHO_HEAD
                + ECHO_TAIL
                + " ... (1234567 bytes in all) ...".len();
            assert!(why.len() <= kept, "{} bytes: {why}", why.len());
            assert!(why.starts_with("metadata expvar_heap_state: collector state: "), "{why}");
            assert!(why.contains(" bytes in all) ..."), "{why}");
            assert!(
                why.ends_with(&format!("{ends}; the window starts as for a first body")),
                "{why}"
            );
            assert_eq!(processed.state, "");
        }
        // Short sentences are whole.
        let why = process_message(b"{}", AT, "num_gc=12345678901234567890123").state_error;
        assert_eq!(
            why.as_deref(),
            Some(
                r#"metadata expvar_heap_state: collector state: num_gc="12345678901234567890123" is not an unsigned integer; the window starts as for a first body"#
            )
        );
    }

    #[test]
    fn a_long_sentence_keeps_its_head_and_tail_cut_on_char_boundaries() {
        let text = format!("a{}b", "é".repeat(1000));
        let capped = capped(text);
        let (head, tail) = capped.split_once("... (2002 bytes in all) ...").unwrap();
        // 256 and 2002 - 64 are both inside an 'é' (which starts at odd offsets).
        assert_eq!(head, format!("a{}", "é".repeat(127)));
        assert_eq!(tail, format!("{}b", "é".repeat(31)));
        let short = "é".repeat(MAX_ECHO / 2);
        assert_eq!(super::capped(short.clone()), short);
    }

    #[test]
    fn no_message_becomes_an_error_event_saying_what_to_change() {
        let event = String::from_utf8(not_handed_over(AT)).unwrap();
        let event: serde_json::Value = serde_json::from_str(&event).unwrap();
        let message = event["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Redpanda Connect handed over no message"), "{message}");
        assert!(message.ends_with("cap message sizes before the processor"), "{message}");
    }
}
