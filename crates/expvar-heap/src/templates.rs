//! Index templates for Elasticsearch 8.11+ and OpenSearch 2.7+, made from the field table: what a
//! user without Elastic's golang integration installs so that every field is typed as the
//! integration types it, before the first event arrives.
//!
//! For each target, component templates: one with the envelope (`@timestamp`, `data_stream.*`,
//! `ecs`, `error`, `event`, `service`, `tags`, typed as ECS types them) and one per data stream
//! with its own fields; then one composable index template per data stream
//! (`logs-golang.heap-*`, `logs-golang.expvar-*`) with `data_stream` enabled, made of them.
//! `golang.expvar.custom` is one `flattened` field (`flat_object` in OpenSearch): whatever a
//! program publishes, it can neither conflict with an earlier type nor add fields.
//!
//! In Elasticsearch, an index template of a higher priority replaces the built-in `logs` one for
//! its pattern, with everything it composes. So ours compose what Fleet composes for an
//! integration's `logs` data stream: the built-in `logs@mappings` and `logs@settings` first (the
//! settings carry the lifecycle policy, so the backing indices roll over), then ours, then the
//! users' own `logs@custom` and `logs-<dataset>@custom`, which may be missing
//! (`ignore_missing_component_templates`) and, coming last, override everything before them
//! (retention, replicas, extra mappings). The index template itself holds nothing else, so that
//! nothing overrides the `@custom` templates. OpenSearch has no built-in templates and no
//! `ignore_missing_component_templates`: its retention comes from an ISM policy, which attaches
//! itself to new indices by its own `ism_template`; the templates' `_meta` says so.

use serde_json::{Map, Value, json};

use crate::fields::{EXPVAR_FIELDS, EsType, Field, HEAP_FIELDS};
use crate::options::{Dataset, OptionsError};
use crate::read::MAX_NESTING;

/// Where the templates go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Elasticsearch 8.11 or later (`logs@mappings` and `logs@settings` have these names from
    /// 8.11, elasticsearch#99975; `time_series_metric` on an ordinary index is accepted, as a
    /// no-op, from 8.8; `ignore_missing_component_templates` from 8.7).
    Elasticsearch,
    /// OpenSearch 2.7 or later (`flat_object` came in 2.7).
    OpenSearch,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Elasticsearch, Target::OpenSearch];

    /// `elasticsearch` or `opensearch`: the command-line value and the `dist/` folder.
    pub fn name(self) -> &'static str {
        match self {
            Target::Elasticsearch => "elasticsearch",
            Target::OpenSearch => "opensearch",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = OptionsError;

    fn from_str(name: &str) -> Result<Target, OptionsError> {
        Target::ALL.into_iter().find(|t| t.name() == name).ok_or_else(|| {
            OptionsError::new(format!("unknown target {name:?}: elasticsearch or opensearch"))
        })
    }
}

/// A component template or a composable index template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    Component,
    Index,
}

impl TemplateKind {
    /// The REST endpoint it is installed at (`PUT <endpoint>/<name>`).
    pub fn endpoint(self) -> &'static str {
        match self {
            TemplateKind::Component => "_component_template",
            TemplateKind::Index => "_index_template",
        }
    }
}

/// One template to install.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub kind: TemplateKind,
    pub name: String,
    /// The request body.
    pub body: Value,
}

impl Template {
    /// The request path: `_component_template/<name>` or `_index_template/<name>`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.kind.endpoint(), self.name)
    }

    /// The body as indented JSON, with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.body).expect("a JSON value");
        text.push('\n');
        text
    }
}

/// The name of the envelope's component template.
pub const ENVELOPE_TEMPLATE: &str = "expvar-heap-envelope";

/// The built-in component templates of Elasticsearch that the index templates compose, first: as
/// Fleet composes them for an integration's `logs` data stream.
pub const ELASTICSEARCH_BUILT_INS: [&str; 2] = ["logs@mappings", "logs@settings"];

/// The component template users own for every `logs-*-*` data stream (the built-in `logs` index
/// template composes it too); composed when it exists.
pub const LOGS_CUSTOM_TEMPLATE: &str = "logs@custom";

/// The priority of the index templates: above Elasticsearch's built-in `logs` template (100),
/// below the templates of Elastic's golang integration (200), which win where it is installed.
pub const PRIORITY: u64 = 150;

/// The longest keyword kept for the envelope's keyword fields and `cmdline` (ECS's limit).
const KEYWORD_IGNORE_ABOVE: u64 = 1024;

/// The longest string value kept in `golang.expvar.custom` (a longer one is left out of the
/// index, not rejected; Lucene refuses terms over 32,766 bytes).
const CUSTOM_IGNORE_ABOVE: u64 = 8191;

/// The name of a dataset's own component template (its fields).
pub fn fields_template(dataset: Dataset) -> String {
    format!("expvar-heap-logs-{}-fields", dataset.name())
}

/// The name of the component template users own for a dataset's data streams, as Fleet names it
/// for an integration's (`logs-golang.heap@custom`); composed when it exists.
pub fn custom_template(dataset: Dataset) -> String {
    format!("logs-{}@custom", dataset.name())
}

/// Every template for `target`, in the order to install them: the component templates, then the
/// index templates that compose them.
pub fn templates(target: Target) -> Vec<Template> {
    let datasets = [(Dataset::Heap, HEAP_FIELDS), (Dataset::Expvar, EXPVAR_FIELDS)];
    let mut all = vec![Template {
        kind: TemplateKind::Component,
        name: ENVELOPE_TEMPLATE.to_owned(),
        body: json!({
            "template": { "mappings": { "properties": envelope(target) } },
            "_meta": meta("the envelope of every expvar-heap event (ECS types)"),
        }),
    }];
    for (dataset, fields) in datasets {
        all.push(Template {
            kind: TemplateKind::Component,
            name: fields_template(dataset),
            body: json!({
                "template": { "mappings": { "properties": dataset_properties(target, fields) } },
                "_meta": meta(&format!("the fields of the {} events of expvar-heap", dataset.name())),
            }),
        });
    }
    for (dataset, _) in datasets {
        let name = dataset.name();
        let ours = [ENVELOPE_TEMPLATE.to_owned(), fields_template(dataset)];
        let mut body = Map::new();
        body.insert("index_patterns".into(), json!([format!("logs-{name}-*")]));
        body.insert("data_stream".into(), json!({}));
        body.insert("priority".into(), PRIORITY.into());
        match target {
            Target::Elasticsearch => {
                let custom = [LOGS_CUSTOM_TEMPLATE.to_owned(), custom_template(dataset)];
                let composed: Vec<String> = ELASTICSEARCH_BUILT_INS
                    .iter()
                    .map(|name| (*name).to_owned())
                    .chain(ours)
                    .chain(custom.clone())
                    .collect();
                body.insert("composed_of".into(), json!(composed));
                body.insert("ignore_missing_component_templates".into(), json!(custom));
                let retention = format!(
                    "the lifecycle policy of logs@settings (rollover); set retention or any other \
                     setting in the component template {}",
                    custom_template(dataset)
                );
                body.insert("_meta".into(), meta_with(name, &retention));
            }
            Target::OpenSearch => {
                body.insert("composed_of".into(), json!(ours));
                let retention = format!(
                    "none by default; attach an ISM policy whose ism_template.index_patterns is \
                     [\"logs-{name}-*\"], and OpenSearch applies it to each new backing index"
                );
                body.insert("_meta".into(), meta_with(name, &retention));
            }
        }
        all.push(Template {
            kind: TemplateKind::Index,
            name: format!("expvar-heap-logs-{name}"),
            body: Value::Object(body),
        });
    }
    all
}

/// The `_meta` of a dataset's index template: what it is, and how retention is set.
fn meta_with(dataset: &str, retention: &str) -> Value {
    let mut meta = meta(&format!("the {dataset} events of expvar-heap"));
    meta["retention"] = retention.into();
    meta
}

fn meta(description: &str) -> Value {
    json!({ "description": description, "managed_by": "expvar-heap" })
}

/// The envelope's fields, as ECS (and `base-fields.yml`) types them.
fn envelope(target: Target) -> Value {
    let constant = match target {
        Target::Elasticsearch => json!({ "type": "constant_keyword" }),
        Target::OpenSearch => json!({ "type": "keyword" }),
    };
    let text = match target {
        Target::Elasticsearch => json!({ "type": "match_only_text" }),
        Target::OpenSearch => json!({ "type": "text" }),
    };
    let keyword = json!({ "type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE });
    json!({
        "@timestamp": { "type": "date" },
        "data_stream": { "properties": {
            "dataset": constant, "namespace": constant, "type": constant,
        } },
        "ecs": { "properties": { "version": keyword } },
        "error": { "properties": { "message": text } },
        "event": { "properties": {
            "created": { "type": "date" },
            "dataset": keyword,
            "kind": keyword,
            "module": keyword,
            // Kept, not searched: the body can be far longer than a keyword may be.
            "original": { "type": "keyword", "index": false, "doc_values": false },
            "type": keyword,
        } },
        "service": { "properties": { "address": keyword } },
        "tags": keyword,
    })
}

/// The dataset's fields as nested `properties`.
fn dataset_properties(target: Target, fields: &[Field]) -> Value {
    let mut root = Map::new();
    for field in fields {
        let (leaf, parents) = field.path.split_last().expect("a field has a path");
        let mut level = &mut root;
        for parent in parents {
            let object = level.entry(*parent).or_insert_with(|| json!({ "properties": {} }));
            level = object["properties"].as_object_mut().expect("an object mapping");
        }
        level.insert((*leaf).to_owned(), field_mapping(target, field));
    }
    Value::Object(root)
}

/// One field's mapping.
fn field_mapping(target: Target, field: &Field) -> Value {
    let mapping = field.mapping;
    let mut out = Map::new();
    match (mapping.es_type, target) {
        (EsType::Flattened, Target::Elasticsearch) => {
            out.insert("type".into(), "flattened".into());
            // A custom variable may nest as deeply as the transform keeps it.
            out.insert("depth_limit".into(), MAX_NESTING.into());
            out.insert("ignore_above".into(), CUSTOM_IGNORE_ABOVE.into());
        }
        (EsType::Flattened, Target::OpenSearch) => {
            out.insert("type".into(), "flat_object".into());
        }
        (EsType::Keyword, _) => {
            out.insert("type".into(), "keyword".into());
            out.insert("ignore_above".into(), KEYWORD_IGNORE_ABOVE.into());
        }
        (es_type, _) => {
            out.insert("type".into(), es_type.name().into());
        }
    }
    if target == Target::Elasticsearch {
        if let Some(metric) = mapping.metric {
            out.insert("time_series_metric".into(), metric.name().into());
        }
        if let Some(unit) = mapping.unit {
            out.insert("meta".into(), json!({ "unit": unit.name() }));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_by_name() {
        assert_eq!("opensearch".parse(), Ok(Target::OpenSearch));
        assert_eq!("elasticsearch".parse(), Ok(Target::Elasticsearch));
        assert!("solr".parse::<Target>().unwrap_err().to_string().contains("elasticsearch or"));
    }

    #[test]
    fn opensearch_gets_no_type_it_lacks() {
        for template in templates(Target::OpenSearch) {
            let text = template.to_json();
            for missing in ["constant_keyword", "flattened", "match_only_text", "time_series"] {
                assert!(!text.contains(missing), "{} has {missing}", template.name);
            }
        }
    }
}
