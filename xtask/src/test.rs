//! `cargo xtask test`: every test of the workspace, the component in Node (jco) and Python
//! (wasmtime-py), the playground in Chromium, then formatting and lints.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::{root, target_dir};

use crate::background::Background;
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
    // Clippy lints the workspace as the test build compiles it (one build of every dependency,
    // not a second, check-only one for `cargo clippy`): every target, the benches included, is
    // built and linted first, then the tests run on that same build.
    let clippy = clippy_driver()?;
    phases.run("workspace build, all targets, linted by clippy (warnings as errors)", || {
        run(linted(cargo(), &clippy).args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-run",
            "--locked",
        ]))
    })?;
    // The fleet's verdicts in Chromium take six minutes of scrapes, mostly waiting: started now
    // (the tool is built), beside the tests below, and waited for at the end.
    let fleet = phases.run("fleet test started (Chromium, about 6 min)", start_fleet_test)?;
    phases.run("cargo test --workspace (run)", || {
        run(linted(cargo(), &clippy).args(["test", "--workspace", "--locked"]))
    })?;
    // The core's variant for WAMR's interpreter, which only the Fluent Bit module is built with:
    // its own tests (the scans, the reader, the collector) in that build too.
    phases.run("core tests with --cfg expvar_heap_slow_ctz", || {
        run(wasm::slow_ctz_cargo().args(["test", "--locked", "--package", "expvar-heap", "--lib"]))
    })?;
    phases.run("Node (jco) and Chromium tests", test_node)?;
    phases.run("Python (wasmtime-py) tests", test_python)?;
    phases.run("rustfmt", || run(cargo().args(["fmt", "--all", "--", "--check"])))?;
    // The modules' ABI code is compiled for WebAssembly only.
    phases.run("clippy (wasm32 crates)", || {
        let mut wasm_lints = cargo();
        wasm_lints.args(["clippy", "--locked", "--target", "wasm32-unknown-unknown"]);
        for package in wasm::WASM_PACKAGES {
            wasm_lints.args(["--package", package]);
        }
        run(wasm_lints.args(["--", "-D", "warnings"]))
    })?;
    phases.run("fuzz build (what was left of it)", || fuzz_build.wait(false))?;
    let seconds = match std::env::var("EXPVAR_HEAP_FUZZ_SECONDS") {
        Ok(seconds) => seconds.parse().context("EXPVAR_HEAP_FUZZ_SECONDS: a number of seconds")?,
        Err(_) => fuzz::TEST_SECONDS,
    };
    phases.run("fuzz runs", || fuzz::fuzz(seconds))?;
    phases.run("fleet test (what was left of it)", || fleet.wait(true))
}

/// Starts host-test/js/fleet.slow.mjs: real Go services of every verdict, watched in Chromium.
fn start_fleet_test() -> Result<Background> {
    npm_packages()?;
    let mut node = Command::new("node");
    node.args(["--test", "fleet.slow.mjs"]).current_dir(root().join("host-test/js"));
    Background::start("the fleet test", node, "fleet-test.log")
}

/// The npm packages of host-test/js, installed on first use.
fn npm_packages() -> Result<()> {
    let js = root().join("host-test/js");
    if !js.join("node_modules").is_dir() {
        eprintln!("installing the npm packages of host-test/js (npm ci)");
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&js))
            .context("Node.js and npm are needed for the JavaScript host tests")?;
    }
    Ok(())
}

/// Clippy's compiler driver, beside the toolchain's rustc (the `clippy` component).
fn clippy_driver() -> Result<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(root())
        .output()
        .context("could not run rustc --print sysroot")?;
    let driver = PathBuf::from(String::from_utf8(out.stdout)?.trim()).join("bin/clippy-driver");
    if !driver.is_file() {
        bail!(
            "{} is missing: the lints need clippy (`rustup component add clippy`; \
             rust-toolchain.toml lists it)",
            driver.display()
        );
    }
    Ok(driver)
}

/// `command` with clippy's driver compiling the workspace's own crates, its lints' warnings as
/// errors, as `cargo clippy -- -D warnings` runs it (cargo-clippy sets these two variables;
/// `CLIPPY_ARGS` holds the arguments after `--`, each followed by `__CLIPPY_HACKERY__`). Unlike
/// `cargo clippy`, the build goes on to code generation, so the build that is linted is the one
/// that is tested; dependencies are compiled by rustc as always (cargo applies a workspace
/// wrapper to workspace members only).
fn linted(mut command: Command, driver: &Path) -> Command {
    command
        .env("RUSTC_WORKSPACE_WRAPPER", driver)
        .env("CLIPPY_ARGS", "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__");
    command
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
    npm_packages()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The linted build is a lint check only if a lint fails it: a crate with one of clippy's
    /// default warnings (a collapsible `if`) does not build, and builds once it is collapsed.
    #[test]
    fn a_clippy_warning_fails_the_linted_build() {
        let dir = target_dir().join(format!("lint-probe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"lint-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n[workspace]\n",
        )
        .unwrap();
        let build = |source: &str| {
            std::fs::write(dir.join("src/main.rs"), source).unwrap();
            let mut command = Command::new(env!("CARGO"));
            command.arg("build").arg("--quiet").current_dir(&dir);
            linted(command, &clippy_driver().unwrap()).output().unwrap()
        };
        let nested = "fn main() {\n    let n = std::env::args().count();\n    \
                      if n > 1 {\n        if n > 2 {\n            println!(\"{n}\");\n        }\n    }\n}\n";
        let flagged = build(nested);
        let stderr = String::from_utf8_lossy(&flagged.stderr);
        assert!(!flagged.status.success(), "a clippy warning passed the linted build");
        assert!(stderr.contains("clippy::collapsible_if"), "{stderr}");
        let collapsed = "fn main() {\n    let n = std::env::args().count();\n    \
                         if n > 2 {\n        println!(\"{n}\");\n    }\n}\n";
        let clean = build(collapsed);
        assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
