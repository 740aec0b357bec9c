//! `cargo xtask <command>`: the builds cargo alone cannot express. Run `cargo xtask help`.
//!
//! One module a job: `wasm` (the WebAssembly builds and their import checks), `test` (every
//! test), `dist`, `playground` (the browser playground's site), `serve`, `bless`, `fluent_bit`
//! (the benchmark in a real Fluent Bit).

mod background;
mod bless;
mod dist;
mod fluent_bit;
mod fuzz;
mod playground;
mod serve;
mod test;
mod unify;
mod wasm;

use std::process::Command;

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::{built_component_path, fixtures, root};

const HELP: &str = "\
cargo xtask <command>

Commands:
  build   Build the WebAssembly component (wasm32-unknown-unknown, the wasm-release profile),
          encoded with no imports, into target/component/expvar-heap.wasm, and the Fluent Bit
          and Redpanda Connect modules into target/modules/ (the CLI embeds that component)
  demo    Build the component, then run `expvar-heap transform` on a bundled sequence of real
          /debug/vars bodies (Go 1.19, a busy program) and print the events
  test    Build the component, run every test of the workspace and the component's tests in Node
          (jco) and Python (wasmtime-py), installing their packages on first use, check
          formatting (rustfmt) and lints (clippy, warnings as errors), then run each fuzz target
          for 20 s (EXPVAR_HEAP_FUZZ_SECONDS changes it)
  bench   Build the component and the pipeline modules, then print, per real Go fixture body,
          µs per body (native, serde_json's skip-only floor, the component in wasmtime, the
          Fluent Bit module in the wasmi interpreter) and WebAssembly instructions per byte
          (wasmtime fuel) for the component and both modules, with their sizes
  bench-fluent-bit
          Run the real fixture bodies through a Fluent Bit built from source (none, a LuaJIT
          filter with the same mapping, the module as .wasm and, given flb-wamrc, as .aot),
          check that the module's events match the Lua filter's, and print CPU seconds per case
          and ratios: cargo xtask bench-fluent-bit --fluent-bit PATH [--wamrc PATH]
          [--records N] [--runs R] [--exclude FOLDER,... | --all] (--help: what it needs and
          does; the custom fixtures are left out unless --all).
          CI does not run it
  fuzz    Run each coverage-guided fuzz target of fuzz/ (the reader against serde_json, events,
          collectors, the Fluent Bit module through wasmtime) for SECONDS (default 300), its
          corpus seeded from the fixtures: cargo xtask fuzz [SECONDS]. Needs cargo-fuzz and the
          nightly toolchain
  dist    Build the component, the release CLI (with the component embedded), the pipeline
          modules, the browser playground (dist/playground/, a static site) and the index
          templates (dist/elasticsearch/, dist/opensearch/) into dist/
  serve   Build the browser playground into dist/playground/ and serve it on
          http://127.0.0.1:8080 (another port: cargo xtask serve PORT)
  bless   Rewrite the expected events beside every fixture from the native library's output,
          and the index templates' golden files (review the diff before committing it)
  help    Show this text
";

fn main() -> Result<()> {
    if let Some(wrapped) = fuzz::rustc_wrapper() {
        return wrapped;
    }
    let command = std::env::args().nth(1).unwrap_or_else(|| "help".to_owned());
    match command.as_str() {
        "build" => wasm::build().map(drop),
        "demo" => demo(),
        "test" => test::test(),
        "bench" => bench(),
        "bench-fluent-bit" => fluent_bit::bench(&std::env::args().skip(2).collect::<Vec<_>>()),
        "dist" => dist::dist(),
        "fuzz" => {
            let seconds = std::env::args().nth(2).map(|s| s.parse()).transpose()?.unwrap_or(300);
            wasm::build()?;
            fuzz::fuzz(seconds)
        }
        "bless" => bless::bless(),
        "serve" => serve::serve(),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}

/// A cargo command run from the repository's root. It names the built component in
/// `EXPVAR_HEAP_COMPONENT`, so that a CLI built by it embeds the component just built.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root()).env("EXPVAR_HEAP_COMPONENT", built_component_path());
    command
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

fn bench() -> Result<()> {
    wasm::build()?;
    run(cargo().args(["bench", "--package", "expvar-heap-host-test", "--bench", "per_body"]))
}

fn demo() -> Result<()> {
    wasm::build()?;
    let bodies = fixtures::demo_sequence()?;
    eprintln!("transforming {} bodies of {}", bodies.len(), fixtures::DEMO_DIR);
    run(cargo()
        .args(["run", "--quiet", "--package", "expvar-heap-cli", "--", "transform"])
        .args(&bodies))
}
