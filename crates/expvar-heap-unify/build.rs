//! Nothing to build: this script exists so that the crate's `[build-dependencies]` (the features
//! proc-macros need of `syn`, compiled for the host) take part in feature resolution.

fn main() {}
