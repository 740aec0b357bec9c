//! The playground's entry point for the browser (wasm-bindgen): pasted text in, events out.
//! Glue only: splitting the text ([`expvar_heap::split_bodies`]) and the transform
//! ([`expvar_heap::Collector`]) are the core crate's.

use expvar_heap::{CollectionTime, Collector, Options};
use wasm_bindgen::prelude::wasm_bindgen;

/// The events of every body in `text`, taken as successive scrapes of one process (so heap
/// events carry the pause window), in order: one per dataset per body, heap first.
///
/// `tags` is a comma-separated list (what an empty one means is the core's rule,
/// [`Options::tags_for`]); `datasets` is `heap`, `expvar` or `all`; `now_ms` (JavaScript's `Date.now()`) is every body's collection time. Each event is JSON
/// text: show it as it is, since `JSON.parse` would round integers above 2^53. Fails, with a
/// sentence, only for options Elasticsearch would refuse.
#[wasm_bindgen]
pub fn process(
    text: &str,
    namespace: &str,
    tags: &str,
    preserve_original: bool,
    datasets: &str,
    now_ms: f64,
) -> Result<Vec<String>, String> {
    let options = Options {
        namespace: namespace.to_owned(),
        tags: tags.split(',').map(|tag| tag.trim().to_owned()).collect(),
        preserve_original_event: preserve_original,
        datasets: datasets.parse().map_err(|e: expvar_heap::OptionsError| e.to_string())?,
        ..Options::default()
    };
    let mut collector = Collector::new(options.validate().map_err(|e| e.to_string())?);
    let time = CollectionTime::from_unix_millis(now_ms.max(0.0) as u64);
    Ok(expvar_heap::split_bodies(text)
        .into_iter()
        .flat_map(|body| collector.push(body.as_bytes(), time))
        .map(|event| event.json)
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
        let body = |n: u32| format!("{{\n\"memstats\": {{\"NumGC\":{n},\"HeapInuse\":1}}\n}}\n");
        let text = format!("{}{}not json\n", body(1), body(2));
        let events = process(&text, "default", "a, b", false, "all", 1_767_225_600_000.0).unwrap();
        assert_eq!(events.len(), 6);
        assert!(events[0].contains(r#""tags":["a","b"]"#), "{}", events[0]);
        assert!(events[5].contains(r#""message":"body is not valid JSON"#), "{}", events[5]);
        assert!(process("{}", "Bad-NS", "", false, "heap", 0.0).unwrap_err().contains("namespace"));
    }
}
