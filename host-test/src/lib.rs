//! The wasmtime host of the `golang:expvar/processor` component, and the conventions of the
//! repository's fixtures. The `expvar-heap` command-line tool (`src/main.rs`) is built on it.

use std::path::{Path, PathBuf};

pub mod component;
pub mod fixtures;
pub mod pipelines;

/// The file name of the component, in `dist/` and under `target/component/`.
pub const COMPONENT_FILE: &str = "expvar-heap.wasm";

/// The repository's root (where this crate was built from).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where `cargo xtask build` writes the component.
pub fn built_component_path() -> PathBuf {
    root().join("target/component").join(COMPONENT_FILE)
}

/// The Fluent Bit `filter_wasm` module's file name, in `dist/` and under `target/modules/`.
pub const FLUENT_BIT_MODULE_FILE: &str = "expvar-heap-fluent-bit.wasm";

/// The Redpanda Connect `wasm` processor module's file name, in `dist/` and under `target/modules/`.
pub const REDPANDA_MODULE_FILE: &str = "expvar-heap-redpanda.wasm";

/// Where `cargo xtask build` writes a pipeline module.
pub fn built_module_path(file: &str) -> PathBuf {
    root().join("target/modules").join(file)
}
