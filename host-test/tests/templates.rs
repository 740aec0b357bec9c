//! The index templates made from the field table: as the golden files hold them, typed as
//! Elastic's `fields.yml` types the same fields, covering every field any event carries (with a
//! value of the mapped type), and mapping thousands of custom variables to one field.

mod common;

use std::collections::BTreeSet;

use common::processor;
use expvar_heap::templates::{self, Target, TemplateKind};
use expvar_heap::{CollectionTime, Collector, Datasets, Options, ValidOptions};
use expvar_heap_test_support::conformance::elastic_fields;
use expvar_heap_test_support::fixtures::{self, BLESS_TIME};
use expvar_heap_test_support::template_path;
use expvar_heap_wasmtime::Limits;
use serde_json::{Map, Value, json};

#[test]
fn templates_match_their_golden_files() {
    for target in Target::ALL {
        for template in templates::templates(target) {
            let path = template_path(target.name(), &template.path());
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask bless`)", path.display()));
            assert_eq!(template.to_json(), golden, "{} (run `cargo xtask bless`)", path.display());
        }
    }
}

#[test]
fn index_templates_have_the_documented_shape() {
    for target in Target::ALL {
        let all = templates::templates(target);
        let index: Vec<_> = all.iter().filter(|t| t.kind == TemplateKind::Index).collect();
        assert_eq!(index.len(), 2);
        // Installed in order: every component template before the index templates.
        let first_index = all.iter().position(|t| t.kind == TemplateKind::Index).unwrap();
        assert!(all[first_index..].iter().all(|t| t.kind == TemplateKind::Index));
        for (template, dataset) in index.iter().zip(["golang.heap", "golang.expvar"]) {
            let body = template.body.as_object().unwrap();
            let keys: BTreeSet<&str> = body.keys().map(String::as_str).collect();
            let mut expected = BTreeSet::from([
                "_meta",
                "composed_of",
                "data_stream",
                "index_patterns",
                "priority",
            ]);
            if target == Target::Elasticsearch {
                expected.insert("ignore_missing_component_templates");
            }
            // No `template` of its own: it would override the users' @custom templates.
            assert_eq!(keys, expected, "{}", template.name);
            assert_eq!(body["index_patterns"], json!([format!("logs-{dataset}-*")]));
            assert_eq!(body["data_stream"], json!({}));
            let priority = body["priority"].as_u64().unwrap();
            assert!(
                100 < priority && priority < 200,
                "between logs (100) and the integration (200)"
            );
            assert!(body["_meta"]["retention"].as_str().unwrap().contains("logs-"));
            // The text is valid JSON that reads back the same.
            assert_eq!(serde_json::from_str::<Value>(&template.to_json()).unwrap(), template.body);
        }
    }
}

/// The built-in component templates of Elasticsearch, as its reference lists them under "Create
/// or update a component template" (`docs/reference/indices/put-component-template.asciidoc`,
/// named so from 8.11 by elasticsearch#99975, which kept the older `logs-mappings` names too).
const ELASTICSEARCH_DOCUMENTED_BUILT_INS: [&str; 7] = [
    "logs@mappings",
    "logs@settings",
    "metrics@mappings",
    "metrics@settings",
    "metrics@tsdb-settings",
    "synthetics@mapping",
    "synthetics@settings",
];

/// Stand-ins for the built-ins, with what matters here: `logs@settings` names the lifecycle
/// policy (`index.lifecycle.name`, `logs@lifecycle` in current versions; StackTemplateRegistry
/// names it `LOGS_ILM_POLICY_NAME`), `logs@mappings` types `data_stream.*` as constant keywords.
fn elasticsearch_built_ins() -> Vec<(String, Value)> {
    ELASTICSEARCH_DOCUMENTED_BUILT_INS
        .iter()
        .map(|name| {
            let body = match *name {
                "logs@settings" => json!({ "template": { "settings": {
                    "index": { "lifecycle": { "name": "logs@lifecycle" } } } } }),
                "logs@mappings" => json!({ "template": { "mappings": { "properties": {
                    "data_stream": { "properties": { "type": { "type": "constant_keyword" } } },
                    "message": { "type": "match_only_text" } } } } }),
                _ => json!({ "template": {} }),
            };
            ((*name).to_owned(), body)
        })
        .collect()
}

/// What a new backing index of `dataset`'s data stream gets, composed as Elasticsearch and
/// OpenSearch compose it (Elasticsearch's reference, "Index templates": the component templates
/// of `composed_of` merged in their order, a later one overriding an earlier one, then the index
/// template's own `template`; `PUT _index_template` refuses a template that composes a missing
/// component unless `ignore_missing_component_templates` names it): its settings, flattened
/// (`index.` added where a key lacks it, as Elasticsearch normalizes them), and its mappings.
/// `installed` are the component templates in the cluster besides ours.
fn compose(
    target: Target,
    dataset: &str,
    installed: &[(String, Value)],
) -> Result<Composed, String> {
    let all = templates::templates(target);
    let index = all
        .iter()
        .find(|t| t.kind == TemplateKind::Index && t.name.ends_with(dataset))
        .unwrap_or_else(|| panic!("no index template for {dataset}"));
    let components: Vec<(String, Value)> = all
        .iter()
        .filter(|t| t.kind == TemplateKind::Component)
        .map(|t| (t.name.clone(), t.body.clone()))
        .chain(installed.iter().cloned())
        .collect();
    let optional = index.body["ignore_missing_component_templates"].as_array().cloned();
    let mut settings = Map::new();
    let mut properties = Map::new();
    let mut apply = |template: &Value| {
        if let Some(more) = template["settings"].as_object() {
            flatten_settings(more, "", &mut settings);
        }
        if let Some(more) = template["mappings"]["properties"].as_object() {
            merge(&mut properties, more);
        }
    };
    for name in index.body["composed_of"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        match components.iter().rev().find(|(n, _)| n == name) {
            Some((_, body)) => apply(&body["template"]),
            None if optional.iter().flatten().any(|o| o == name) => {}
            None => return Err(format!("{} composes {name}, which does not exist", index.name)),
        }
    }
    apply(&index.body["template"]);
    Ok(Composed { settings, properties })
}

/// A composed index's settings (flattened) and mappings (`properties`).
#[derive(Debug)]
struct Composed {
    settings: Map<String, Value>,
    properties: Map<String, Value>,
}

fn flatten_settings(from: &Map<String, Value>, prefix: &str, into: &mut Map<String, Value>) {
    for (key, value) in from {
        let key = format!("{prefix}{key}");
        match value {
            Value::Object(inner) => flatten_settings(inner, &format!("{key}."), into),
            _ => {
                let key = if key.starts_with("index.") { key } else { format!("index.{key}") };
                into.insert(key, value.clone());
            }
        }
    }
}

/// Every mapping a data stream of `dataset` gets from a target's templates (with the built-ins of
/// Elasticsearch), as one `properties` object.
fn merged_properties(target: Target, dataset: &str) -> Map<String, Value> {
    let installed = match target {
        Target::Elasticsearch => elasticsearch_built_ins(),
        Target::OpenSearch => Vec::new(),
    };
    compose(target, dataset, &installed).unwrap().properties
}

/// The envelope's mappings alone.
fn envelope_properties(target: Target) -> Map<String, Value> {
    let all = templates::templates(target);
    let envelope = all.iter().find(|t| t.name == templates::ENVELOPE_TEMPLATE).unwrap();
    envelope.body["template"]["mappings"]["properties"].as_object().unwrap().clone()
}

/// The index templates compose only what exists where they go: Elasticsearch's documented
/// built-ins (whose `logs@settings` brings the lifecycle policy, so the backing indices roll
/// over), ours, and the users' `@custom` templates, which may be missing. OpenSearch has no
/// built-ins, and its templates compose only ours.
#[test]
fn the_composed_templates_exist_where_they_go() {
    for name in templates::ELASTICSEARCH_BUILT_INS {
        assert!(ELASTICSEARCH_DOCUMENTED_BUILT_INS.contains(&name), "{name} is no built-in");
    }
    for dataset in ["golang.heap", "golang.expvar"] {
        let Composed { settings, properties } =
            compose(Target::Elasticsearch, dataset, &elasticsearch_built_ins()).unwrap();
        assert_eq!(settings["index.lifecycle.name"], "logs@lifecycle", "{dataset}");
        // logs@mappings first, ours after it: our types win where both map a field.
        assert!(properties.contains_key("message"));
        assert_eq!(properties["data_stream"]["properties"]["type"]["type"], "constant_keyword");
        assert!(properties["golang"]["properties"].get(&dataset[7..]).is_some());
        // Without the built-ins (an Elasticsearch before 8.11), the template is refused.
        let refused = compose(Target::Elasticsearch, dataset, &[]).unwrap_err();
        assert!(refused.ends_with("composes logs@mappings, which does not exist"), "{refused}");

        let settings = compose(Target::OpenSearch, dataset, &[]).unwrap().settings;
        assert!(settings.is_empty(), "OpenSearch: {settings:?}");
    }
}

/// The users' `logs@custom` and `logs-<dataset>@custom` come last: they set the retention (a
/// lifecycle policy of their own), any other setting, extra fields, and even retype ours.
#[test]
fn user_custom_templates_are_honoured() {
    let mut installed = elasticsearch_built_ins();
    installed.push((
        "logs@custom".to_owned(),
        json!({ "template": { "settings": { "index.lifecycle.name": "all-logs" } } }),
    ));
    installed.push((
        "logs-golang.heap@custom".to_owned(),
        json!({ "template": {
            "settings": { "lifecycle": { "name": "golang-heap-30d" }, "number_of_replicas": 0 },
            "mappings": { "properties": {
                "labels": { "properties": { "team": { "type": "keyword" } } },
                "golang": { "properties": { "heap": { "properties": {
                    "cmdline": { "type": "text" } } } } } } },
        } }),
    ));
    let Composed { settings, properties } =
        compose(Target::Elasticsearch, "golang.heap", &installed).unwrap();
    assert_eq!(settings["index.lifecycle.name"], "golang-heap-30d");
    assert_eq!(settings["index.number_of_replicas"], 0);
    assert_eq!(properties["labels"]["properties"]["team"]["type"], "keyword");
    let heap = &properties["golang"]["properties"]["heap"]["properties"];
    assert_eq!(heap["cmdline"]["type"], "text", "the user's type wins");
    assert_eq!(heap["gc"]["properties"]["pause"]["properties"]["since"]["type"], "keyword");
    // The other data stream gets logs@custom only.
    let settings = compose(Target::Elasticsearch, "golang.expvar", &installed).unwrap().settings;
    assert_eq!(settings["index.lifecycle.name"], "all-logs");
}

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(key), value.get("properties")) {
            (Some(existing), Some(Value::Object(more))) => {
                merge(existing["properties"].as_object_mut().unwrap(), more)
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The mapped field that indexes the leaf at `path`, and its mapping: the leaf's own, or the
/// flattened field above it. `None` when no mapping covers it (dynamic mapping would add one).
fn mapped<'a>(properties: &'a Map<String, Value>, path: &[String]) -> Option<(String, &'a Value)> {
    let mut level = properties;
    for (i, segment) in path.iter().enumerate() {
        let mapping = level.get(segment)?;
        match mapping.get("properties") {
            Some(Value::Object(inner)) => level = inner,
            _ => {
                let flat = matches!(mapping["type"].as_str(), Some("flattened" | "flat_object"));
                return (flat || i == path.len() - 1).then(|| (path[..=i].join("."), mapping));
            }
        }
    }
    None
}

/// Each leaf of an event (array elements count as their array's path) with its value.
fn leaves(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                path.push(key.clone());
                leaves(member, path, out);
                path.pop();
            }
        }
        Value::Array(items) => items.iter().for_each(|item| leaves(item, path, out)),
        scalar => out.push((path.clone(), scalar.clone())),
    }
}

/// The fields of `events` under `target`'s templates; panics at a leaf no mapping covers, or
/// whose value is not of its mapped type (a float field written as an integer among them).
fn mapped_fields(target: Target, events: &[expvar_heap::Event]) -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    for event in events {
        let value: Value = serde_json::from_str(&event.json).unwrap();
        let dataset = value["data_stream"]["dataset"].as_str().unwrap().to_owned();
        let properties = merged_properties(target, &dataset);
        let mut found = Vec::new();
        leaves(&value, &mut Vec::new(), &mut found);
        for (path, leaf) in found {
            let (name, mapping) = mapped(&properties, &path)
                .unwrap_or_else(|| panic!("{target:?}: no mapping for {}", path.join(".")));
            let fits = match mapping["type"].as_str().unwrap() {
                "long" => leaf.is_u64(),
                "float" => leaf.is_f64(),
                "flattened" | "flat_object" => true,
                _ => leaf.is_string(), // keyword, text, date
            };
            assert!(fits, "{target:?}: {} = {leaf} does not fit {mapping}", path.join("."));
            fields.insert(name);
        }
    }
    fields
}

/// Every fixture, as the sequence it is, with every option that adds a field.
fn every_fixture_event() -> Vec<expvar_heap::Event> {
    let options = Options {
        datasets: Datasets::ALL,
        preserve_original_event: true,
        service_address: Some("http://127.0.0.1:6060".to_owned()),
        ..Options::default()
    };
    let options = options.validate().unwrap();
    let mut events = Vec::new();
    for (_, paths) in fixtures::sequences().unwrap() {
        let mut collector = Collector::new(options.clone());
        for path in paths {
            events.extend(collector.push(&std::fs::read(path).unwrap(), BLESS_TIME));
        }
    }
    events
}

#[test]
fn every_field_of_every_fixture_event_is_mapped_with_its_type() {
    let events = every_fixture_event();
    for target in Target::ALL {
        let fields = mapped_fields(target, &events);
        // The data must reach the fields that matter, or this test proves little.
        for must in [
            "golang.heap.gc.cpu_fraction",
            "golang.heap.gc.pause.avg.ns",
            "golang.heap.gc.pause.missed.count",
            "golang.heap.gc.pause.p99.ns",
            "golang.heap.gc.pause.since",
            "golang.expvar.custom",
            "error.message",
            "event.original",
            "service.address",
        ] {
            assert!(fields.contains(must), "{target:?}: no event carried {must}");
        }
    }
}

/// The `golang.*` fields have the type, metric type and unit Elastic's `fields.yml` gives them,
/// and the envelope the types of `base-fields.yml`. Only what Elastic does not declare is ours:
/// `gc.pause.missed.count`, the pause percentiles, `gc.pause.since` and `golang.expvar.custom`
/// (dynamically mapped there).
#[test]
fn types_are_elastics() {
    let ours_only = [
        "golang.heap.gc.pause.missed.count",
        "golang.heap.gc.pause.p50.ns",
        "golang.heap.gc.pause.p90.ns",
        "golang.heap.gc.pause.p99.ns",
        "golang.heap.gc.pause.since",
        "golang.expvar.custom",
    ];
    for (file, dataset, table) in [
        ("heap/fields.yml", "golang.heap", expvar_heap::fields::HEAP_FIELDS),
        ("expvar/fields.yml", "golang.expvar", expvar_heap::fields::EXPVAR_FIELDS),
    ] {
        let elastic = elastic_fields(file);
        let properties = merged_properties(Target::Elasticsearch, dataset);
        for field in table {
            let name = field.path.join(".");
            let Some(theirs) = elastic.iter().find(|e| e.name == name) else {
                assert!(ours_only.contains(&name.as_str()), "{name} is not in {file}");
                continue;
            };
            let mapping = field.mapping;
            assert_eq!(mapping.es_type.name(), theirs.es_type, "{name}");
            assert_eq!(mapping.metric.map(|m| m.name().to_owned()), theirs.metric_type, "{name}");
            assert_eq!(mapping.unit.map(|u| u.name().to_owned()), theirs.unit, "{name}");
            let path: Vec<String> = field.path.iter().map(|s| s.to_string()).collect();
            let (_, in_template) = mapped(&properties, &path).unwrap();
            assert_eq!(in_template["type"], theirs.es_type.as_str(), "{name}");
        }
        for theirs in &elastic {
            assert!(
                table.iter().any(|f| f.path.join(".") == theirs.name),
                "{} missing",
                theirs.name
            );
        }
    }
    let envelope = envelope_properties(Target::Elasticsearch);
    for theirs in elastic_fields("heap/base-fields.yml") {
        if theirs.name == "input.type" {
            continue; // Filebeat's, not in our events
        }
        let path: Vec<String> = theirs.name.split('.').map(str::to_owned).collect();
        let (_, mapping) = mapped(&envelope, &path).unwrap_or_else(|| panic!("{}", theirs.name));
        assert_eq!(mapping["type"], theirs.es_type.as_str(), "{}", theirs.name);
    }
}

/// A service publishing 3,000 variables of every JSON type (and one that changes type between
/// scrapes): under the template its events use one field for all of them.
#[test]
fn thousands_of_custom_variables_of_mixed_types_map_to_one_field() {
    let real = std::fs::read_to_string(fixtures::root_fixture("go1.27/custom/01.json")).unwrap();
    let body = |scrape: u64| {
        let mut variables = Vec::new();
        for i in 0..3_000u64 {
            let value = match (i + scrape) % 7 {
                0 => json!(i),
                1 => json!(0.0),
                2 => json!(i as f64 / 7.0),
                3 => json!(format!("text {i}")),
                4 => json!({ "nested": { "deep": [i, "x", true] } }),
                5 => json!(u64::MAX - i),
                _ => json!(i % 2 == 0),
            };
            variables.push(format!("\"var_{i}\":{value}"));
        }
        format!("{{{},{}", variables.join(","), &real.trim_start()[1..])
    };
    let options = ValidOptions::default().into_options();
    let options = Options { datasets: Datasets::ALL, ..options }.validate().unwrap();
    let mut collector = Collector::new(options.clone());
    let component = processor(Limits::default());
    let mut in_component = component.collector(&options).unwrap();
    let mut events = Vec::new();
    for scrape in 0..2 {
        let time = CollectionTime { seconds: 1_767_225_600 + scrape, nanoseconds: 0 };
        let native = collector.push(body(scrape).as_bytes(), time);
        let same = in_component.push(body(scrape).as_bytes(), time).unwrap() == native;
        assert!(same, "the component's events differ from the native library's");
        assert!(!native[1].has_error, "{}", &native[1].json[..400]);
        events.extend(native);
    }
    for target in Target::ALL {
        let fields = mapped_fields(target, &events);
        let custom: Vec<_> =
            fields.iter().filter(|f| f.starts_with("golang.expvar.custom")).collect();
        assert_eq!(custom, ["golang.expvar.custom"], "{target:?}");
        assert!(fields.len() < 60, "{target:?}: {} fields", fields.len());
    }
}

/// `GCCPUFraction` is 0 until the first GC: written `0.0`, so that no index maps it as `long`
/// (beats#7785), in the native library and the component alike.
#[test]
fn cpu_fraction_is_a_float_from_its_first_zero_on() {
    let body =
        |fraction: &str| format!(r#"{{"memstats":{{"GCCPUFraction":{fraction},"NumGC":1}}}}"#);
    let native: Vec<String> = ["0", "0.17"]
        .iter()
        .flat_map(|f| Collector::default().push(body(f).as_bytes(), BLESS_TIME))
        .map(|e| e.json)
        .collect();
    assert!(native[0].contains(r#""cpu_fraction":0.0,"#), "{}", native[0]);
    assert!(native[1].contains(r#""cpu_fraction":0.17,"#), "{}", native[1]);
    let component = processor(Limits::default());
    for (fraction, expected) in ["0", "0.17"].iter().zip(&native) {
        let events = component
            .transform(body(fraction).as_bytes(), BLESS_TIME, &Options::default())
            .unwrap();
        assert_eq!(&events[0].json, expected);
    }
}
