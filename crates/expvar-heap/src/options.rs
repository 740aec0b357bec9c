//! What the user sets: the options of a transform, with the integration's defaults in one place.

use std::fmt;

/// The `ecs.version` Elastic's golang integration 1.6.0 writes.
pub const DEFAULT_ECS_VERSION: &str = "8.11.0";
/// The data stream namespace Elastic Agent uses unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Elasticsearch refuses a data stream name whose namespace is longer than this, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 100;
/// The tag that `preserve_original_event` adds in front of the others, as the integration does.
pub const PRESERVE_ORIGINAL_TAG: &str = "preserve_original_event";

/// One of the integration's data streams: which event a body becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    /// `golang.heap`: the heap and GC statistics (the seed's data stream).
    Heap,
    /// `golang.expvar`: the other memstats figures and every custom variable.
    Expvar,
}

impl Dataset {
    /// The name used for `data_stream.dataset` and `event.dataset`.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Heap => "golang.heap",
            Dataset::Expvar => "golang.expvar",
        }
    }

    /// The tags the integration puts on this data stream's events by default.
    pub fn default_tags(self) -> &'static [&'static str] {
        match self {
            Dataset::Heap => &["forwarded", "golang-heap"],
            Dataset::Expvar => &["forwarded", "golang-expvar"],
        }
    }
}

/// Which data streams one body yields an event for; events come out in the order heap, expvar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datasets {
    pub heap: bool,
    pub expvar: bool,
}

impl Datasets {
    /// Only `golang.heap`, the default.
    pub const HEAP: Datasets = Datasets { heap: true, expvar: false };
    /// Only `golang.expvar`.
    pub const EXPVAR: Datasets = Datasets { heap: false, expvar: true };
    /// Both, heap first.
    pub const ALL: Datasets = Datasets { heap: true, expvar: true };

    /// The selected datasets, in output order.
    pub fn iter(self) -> impl Iterator<Item = Dataset> {
        [(self.heap, Dataset::Heap), (self.expvar, Dataset::Expvar)]
            .into_iter()
            .filter_map(|(on, dataset)| on.then_some(dataset))
    }
}

impl std::str::FromStr for Datasets {
    type Err = OptionsError;

    /// `heap`, `expvar` or `all` (both), as the command line and the playground name them.
    fn from_str(name: &str) -> Result<Datasets, OptionsError> {
        match name {
            "heap" => Ok(Datasets::HEAP),
            "expvar" => Ok(Datasets::EXPVAR),
            "all" => Ok(Datasets::ALL),
            other => Err(OptionsError(format!("unknown dataset {other:?}: heap, expvar or all"))),
        }
    }
}

/// How a body becomes events. `Options::default()` is what Elastic's integration does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `data_stream.namespace`: lower case, no `-`, at most 100 bytes (Elasticsearch's rules).
    pub namespace: String,
    /// The `tags`, replacing each dataset's defaults ([`Dataset::default_tags`]). Empty strings
    /// are ignored, and a list with no other tag (the default, an empty list) means the
    /// defaults: an event always has tags, as the integration's do. See [`Options::tags_for`].
    pub tags: Vec<String>,
    /// Keep the body in `event.original` and put `preserve_original_event` first in `tags`.
    /// (A body that could not be read fully is always kept, whatever this says.)
    pub preserve_original_event: bool,
    /// `ecs.version`.
    pub ecs_version: String,
    /// `service.address`: where the body came from, e.g. `http://10.0.0.5:6060`.
    pub service_address: Option<String>,
    /// Which events each body yields.
    pub datasets: Datasets,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            tags: Vec::new(),
            preserve_original_event: false,
            ecs_version: DEFAULT_ECS_VERSION.to_owned(),
            service_address: None,
            datasets: Datasets::HEAP,
        }
    }
}

/// Options that Elasticsearch or the transform would refuse. An error of the call, not an event;
/// its `Display` is the sentence to show the user.
#[derive(Clone, PartialEq, Eq)]
pub struct OptionsError(String);

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionsError {}

impl OptionsError {
    /// An error with its sentence.
    pub(crate) fn new(why: String) -> OptionsError {
        OptionsError(why)
    }
}

impl Options {
    /// The tags of one dataset's events: `preserve_original_event` first when that option is on,
    /// then the non-empty strings of [`Options::tags`], or the dataset's defaults when there are
    /// none. This is the one place the rule is decided; every adapter passes its list through.
    pub fn tags_for(&self, dataset: Dataset) -> Vec<&str> {
        let chosen: Vec<&str> =
            self.tags.iter().map(String::as_str).filter(|t| !t.is_empty()).collect();
        let chosen = if chosen.is_empty() { dataset.default_tags().to_vec() } else { chosen };
        let preserve = self.preserve_original_event.then_some(PRESERVE_ORIGINAL_TAG);
        preserve.into_iter().chain(chosen).collect()
    }
}

/// What [`Options::validate`] checks: Elasticsearch's data stream naming rules and the
/// transform's needs. (`validate` itself is in `valid`, which builds on these options.)
pub(crate) fn check(options: &Options) -> Result<(), OptionsError> {
    validate_namespace(&options.namespace)?;
    if !options.datasets.heap && !options.datasets.expvar {
        return Err(OptionsError("no dataset selected: choose heap, expvar or both".to_owned()));
    }
    Ok(())
}

/// Elasticsearch's rules for the namespace part of `logs-<dataset>-<namespace>`.
fn validate_namespace(namespace: &str) -> Result<(), OptionsError> {
    let refuse = |why: String| Err(OptionsError(format!("invalid namespace {namespace:?}: {why}")));
    if namespace.is_empty() {
        return refuse("it is empty".to_owned());
    }
    if namespace.len() > MAX_NAMESPACE_BYTES {
        return refuse(format!(
            "it is {} bytes long; Elasticsearch allows at most {MAX_NAMESPACE_BYTES}",
            namespace.len()
        ));
    }
    if let Some(c) = namespace.chars().find(|c| c.is_uppercase()) {
        return refuse(format!("it must be lower case, {c:?} is not"));
    }
    const FORBIDDEN: &[char] = &['-', '\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':', ' '];
    if let Some(c) = namespace.chars().find(|c| FORBIDDEN.contains(c)) {
        return refuse(format!(
            "{c:?} is not allowed (none of - \\ / * ? \" < > | , # : or space)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_namespace(namespace: &str) -> Options {
        Options { namespace: namespace.to_owned(), ..Options::default() }
    }

    #[test]
    fn defaults_are_the_integrations() {
        let options = Options::default();
        assert_eq!(check(&options), Ok(()));
        assert_eq!(options.tags_for(Dataset::Heap), ["forwarded", "golang-heap"]);
        assert_eq!(options.tags_for(Dataset::Expvar), ["forwarded", "golang-expvar"]);
        assert_eq!(options.ecs_version, "8.11.0");
    }

    #[test]
    fn preserve_original_tag_comes_first_and_tags_replace_defaults() {
        let options = Options {
            preserve_original_event: true,
            tags: vec!["prod".to_owned(), String::new()],
            ..Options::default()
        };
        assert_eq!(options.tags_for(Dataset::Heap), ["preserve_original_event", "prod"]);
        let only_empty = Options { tags: vec![String::new()], ..Options::default() };
        assert_eq!(only_empty.tags_for(Dataset::Expvar), ["forwarded", "golang-expvar"]);
    }

    #[test]
    fn dataset_names_parse() {
        assert_eq!("heap".parse(), Ok(Datasets::HEAP));
        assert_eq!("expvar".parse(), Ok(Datasets::EXPVAR));
        assert_eq!("all".parse(), Ok(Datasets::ALL));
        let err = "both".parse::<Datasets>().unwrap_err();
        assert_eq!(err.to_string(), r#"unknown dataset "both": heap, expvar or all"#);
    }

    #[test]
    fn namespaces_elasticsearch_refuses_are_errors() {
        assert!(check(&with_namespace("prod_eu1")).is_ok());
        for bad in ["", "Prod", "prod-eu", "a:b", "a b"] {
            let err = check(&with_namespace(bad)).unwrap_err();
            assert!(err.to_string().starts_with("invalid namespace"), "{bad:?}: {err}");
        }
        assert!(check(&with_namespace(&"a".repeat(100))).is_ok());
        let err = check(&with_namespace(&"a".repeat(101))).unwrap_err();
        assert!(err.to_string().contains("101 bytes"), "{err}");
    }

    #[test]
    fn no_dataset_is_an_error() {
        let options =
            Options { datasets: Datasets { heap: false, expvar: false }, ..Options::default() };
        assert!(check(&options).is_err());
    }
}
