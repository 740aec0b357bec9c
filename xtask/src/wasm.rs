//! The WebAssembly builds: the component (encoded with wit-component, importing nothing), the
//! pipeline modules (importing only what their hosts give), and the playground's module; and the
//! checks of what each imports.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::{
    FLUENT_BIT_MODULE_FILE, REDPANDA_MODULE_FILE, built_component_path, built_module_path,
    target_dir,
};

use crate::{cargo, run};

/// The crates built for wasm32-unknown-unknown by `build` (the playground's is built on its own).
pub const WASM_PACKAGES: [&str; 3] =
    ["expvar-heap-component", "expvar-heap-fluent-bit", "expvar-heap-redpanda"];

/// The pipeline modules: (package, file written, the imports it may have).
const MODULES: [(&str, &str, &[&str]); 2] = [
    ("expvar-heap-fluent-bit", FLUENT_BIT_MODULE_FILE, &[]),
    (
        "expvar-heap-redpanda",
        REDPANDA_MODULE_FILE,
        &[
            "benthos_wasm.v0_msg_as_bytes",
            "benthos_wasm.v0_msg_set_bytes",
            "benthos_wasm.v0_msg_get_meta",
            "benthos_wasm.v0_msg_set_meta",
            "wasi_snapshot_preview1.clock_time_get",
        ],
    ),
];

/// The crate whose build sets `--cfg expvar_heap_slow_ctz` (the core's scans for WAMR's fast
/// interpreter, which runs `i64.ctz` as a loop over the bits): a choice of that build alone, in
/// its own target folder, so that no other build (the CLI's, the tests') compiles the core that way.
pub const SLOW_CTZ_PACKAGE: &str = "expvar-heap-fluent-bit";

/// The cfg [`SLOW_CTZ_PACKAGE`] is built with.
pub const SLOW_CTZ_CFG: &str = "expvar_heap_slow_ctz";

/// The target folder of a build with `--cfg expvar_heap_slow_ctz` (the Fluent Bit module's, and
/// the core's tests of that variant): apart, so that the flag never invalidates the other builds.
pub fn slow_ctz_target_dir() -> PathBuf {
    target_dir().join("slow-ctz")
}

/// A cargo command whose build sets `--cfg expvar_heap_slow_ctz`, in its own target folder.
pub fn slow_ctz_cargo() -> std::process::Command {
    let mut command = cargo();
    let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
    flags.push_str(&format!(" --cfg {SLOW_CTZ_CFG}"));
    command.env("RUSTFLAGS", flags.trim()).env("CARGO_TARGET_DIR", slow_ctz_target_dir());
    command
}

/// The one build line of every WebAssembly crate: wasm32-unknown-unknown, profile wasm-release,
/// each crate's library as a `cdylib` only (the pipeline crates are rlibs too, for their tests,
/// and a crate built as both loses link-time optimisation: 25% larger). Returns the folder the
/// `.wasm` file of the first package.
pub fn cargo_build_wasm(packages: &[&str]) -> Result<PathBuf> {
    for &package in packages {
        let mut command = if package == SLOW_CTZ_PACKAGE { slow_ctz_cargo() } else { cargo() };
        run(command.args([
            "rustc",
            "--locked",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
            "--package",
            package,
            "--lib",
            "--crate-type",
            "cdylib",
        ]))?;
    }
    Ok(built_wasm(packages[0]))
}

/// The `.wasm` file [`cargo_build_wasm`] writes for `package`.
pub fn built_wasm(package: &str) -> PathBuf {
    let target = if package == SLOW_CTZ_PACKAGE { slow_ctz_target_dir() } else { target_dir() };
    let stem = package.replace('-', "_");
    target.join("wasm32-unknown-unknown/wasm-release").join(format!("{stem}.wasm"))
}

/// Builds the WebAssembly crates (wasm32-unknown-unknown, profile wasm-release), encodes the
/// component (which must import nothing) and copies the pipeline modules (which may import only
/// what their host provides); returns the paths written, the component first.
pub fn build() -> Result<Vec<PathBuf>> {
    eprintln!(
        "building the component and the pipeline modules (wasm32-unknown-unknown, wasm-release)"
    );
    cargo_build_wasm(&WASM_PACKAGES)?;
    let module = std::fs::read(built_wasm("expvar-heap-component"))
        .context("reading the component's core module")?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .context("the core module has no component type section (from wit-bindgen)")?
        .validate(true)
        .encode()
        .context("encoding the component")?;
    let imports = component_imports(&component)?;
    if !imports.is_empty() {
        bail!("the component must import nothing, but imports {imports:?}");
    }
    let out = built_component_path();
    std::fs::create_dir_all(out.parent().unwrap())?;
    std::fs::write(&out, &component)?;
    eprintln!("wrote {} ({} bytes, no imports)", out.display(), component.len());
    // Compiled ahead of time for this machine, by the wasmtime the CLI links: the CLI embeds it
    // and starts in milliseconds instead of compiling the component on every run.
    let precompiled = expvar_heap_wasmtime::precompile(&component)
        .context("compiling the component ahead of time")?;
    let precompiled_path = out.with_extension("cwasm");
    std::fs::write(&precompiled_path, &precompiled)?;
    eprintln!("wrote {} ({} bytes)", precompiled_path.display(), precompiled.len());
    let mut written = vec![out];
    for (package, file, allowed) in MODULES {
        let module = std::fs::read(built_wasm(package))?;
        let imports = module_imports(&module)?;
        if let Some(extra) = imports.iter().find(|i| !allowed.contains(&i.as_str())) {
            bail!("{file} must not import {extra}");
        }
        let out = built_module_path(file);
        std::fs::create_dir_all(out.parent().unwrap())?;
        std::fs::write(&out, &module)?;
        eprintln!("wrote {} ({} bytes, imports {imports:?})", out.display(), module.len());
        written.push(out);
    }
    Ok(written)
}

/// The `module.name` of each import of a core module.
fn module_imports(module: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(section) = payload? {
            for imports in section {
                for import in imports? {
                    let (_, import) = import?;
                    names.push(format!("{}.{}", import.module, import.name));
                }
            }
        }
    }
    Ok(names)
}

/// The names a component imports, read from its binary (the outer component's own imports, not
/// those its inner modules and components satisfy among themselves).
fn component_imports(component: &[u8]) -> Result<Vec<String>> {
    use wasmparser::Payload;
    let mut names = Vec::new();
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    names.push(import?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
