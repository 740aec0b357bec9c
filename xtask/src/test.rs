//! `cargo xtask test`: every test of the workspace, the component in Node (jco) and Python
//! (wasmtime-py), the playground in Chromium, then formatting and lints.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use expvar_heap_test_support::{root, target_dir};

use crate::{cargo, fuzz, playground, run, unify, wasm};

pub fn test() -> Result<()> {
    let mut phases = Phases::default();
    let result = every_test(&mut phases);
    phases.print(result.is_ok());
    result
}

fn every_test(phases: &mut Phases) -> Result<()> {
    phases.run("one build of wasmtime for every selection (unit graphs)", unify::check)?;
    // The fuzz targets are built by the nightly toolchain into fuzz/target, sharing nothing with
    // the builds below: started now, beside them, the build fills their gaps (links, tests that
    // wait on live services, npm and pip) instead of adding its own time at the end.
    let fuzz_build = phases.run("fuzz build started", fuzz::start_build)?;
    phases.run("WebAssembly builds (component, modules)", || wasm::build().map(drop))?;
    phases.run("playground build", || playground::build(&target_dir().join("playground")))?;
    phases.run("cargo test --workspace (build and run)", || {
        run(cargo().args(["test", "--workspace", "--locked"]))
    })?;
    // The core's variant for WAMR's interpreter, which only the Fluent Bit module is built with:
    // its own tests (the scans, the reader, the collector) in that build too.
    phases.run("core tests with --cfg expvar_heap_slow_ctz", || {
        run(wasm::slow_ctz_cargo().args(["test", "--locked", "--package", "expvar-heap", "--lib"]))
    })?;
    phases.run("Node (jco) and Chromium tests", test_node)?;
    phases.run("Python (wasmtime-py) tests", test_python)?;
    phases.run("rustfmt", || run(cargo().args(["fmt", "--all", "--", "--check"])))?;
    phases.run("clippy (workspace, all targets)", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // The modules' ABI code is compiled for WebAssembly only.
    phases.run("clippy (wasm32 crates)", || {
        let mut wasm_lints = cargo();
        wasm_lints.args(["clippy", "--locked", "--target", "wasm32-unknown-unknown"]);
        for package in wasm::WASM_PACKAGES {
            wasm_lints.args(["--package", package]);
        }
        run(wasm_lints.args(["--", "-D", "warnings"]))
    })?;
    phases.run("fuzz build (what was left of it)", || fuzz_build.wait())?;
    let seconds = match std::env::var("EXPVAR_HEAP_FUZZ_SECONDS") {
        Ok(seconds) => seconds.parse().context("EXPVAR_HEAP_FUZZ_SECONDS: a number of seconds")?,
        Err(_) => fuzz::TEST_SECONDS,
    };
    phases.run("fuzz runs", || fuzz::fuzz(seconds))
}

/// The wall time of each phase of a run, printed at its end (and as each ends), so that where the
/// time of a run goes is in its log.
#[derive(Default)]
struct Phases {
    done: Vec<(&'static str, Duration)>,
    started: Option<Instant>,
}

impl Phases {
    fn run<T>(&mut self, name: &'static str, phase: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Instant::now();
        self.started.get_or_insert(started);
        eprintln!("== {name}");
        let result = phase();
        let took = started.elapsed();
        eprintln!(
            "== {name}: {:.0} s{}",
            took.as_secs_f64(),
            if result.is_ok() { "" } else { ", failed" }
        );
        self.done.push((name, took));
        result.with_context(|| format!("in the phase \"{name}\""))
    }

    fn print(&self, passed: bool) {
        eprintln!(
            "\ncargo xtask test, wall time per phase ({}):",
            if passed { "passed" } else { "failed" }
        );
        for (name, took) in &self.done {
            eprintln!("  {:>6.0} s  {name}", took.as_secs_f64());
        }
        if let Some(started) = self.started {
            eprintln!("  {:>6.0} s  in all", started.elapsed().as_secs_f64());
        }
    }
}

/// The component from JavaScript (jco, in Node) and Python (the `wasmtime` package), each
/// installed on first use: npm packages under `host-test/js/node_modules`, a virtualenv under
/// `target/py-venv`.
fn test_node() -> Result<()> {
    let js = root().join("host-test/js");
    if !js.join("node_modules").is_dir() {
        eprintln!("installing the npm packages of host-test/js (npm ci)");
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&js))
            .context("Node.js and npm are needed for the JavaScript host tests")?;
    }
    eprintln!("testing the component in Node (jco)");
    run(Command::new("node").arg("--test").current_dir(&js))
}

fn test_python() -> Result<()> {
    let venv = target_dir().join("py-venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        eprintln!("creating {} with host-test/python/requirements.txt", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
            .context("python3 with venv is needed for the Python host tests")?;
        run(Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(root().join("host-test/python/requirements.txt")))?;
    }
    eprintln!("testing the component in Python (wasmtime-py)");
    run(Command::new(&python).args(["-m", "pytest", "-q", "host-test/python"]).current_dir(root()))
}
