//! What becomes of a body the CLI does not transform, decided once for `transform` and `scrape`:
//! one over `--max-body-bytes`, and one the component traps on. Either still becomes error
//! events, with what was kept of the body in `event.original`.

use expvar_heap_wasmtime::CallError;

/// How much of a body that is not transformed (over the limit, or a target's error page) is kept
/// in its error event's `event.original`.
pub const KEPT_BYTES: usize = 64 << 10;

/// The part of `body` an error event keeps.
pub fn kept(body: &[u8]) -> &[u8] {
    &body[..body.len().min(KEPT_BYTES)]
}

/// The `error.message` of a body over `limit` bytes, of which `kept` bytes are kept.
pub fn over_limit(limit: usize, kept: usize) -> String {
    format!(
        "body over the size limit of {limit} bytes (--max-body-bytes); event.original keeps its first {kept} bytes"
    )
}

/// The `error.message` of a body the engine failed on: what stopped the component, in a few
/// words (the whole backtrace goes to stderr only, where `transform` prints it).
pub fn transform_failed(error: &CallError) -> String {
    match error {
        CallError::Trap(trap) => {
            let cause = trap.root_cause().to_string();
            let hint = if cause.contains("interrupt") {
                " (it ran past --call-timeout)"
            } else if cause.contains("fuel") {
                " (it ran past its instruction limit)"
            } else {
                ""
            };
            format!("the component trapped on this body: {cause}{hint}")
        }
        CallError::Options(why) => format!("the options were refused: {why}"),
    }
}
