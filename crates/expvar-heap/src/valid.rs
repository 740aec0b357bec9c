//! Options checked once, and the parts of every event that depend on them alone, written once:
//! a body's event then copies them instead of building them field by field.

use std::borrow::Cow;

use crate::options::{Dataset, Options, OptionsError, check};
use crate::write::{EventWriter, Value};

/// [`Options`] that passed [`Options::validate`]: what the transform and the collector take, so
/// that no call checks them again. Read through it as through the options themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidOptions {
    options: Options,
    /// The envelopes of the datasets selected.
    heap: Option<Envelope>,
    expvar: Option<Envelope>,
}

impl Options {
    /// Checks the options against Elasticsearch's data stream naming rules and the transform's
    /// needs, once: what every transform then takes is the [`ValidOptions`] this returns.
    pub fn validate(self) -> Result<ValidOptions, OptionsError> {
        check(&self)?;
        Ok(ValidOptions::from_checked(self))
    }
}

/// The members of a dataset's events that the options alone decide, as JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// `data_stream` and `ecs`, which come after `@timestamp`.
    pub head: String,
    /// The members of `event` that come after `created`, up to `original`.
    pub event: String,
    /// `service` and `tags`, which come last.
    pub tail: String,
}

impl Envelope {
    fn new(options: &Options, dataset: Dataset) -> Envelope {
        let members = |entries: &[(&'static [&'static str], Value<'_>)]| {
            let mut writer = EventWriter::new();
            for &(path, value) in entries {
                writer.push(path, value);
            }
            let mut text = String::new();
            writer.write_members(&mut text);
            text
        };
        let tags = options.tags_for(dataset);
        let address = options.service_address.as_deref().unwrap_or_default();
        Envelope {
            head: members(&[
                (&["data_stream", "dataset"], Value::Str(dataset.name())),
                (&["data_stream", "namespace"], Value::Str(&options.namespace)),
                (&["data_stream", "type"], Value::Str("logs")),
                (&["ecs", "version"], Value::Str(&options.ecs_version)),
            ]),
            event: members(&[
                (&["dataset"], Value::Str(dataset.name())),
                (&["kind"], Value::Str("metric")),
                (&["module"], Value::Str("golang")),
            ]),
            tail: members(&[
                (&["service", "address"], Value::Str(address)),
                (&["tags"], Value::Strs(&tags)),
            ]),
        }
    }
}

impl ValidOptions {
    /// Options that `Options::validate` checked, with their envelopes written once.
    pub(crate) fn from_checked(options: Options) -> ValidOptions {
        ValidOptions {
            heap: options.datasets.heap.then(|| Envelope::new(&options, Dataset::Heap)),
            expvar: options.datasets.expvar.then(|| Envelope::new(&options, Dataset::Expvar)),
            options,
        }
    }

    /// The options themselves.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Back to plain options, to change them (and validate them again).
    pub fn into_options(self) -> Options {
        self.options
    }

    /// The envelope of a dataset's events (written now for a dataset not selected).
    pub(crate) fn envelope(&self, dataset: Dataset) -> Cow<'_, Envelope> {
        let rendered = match dataset {
            Dataset::Heap => &self.heap,
            Dataset::Expvar => &self.expvar,
        };
        match rendered {
            Some(envelope) => Cow::Borrowed(envelope),
            None => Cow::Owned(Envelope::new(&self.options, dataset)),
        }
    }
}

impl Default for ValidOptions {
    /// The integration's defaults, which are valid.
    fn default() -> Self {
        Options::default().validate().expect("the default options are valid")
    }
}

impl std::ops::Deref for ValidOptions {
    type Target = Options;

    fn deref(&self) -> &Options {
        &self.options
    }
}

impl TryFrom<Options> for ValidOptions {
    type Error = OptionsError;

    fn try_from(options: Options) -> Result<ValidOptions, OptionsError> {
        options.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_options() {
        assert_eq!(Options::default().validate(), Ok(ValidOptions::default()));
    }
}
