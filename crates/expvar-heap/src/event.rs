//! Building the events of one body: the envelope, the dataset's fields, and any error.

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::fields::{EXPVAR_FIELDS, Field, HEAP_FIELDS, Pause, Source};
use crate::options::Dataset;
use crate::pause::PauseWindow;
use crate::read::{Body, Cmdline, Custom, MAX_NESTING, Memstats, Number};
use crate::time::CollectionTime;
use crate::valid::ValidOptions;
use crate::write::{Layout, Value, write_str};

/// One event: a line of compact JSON with its keys sorted, and whether it reports a problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event as JSON text. Integers are exact and some exceed 2^53 (`LastGC`, custom
    /// counters): a host that parses it into doubles changes them.
    pub json: String,
    /// Whether the event has `error.message`: the body, or some field of it, could not be used.
    pub has_error: bool,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.json)
    }
}

/// The events of a body read as `read` (or that could not be read, and why), one per dataset of
/// the options, heap first. `pauses` is the collector's window, when there is one.
pub(crate) fn build_all(
    body: &[u8],
    read: Result<&Body<'_>, &str>,
    time: CollectionTime,
    options: &ValidOptions,
    pauses: Option<PauseWindow>,
) -> Vec<Event> {
    let timestamp = time.rfc3339_millis();
    let input = Input { body, read, timestamp: timestamp.as_str(), options, pauses };
    options.datasets.iter().map(|dataset| build(&input, dataset)).collect()
}

/// Everything one event of a body needs, computed once per body and shared by its datasets.
struct Input<'a> {
    body: &'a [u8],
    read: Result<&'a Body<'a>, &'a str>,
    timestamp: &'a str,
    options: &'a ValidOptions,
    pauses: Option<PauseWindow>,
}

/// The event of one dataset.
fn build(input: &Input<'_>, dataset: Dataset) -> Event {
    let Input { body, read, timestamp, options, pauses } = *input;
    let fields = match dataset {
        Dataset::Heap => HEAP_FIELDS,
        Dataset::Expvar => EXPVAR_FIELDS,
    };
    let (custom, custom_problems) = match (dataset, read) {
        (Dataset::Expvar, Ok(read)) => render_custom(&read.custom),
        _ => (String::new(), Vec::new()),
    };
    let error = error_message(read, fields, &custom_problems);
    let original =
        (options.preserve_original_event || error.is_some()).then(|| String::from_utf8_lossy(body));
    let cmdline = match read {
        Ok(Body { cmdline: Some(Cmdline::Json(json)), .. }) => Value::Raw(json),
        Ok(Body { cmdline: Some(Cmdline::Args(args)), .. }) => Value::Args(args),
        _ => Value::Args(&[]),
    };
    let has_error = error.is_some();
    let envelope = options.envelope(dataset);

    let values = fields.iter().enumerate().filter_map(|(index, field)| {
        let read = read.ok()?;
        let value = match field.source {
            Source::Cmdline => cmdline,
            Source::Custom => Value::Raw(&custom),
            Source::Stat(stat) => match read.stat(stat)? {
                Number::Uint(n) => Value::Uint(n),
                Number::Float(f) => Value::Float(f),
            },
            Source::Pause(figure) => {
                let w = pauses?;
                match figure {
                    // A float field (as Elastic's fields.yml types it), of a whole number of ns.
                    Pause::Avg => Value::Float(w.avg_ns as f64),
                    Pause::Count => Value::Uint(w.count),
                    Pause::Max => Value::Uint(w.max_ns),
                    Pause::Missed if w.missed > 0 => Value::Uint(w.missed),
                    Pause::Missed => return None,
                    Pause::P50 => Value::Uint(w.percentiles?.p50_ns),
                    Pause::P90 => Value::Uint(w.percentiles?.p90_ns),
                    Pause::P99 => Value::Uint(w.percentiles?.p99_ns),
                    Pause::Since => Value::Str(w.since.name()),
                    Pause::Sum => Value::Uint(w.sum_ns),
                }
            }
        };
        Some((index, value))
    });

    // The members in sorted order: @timestamp, data_stream, ecs, error, event, golang, service,
    // tags; the envelope's parts as the options rendered them once.
    let extra = original.as_ref().map_or(0, |o| o.len() + o.len() / 8)
        + error.as_ref().map_or(0, String::len)
        + custom.len();
    let mut out = String::with_capacity(ENVELOPE_BYTES + 40 * fields.len() + extra);
    out.push_str("{\"@timestamp\":\"");
    out.push_str(timestamp);
    out.push_str("\",");
    out.push_str(&envelope.head);
    if let Some(message) = &error {
        out.push_str(",\"error\":{\"message\":");
        write_str(&mut out, message);
        out.push('}');
    }
    out.push_str(",\"event\":{\"created\":\"");
    out.push_str(timestamp);
    out.push_str("\",");
    out.push_str(&envelope.event);
    if let Some(original) = original.as_deref().filter(|o| !o.is_empty()) {
        out.push_str(",\"original\":");
        write_str(&mut out, original);
    }
    out.push_str(",\"type\":[\"info\"]}");
    layout(dataset).write(&mut out, values);
    out.push(',');
    out.push_str(&envelope.tail);
    out.push('}');
    Event { json: out, has_error }
}

/// The layout of a dataset's fields, worked out at its first event.
fn layout(dataset: Dataset) -> &'static Layout {
    static HEAP: OnceLock<Layout> = OnceLock::new();
    static EXPVAR: OnceLock<Layout> = OnceLock::new();
    let (cell, fields) = match dataset {
        Dataset::Heap => (&HEAP, HEAP_FIELDS),
        Dataset::Expvar => (&EXPVAR, EXPVAR_FIELDS),
    };
    cell.get_or_init(|| Layout::new(&fields.iter().map(|f| f.path).collect::<Vec<_>>()))
}

/// About what the envelope of an event takes, in bytes.
const ENVELOPE_BYTES: usize = 400;

/// Everything that was wrong with the body for this dataset, or `None`.
fn error_message(
    read: Result<&Body<'_>, &str>,
    fields: &[Field],
    more_problems: &[String],
) -> Option<String> {
    let read = match read {
        Err(why) => return Some(why.to_owned()),
        Ok(read) => read,
    };
    let mut problems: Vec<Cow<str>> = Vec::new();
    match read.memstats {
        Memstats::Missing => problems.push("memstats is missing".into()),
        Memstats::NotAnObject(what) => {
            problems.push(format!("memstats is not an object: it is {what}").into())
        }
        Memstats::Object(_) => {
            let any_figure = fields.iter().any(|field| match field.source {
                Source::Stat(stat) => read.stat(stat).is_some(),
                Source::Cmdline | Source::Custom | Source::Pause(_) => false,
            });
            if !any_figure {
                problems.push("memstats has none of the figures this event reports".into());
            }
        }
    }
    let named = read.problems.iter().chain(more_problems);
    problems.extend(named.map(|p| Cow::Borrowed(p.as_str())));
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The custom variables as one compact JSON object, values as published (integers exact) with
/// nulls and empty strings, arrays and objects dropped at every depth, as Elastic's pipeline does;
/// and the variables that could not be decoded (nested too deeply, a number beyond a double's
/// range), named.
fn render_custom(custom: &[(Cow<'_, str>, Custom<'_>)]) -> (String, Vec<String>) {
    let mut object = serde_json::Map::new();
    let mut problems = Vec::new();
    for (name, value) in custom {
        let Custom::Json(raw) = value else {
            problems.push(format!("{name}: left out, nested more than {MAX_NESTING} levels deep"));
            continue;
        };
        match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(mut value) => {
                if !prune_empty(&mut value) {
                    object.insert(name.to_string(), value);
                }
            }
            Err(e) => problems.push(format!("{name}: left out, {e}")),
        }
    }
    if object.is_empty() {
        return (String::new(), problems);
    }
    (serde_json::Value::Object(object).to_string(), problems)
}

/// Drops empty members below `value`; true when `value` itself is empty and should go too.
fn prune_empty(value: &mut serde_json::Value) -> bool {
    use serde_json::Value as V;
    match value {
        V::Null => true,
        V::String(s) => s.is_empty(),
        V::Array(items) => {
            items.retain_mut(|item| !prune_empty(item));
            items.is_empty()
        }
        V::Object(members) => {
            members.retain(|_, member| !prune_empty(member));
            members.is_empty()
        }
        V::Bool(_) | V::Number(_) => false,
    }
}
