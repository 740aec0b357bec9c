//! The playground's entry point for the browser (wasm-bindgen): pasted text in, events out.
//! Glue only: splitting the text ([`expvar_heap::split_bodies`]) and the transform
//! ([`expvar_heap::Collector`]) are the core crate's.

use expvar_heap::{CollectionTime, Collector, Options};
use wasm_bindgen::prelude::wasm_bindgen;

/// One event, with what the page shows of it without reading its text: the page never guesses
/// from the JSON (a custom variable may be named `error` and hold a `message`).
#[wasm_bindgen]
pub struct PlaygroundEvent {
    json: String,
    has_error: bool,
    dataset: &'static str,
}

#[wasm_bindgen]
impl PlaygroundEvent {
    /// The event's JSON text: show it as it is, since `JSON.parse` would round integers above
    /// 2^53.
    #[wasm_bindgen(getter)]
    pub fn json(&self) -> String {
        self.json.clone()
    }

    /// Whether the event has a top-level `error.message`.
    #[wasm_bindgen(getter, js_name = hasError)]
    pub fn has_error(&self) -> bool {
        self.has_error
    }

    /// Its dataset: `golang.heap` or `golang.expvar`.
    #[wasm_bindgen(getter)]
    pub fn dataset(&self) -> String {
        self.dataset.to_owned()
    }
}

/// The events of every body in `text`, taken as successive scrapes of one process (so heap
/// events carry the pause window), in order: one per dataset per body, heap first.
///
/// `tags` is a comma-separated list (what an empty one means is the core's rule,
/// [`Options::tags_for`]); `datasets` is `heap`, `expvar` or `all`; `now_ms` (JavaScript's
/// `Date.now()`) is every body's collection time. Fails, with a sentence, only for options
/// Elasticsearch would refuse.
#[wasm_bindgen]
pub fn process(
    text: &str,
    namespace: &str,
    tags: &str,
    preserve_original: bool,
    datasets: &str,
    now_ms: f64,
) -> Result<Vec<PlaygroundEvent>, String> {
    let options = Options {
        namespace: namespace.to_owned(),
        tags: tags.split(',').map(|tag| tag.trim().to_owned()).collect(),
        preserve_original_event: preserve_original,
        datasets: datasets.parse().map_err(|e: expvar_heap::OptionsError| e.to_string())?,
        ..Options::default()
    };
    let options = options.validate().map_err(|e| e.to_string())?;
    let datasets = options.datasets;
    let mut collector = Collector::new(options);
    let time = CollectionTime::from_unix_millis(now_ms.max(0.0) as u64);
    Ok(expvar_heap::split_bodies(text)
        .into_iter()
        .flat_map(|body| {
            // One event per dataset of the options, in their order.
            let events = collector.push(body.as_bytes(), time);
            events.into_iter().zip(datasets.iter()).map(|(event, dataset)| PlaygroundEvent {
                json: event.json,
                has_error: event.has_error,
                dataset: dataset.name(),
            })
        })
        .collect())
}

/// The namespace of the integration's defaults, for the page's form.
#[wasm_bindgen]
pub fn default_namespace() -> String {
    expvar_heap::DEFAULT_NAMESPACE.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_sequence_becomes_its_events() {
        let body =
            |n: u32| format!("{{\n\"memstats\": {{\"NumGC\":{n},\"HeapInuse\":1,\"Sys\":2}}\n}}\n");
        let text = format!("{}{}not json\n", body(1), body(2));
        let events = process(&text, "default", "a, b", false, "all", 1_767_225_600_000.0).unwrap();
        assert_eq!(events.len(), 6);
        assert!(events[0].json.contains(r#""tags":["a","b"]"#), "{}", events[0].json);
        let datasets: Vec<&str> = events.iter().map(|e| e.dataset).collect();
        assert_eq!(datasets, ["golang.heap", "golang.expvar"].repeat(3));
        let errors: Vec<bool> = events.iter().map(|e| e.has_error).collect();
        assert_eq!(errors, [false, false, false, false, true, true]);
        assert!(
            events[5].json.contains(r#""message":"body is not valid JSON"#),
            "{}",
            events[5].json
        );
        assert!(
            process("{}", "Bad-NS", "", false, "heap", 0.0).err().unwrap().contains("namespace")
        );
    }

    /// A pasted body with a byte order mark is one error event that keeps the whole body, and
    /// with `preserve original` every body keeps its bytes, the newline after it too.
    #[test]
    fn a_paste_is_split_into_whole_bodies() {
        let go = "{\n\"memstats\": {\"NumGC\":1}\n}\n";
        let text = format!("{go}\u{feff}{go}");
        let events = process(&text, "default", "", true, "heap", 0.0).unwrap();
        assert_eq!(events.len(), 2);
        let originals: Vec<String> = events
            .iter()
            .map(|e| serde_json::from_str::<serde_json::Value>(&e.json).unwrap())
            .map(|event| event["event"]["original"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(originals, [go.to_owned(), format!("\u{feff}{go}")]);
        assert_eq!(events.iter().map(|e| e.has_error).collect::<Vec<_>>(), [false, true]);
        assert!(events[1].json.contains("byte order mark"), "{}", events[1].json);
    }

    /// A custom variable named `error` holding a `message` makes no error event.
    #[test]
    fn a_custom_error_variable_is_no_error() {
        let text = r#"{"error":{"message":"x"},"memstats":{"NumForcedGC":1}}"#;
        let events = process(text, "default", "", false, "expvar", 0.0).unwrap();
        assert_eq!(events.len(), 1);
        assert!(!events[0].has_error);
        assert!(events[0].json.contains(r#""custom":{"error":{"message":"x"}}"#));
        assert_eq!(events[0].dataset, "golang.expvar");
    }
}
