//! What the tests, the benchmarks and `cargo xtask` share about this repository: where fixtures
//! and built artifacts are, the cases and their expected events, and Elastic's conformance tests.
//! It has no wasmtime in it, so that `cargo xtask` builds quickly, and it is never shipped: the
//! source paths below are this checkout's.

use std::path::{Path, PathBuf};

pub mod conformance;
pub mod fixtures;

/// The file name of the component, in `dist/` and under `target/component/`.
pub const COMPONENT_FILE: &str = "expvar-heap.wasm";

/// The Fluent Bit `filter_wasm` module's file name, in `dist/` and under `target/modules/`.
pub const FLUENT_BIT_MODULE_FILE: &str = "expvar-heap-fluent-bit.wasm";

/// The Redpanda Connect `wasm` processor module's file name, in `dist/` and under `target/modules/`.
pub const REDPANDA_MODULE_FILE: &str = "expvar-heap-redpanda.wasm";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

/// Cargo's target folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// Where `cargo xtask build` writes the component.
pub fn built_component_path() -> PathBuf {
    target_dir().join("component").join(COMPONENT_FILE)
}

/// Where `cargo xtask build` writes a pipeline module.
pub fn built_module_path(file: &str) -> PathBuf {
    target_dir().join("modules").join(file)
}

/// The golden files of the index templates: `fixtures/templates/<target>/<endpoint>/<name>.json`.
pub fn template_path(target: &str, path: &str) -> PathBuf {
    root().join("fixtures/templates").join(target).join(format!("{path}.json"))
}

/// The component `cargo xtask build` wrote, read once; tests that run it need it (`cargo xtask
/// test` builds it first), so a missing one is a failure with advice, never a skip.
pub fn component_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let path = built_component_path();
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build it with `cargo xtask build` (or run `cargo xtask test`)",
                path.display()
            )
        })
    })
}
