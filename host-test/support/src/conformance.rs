//! Elastic's own pipeline tests (`../shared/conformance/elastic-golang-1.6.0/`), run against any
//! transform: the events must be the documents Elastic's ingest pipelines make.

use std::path::PathBuf;

use expvar_heap::{Datasets, Event, Options};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::root;

/// Elastic's pipeline-test data, beside the repository in `shared/`.
pub fn conformance_dir() -> PathBuf {
    root().parent().unwrap().join("shared/conformance/elastic-golang-1.6.0")
}

/// JSON equality with numbers compared as numbers: integers exactly, and a float equal to a
/// float or integer of the same value (Elastic prints `1.1999823966691628E-4`).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one of Elastic's pipeline tests (`<log>` and `<log>-expected.json` in the conformance
/// folder) through `transform`: each line is a body, taken with `preserve_original_event` on, and
/// each event must equal the expected document as JSON, but for what the poller, not the pipeline,
/// adds (`@timestamp`, `event.created`, `data_stream`, `tags`). The expected `ecs.version` is used.
pub fn check_conformance(
    log: &str,
    datasets: Datasets,
    mut transform: impl FnMut(&[u8], &Options) -> Vec<Event>,
) {
    let dir = conformance_dir();
    let text = std::fs::read_to_string(dir.join(log)).unwrap();
    let expected = std::fs::read_to_string(dir.join(format!("{log}-expected.json"))).unwrap();
    let expected: Value = serde_json::from_str(&expected).unwrap();
    let expected = expected["expected"].as_array().unwrap();
    let bodies: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(bodies.len(), expected.len());
    for (body, expected) in bodies.iter().zip(expected) {
        let options = Options {
            preserve_original_event: true,
            datasets,
            ecs_version: expected["ecs"]["version"].as_str().unwrap().to_owned(),
            ..Options::default()
        };
        let events = transform(body.as_bytes(), &options);
        let mut event: Value = serde_json::from_str(&events[0].json).unwrap();
        assert_eq!(event["tags"][0], "preserve_original_event");
        let object = event.as_object_mut().unwrap();
        for ours in ["@timestamp", "data_stream", "tags"] {
            assert!(object.remove(ours).is_some(), "{ours} missing");
        }
        object["event"].as_object_mut().unwrap().remove("created").expect("event.created");
        // Beyond Elastic's test: where the pause window starts. Its bodies carry the poller's
        // `last_num_gc`, so the window runs from the previous body.
        let pause = ["golang", "heap", "gc", "pause"]
            .iter()
            .try_fold(&mut *object, |at, key| at.get_mut(*key)?.as_object_mut());
        // And its pause percentiles: there when a cycle is, ordered, none above the max.
        if let Some(pause) = pause {
            let since = pause.remove("since");
            let windowed = pause.get("count").is_some();
            assert_eq!(since.as_ref().and_then(Value::as_str), windowed.then_some("previous_body"));
            let count = pause.get("count").and_then(Value::as_u64).unwrap_or(0);
            let max = pause.get("max").map(|max| max["ns"].as_u64().unwrap());
            let percentiles: Vec<Option<u64>> = ["p50", "p90", "p99"]
                .iter()
                .map(|p| pause.remove(*p).map(|v| v["ns"].as_u64().unwrap()))
                .collect();
            if count == 0 {
                assert_eq!(percentiles, [None, None, None]);
            } else {
                let mut ordered: Vec<u64> = percentiles.iter().map(|p| p.unwrap()).collect();
                ordered.push(max.unwrap());
                assert!(ordered.is_sorted(), "p50, p90, p99, max: {ordered:?}");
            }
        }
        let mut expected = expected.clone();
        expected.as_object_mut().unwrap().remove("tags");
        assert!(
            same_json(&event, &expected),
            "differs from Elastic's pipeline:\nours:     {event}\nexpected: {expected}"
        );
    }
}

/// A field as Elastic's `fields.yml` declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElasticField {
    /// The full dotted name (`golang.heap.gc.cpu_fraction`).
    pub name: String,
    pub es_type: String,
    pub metric_type: Option<String>,
    pub unit: Option<String>,
}

/// The fields of one of Elastic's `fields.yml` files (`heap/fields.yml`, `expvar/fields.yml`,
/// `heap/base-fields.yml`), groups flattened into dotted names, in file order.
pub fn elastic_fields(file: &str) -> Vec<ElasticField> {
    let path = conformance_dir().join("fields").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text).expect("fields.yml is YAML");
    let mut out = Vec::new();
    for doc in &docs {
        collect_fields(doc, "", &mut out);
    }
    out
}

fn collect_fields(list: &Yaml, prefix: &str, out: &mut Vec<ElasticField>) {
    for item in list.as_vec().expect("a list of fields") {
        let text = |key: &str| item[key].as_str().map(str::to_owned);
        let name = text("name").expect("a field has a name");
        let full = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
        match text("type").as_deref() {
            Some("group") => collect_fields(&item["fields"], &full, out),
            Some(es_type) => out.push(ElasticField {
                name: full,
                es_type: es_type.to_owned(),
                metric_type: text("metric_type"),
                unit: text("unit"),
            }),
            None => {} // an `external: ecs` reference: its type is ECS's
        }
    }
}
