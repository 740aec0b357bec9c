//! Every event of any body is one line of valid JSON that serde_json writes back byte for byte
//! (compact, keys sorted, numbers and escapes as serde_json writes them), with the body kept in
//! `event.original` whenever it could not be read.
#![no_main]

use expvar_heap::{CollectionTime, Datasets, Options};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the options; the rest is the body.
    let Some((&pick, body)) = input.split_first() else { return };
    let options = Options {
        datasets: [Datasets::HEAP, Datasets::EXPVAR, Datasets::ALL][usize::from(pick % 3)],
        preserve_original_event: pick & 4 != 0,
        service_address: (pick & 8 != 0).then(|| "http://127.0.0.1:6060".to_owned()),
        ..Options::default()
    };
    let time = CollectionTime { seconds: u64::from(pick) * 1_000_003, nanoseconds: 999_999_999 };
    for event in expvar_heap::transform(body, time, &options.validate().unwrap()) {
        assert!(!event.json.contains('\n'), "an event is one line");
        let value: Value = serde_json::from_str(&event.json).expect("an event is JSON");
        assert_eq!(serde_json::to_string(&value).unwrap(), event.json, "round trip");
        assert_eq!(event.has_error, value["error"]["message"].is_string());
        if event.has_error || pick & 4 != 0 {
            let original = value["event"]["original"].as_str().unwrap_or_default();
            assert_eq!(original, String::from_utf8_lossy(body), "event.original");
        }
    }
});
