//! The core's modules import downward only (CONTRIBUTING.md, the crate's own docs): each has a
//! layer, and no module names one of its own layer or above, so no two modules import each other.
//! Read from the sources, comments left out.

use std::path::{Path, PathBuf};

/// Each module of `src/` and its layer: a module may import only modules of a lower one.
const LAYERS: [(&str, u8); 13] = [
    ("scan", 0),
    ("time", 0),
    ("options", 0),
    ("fields", 1),
    ("read", 2),
    ("write", 2),
    ("pause", 2),
    ("valid", 3),
    ("framing", 3),
    ("templates", 3),
    ("event", 4),
    ("collector", 5),
    ("lib", 6),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|&(_, layer)| layer)
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module a file of `src/` belongs to: `read/cursor/skip.rs` is `read`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The names `crate::NAME` in the code of `text` (comments left out).
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push((n + 1, name));
        }
    }
    found
}

#[test]
fn modules_import_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let own = layer(&module).unwrap_or_else(|| panic!("{module}: give it a layer in LAYERS"));
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in crate_paths(&text) {
            let shown = format!("{}:{line}", file.strip_prefix(&src).unwrap().display());
            match layer(&name) {
                Some(imported) if imported < own || name == module => {}
                Some(imported) => wrong.push(format!(
                    "{shown}: {module} (layer {own}) imports {name} (layer {imported})"
                )),
                // A name the crate's root re-exports hides which module it comes from.
                None => wrong.push(format!("{shown}: crate::{name}: name the module it is in")),
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_a_circle() {
    // framing <-> read, as it once was: read named framing's BODY_STRING_KEYS.
    let read = "use crate::framing::BODY_STRING_KEYS; // the keys\n/// [`crate::collector`]\n";
    assert_eq!(crate_paths(read), [(1, "framing".to_owned())]);
    assert!(layer("framing") >= layer("read"));
}
