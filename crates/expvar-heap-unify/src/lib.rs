//! No code. This crate's `Cargo.toml` names the features of wasmtime's dependencies that the whole
//! workspace turns on, so that every cargo command that builds wasmtime resolves them alike and
//! reuses one build of it (see the comment there).
