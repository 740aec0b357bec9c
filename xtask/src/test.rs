//! `cargo xtask test`: every test of the workspace, the component in Node (jco) and Python
//! (wasmtime-py), the playground in Chromium, then formatting and lints.

use std::process::Command;

use anyhow::{Context, Result};
use expvar_heap_test_support::{root, target_dir};

use crate::{cargo, fuzz, playground, run, wasm};

pub fn test() -> Result<()> {
    wasm::build()?;
    playground::build(&target_dir().join("playground"))?;
    run(cargo().args(["test", "--workspace", "--locked"]))?;
    test_other_hosts()?;
    eprintln!("checking formatting and lints");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The modules' ABI code is compiled for WebAssembly only.
    let mut wasm_lints = cargo();
    wasm_lints.args(["clippy", "--locked", "--target", "wasm32-unknown-unknown"]);
    for package in wasm::WASM_PACKAGES {
        wasm_lints.args(["--package", package]);
    }
    run(wasm_lints.args(["--", "-D", "warnings"]))?;
    let seconds = match std::env::var("EXPVAR_HEAP_FUZZ_SECONDS") {
        Ok(seconds) => seconds.parse().context("EXPVAR_HEAP_FUZZ_SECONDS: a number of seconds")?,
        Err(_) => fuzz::TEST_SECONDS,
    };
    fuzz::fuzz(seconds)
}

/// The component from JavaScript (jco, in Node) and Python (the `wasmtime` package), each
/// installed on first use: npm packages under `host-test/js/node_modules`, a virtualenv under
/// `target/py-venv`.
fn test_other_hosts() -> Result<()> {
    let js = root().join("host-test/js");
    if !js.join("node_modules").is_dir() {
        eprintln!("installing the npm packages of host-test/js (npm ci)");
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&js))
            .context("Node.js and npm are needed for the JavaScript host tests")?;
    }
    eprintln!("testing the component in Node (jco)");
    run(Command::new("node").arg("--test").current_dir(&js))?;

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
