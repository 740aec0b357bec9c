//! The check that every cargo command of the project builds wasmtime alike: `cargo xtask` (xtask
//! alone), `cargo run -p expvar-heap-cli` (the CLI alone, `cargo xtask demo`) and `cargo test
//! --workspace` must resolve wasmtime and everything it depends on with the same features and
//! profiles, or each compiles wasmtime and cranelift again. Read from cargo's unit graph
//! (`--unit-graph`, of this cargo itself, let out of its stability gate with `RUSTC_BOOTSTRAP=1`
//! for this reading only: a newer cargo resolves host dependencies otherwise); what differs is
//! named, to add to `crates/expvar-heap-unify/Cargo.toml`.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::root;
use serde_json::Value;

/// The selections compared, by name.
const SELECTIONS: [(&str, &[&str]); 3] = [
    ("cargo xtask (xtask alone)", &["--package", "xtask"]),
    ("cargo run -p expvar-heap-cli", &["--package", "expvar-heap-cli"]),
    ("cargo test --workspace --all-targets", &["--workspace", "--all-targets"]),
];

/// Each unit wasmtime is built from: package, target, mode, features and profile (a package built
/// for the host and for the target is two units when they differ).
type Closure = BTreeSet<String>;

pub fn check() -> Result<()> {
    eprintln!("checking that every selection builds wasmtime alike (cargo --unit-graph)");
    let mut closures = Vec::new();
    for (name, args) in SELECTIONS {
        closures.push((
            name,
            wasmtime_closure(args).with_context(|| format!("the unit graph of {name}"))?,
        ));
    }
    let (first, reference) = &closures[0];
    let mut differences = Vec::new();
    for (name, closure) in &closures[1..] {
        for unit in reference.difference(closure) {
            differences.push(format!("only for {first}: {unit}"));
        }
        for unit in closure.difference(reference) {
            differences.push(format!("only for {name}: {unit}"));
        }
    }
    if !differences.is_empty() {
        bail!(
            "these selections build wasmtime's dependencies differently, so each compiles \
             wasmtime again; add the missing features to crates/expvar-heap-unify/Cargo.toml:\n{}",
            differences.join("\n")
        );
    }
    eprintln!("one build of wasmtime serves all {} selections", SELECTIONS.len());
    Ok(())
}

fn wasmtime_closure(args: &[&str]) -> Result<Closure> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["build", "-Z", "unstable-options", "--unit-graph", "--locked"])
        .args(args)
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(root())
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let graph: Value = serde_json::from_slice(&output.stdout)?;
    let units = graph["units"].as_array().context("no units")?;
    let is_wasmtime = |unit: &Value| {
        unit["target"]["name"] == "wasmtime"
            && unit["mode"] == "build"
            && unit["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "lib"))
    };
    let mut stack: Vec<usize> = (0..units.len()).filter(|&i| is_wasmtime(&units[i])).collect();
    if stack.is_empty() {
        bail!("wasmtime is not in this selection");
    }
    let mut closure = Closure::new();
    let mut seen = BTreeSet::new();
    while let Some(i) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        let unit = &units[i];
        let package = unit["pkg_id"].as_str().unwrap_or_default();
        let package = package.rsplit('#').next().unwrap_or(package);
        // The profile's name (dev, test) is no difference; its settings are.
        let mut profile = unit["profile"].clone();
        profile.as_object_mut().map(|p| p.remove("name"));
        closure.insert(format!(
            "{package} {} ({}), features {}, profile {profile}",
            unit["target"]["name"], unit["mode"], unit["features"]
        ));
        for dependency in unit["dependencies"].as_array().into_iter().flatten() {
            stack.extend(dependency["index"].as_u64().map(|i| i as usize));
        }
    }
    Ok(closure)
}
