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

/// The pipeline modules: (crate's file stem, file written, the imports it may have).
const MODULES: [(&str, &str, &[&str]); 2] = [
    ("expvar_heap_fluent_bit", FLUENT_BIT_MODULE_FILE, &[]),
    (
        "expvar_heap_redpanda",
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

/// The one build line of every WebAssembly crate: wasm32-unknown-unknown, profile wasm-release,
/// each crate's library as a `cdylib` only (the pipeline crates are rlibs too, for their tests,
/// and a crate built as both loses link-time optimisation: 25% larger). Returns the folder the
/// `.wasm` files are in.
pub fn cargo_build_wasm(packages: &[&str]) -> Result<PathBuf> {
    for package in packages {
        run(cargo().args([
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
    Ok(target_dir().join("wasm32-unknown-unknown/wasm-release"))
}

/// Builds the WebAssembly crates (wasm32-unknown-unknown, profile wasm-release), encodes the
/// component (which must import nothing) and copies the pipeline modules (which may import only
/// what their host provides); returns the paths written, the component first.
pub fn build() -> Result<Vec<PathBuf>> {
    eprintln!(
        "building the component and the pipeline modules (wasm32-unknown-unknown, wasm-release)"
    );
    let built = cargo_build_wasm(&WASM_PACKAGES)?;
    let module = std::fs::read(built.join("expvar_heap_component.wasm"))
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
    for (stem, file, allowed) in MODULES {
        let module = std::fs::read(built.join(format!("{stem}.wasm")))?;
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
