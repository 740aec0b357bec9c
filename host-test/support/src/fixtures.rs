//! The conventions of `fixtures/`: where inputs and expected events live, and the time and options
//! their expected events were made with. Shared by the tests and `cargo xtask bless`.
//!
//! Every input is a file ending in `.json` (a real `/debug/vars` body) or `.body` (a hand-made bad
//! one) below `fixtures/go*/` or `fixtures/bad/`; beside it, `<name>.expected.ndjson` holds its
//! events: the `golang.heap` event, then the `golang.expvar` one, one line each.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use expvar_heap::{CollectionTime, Datasets, Event, Options, ValidOptions};

use crate::root;

/// The collection time of every expected event: 2026-01-01T00:00:00Z.
pub const BLESS_TIME: CollectionTime = CollectionTime { seconds: 1_767_225_600, nanoseconds: 0 };

/// The bundled default that `cargo xtask demo` runs: a busy Go 1.19 program, several bodies in
/// sequence.
pub const DEMO_DIR: &str = "fixtures/go1.19/alloc";

/// The options of every expected event: the defaults, with both datasets.
pub fn bless_options() -> ValidOptions {
    Options { datasets: Datasets::ALL, ..Options::default() }.validate().expect("valid options")
}

/// One input and the file of its expected events.
#[derive(Debug)]
pub struct Case {
    pub input: PathBuf,
    pub expected: PathBuf,
}

impl Case {
    /// The input's path below `fixtures/`, for messages.
    pub fn name(&self) -> String {
        let fixtures = root().join("fixtures");
        self.input.strip_prefix(&fixtures).unwrap_or(&self.input).display().to_string()
    }
}

/// Every input under `fixtures/`, sorted by path.
pub fn cases() -> Result<Vec<Case>> {
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(root().join("fixtures"))? {
        let dir = entry?.path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if dir.is_dir() && (name.starts_with("go") || name == "bad") {
            collect_inputs(&dir, &mut inputs)?;
        }
    }
    inputs.sort();
    Ok(inputs
        .into_iter()
        .map(|input| {
            let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
            let expected = input.with_file_name(format!("{stem}.expected.ndjson"));
            Case { input, expected }
        })
        .collect())
}

fn collect_inputs(dir: &Path, inputs: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_inputs(&path, inputs)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "body")) {
            inputs.push(path);
        }
    }
    Ok(())
}

/// The events the native library makes of an input with [`BLESS_TIME`] and [`bless_options`], as
/// the text of an expected file.
pub fn native_events(input: &Path) -> Result<String> {
    let body = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let events = expvar_heap::transform(&body, BLESS_TIME, &bless_options());
    Ok(events_text(&events))
}

/// Events as the lines of an NDJSON file.
pub fn events_text(events: &[Event]) -> String {
    events.iter().map(|event| format!("{}\n", event.json)).collect()
}

/// The bodies `cargo xtask demo` transforms, in sequence.
pub fn demo_sequence() -> Result<Vec<PathBuf>> {
    let mut bodies: Vec<PathBuf> = std::fs::read_dir(root().join(DEMO_DIR))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    bodies.retain(|p| p.extension().is_some_and(|e| e == "json"));
    bodies.sort();
    Ok(bodies)
}

/// A file below `fixtures/`.
pub fn root_fixture(path: &str) -> PathBuf {
    root().join("fixtures").join(path)
}

/// The real fixtures as sequences, one per folder (one process each), each in order; the bad
/// inputs come as one folder too, though they are no sequence.
pub fn sequences() -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut by_folder: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for case in cases()? {
        let folder = case.input.parent().unwrap().display().to_string();
        by_folder.entry(folder).or_default().push(case.input);
    }
    Ok(by_folder.into_iter().collect())
}
