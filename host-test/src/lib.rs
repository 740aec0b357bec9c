//! The test host's harnesses: the pipeline modules driven through wasmtime exactly as Fluent Bit
//! and Redpanda Connect drive them (neither can be installed here). The tests of `tests/` use
//! them, with the component run by `expvar-heap-wasmtime` and the fixtures of
//! `expvar-heap-test-support`.

pub mod pipelines;
