//! Embeds the component in the binary, so that the program copied alone to another machine runs
//! it. `cargo xtask` builds the component first and names it in `EXPVAR_HEAP_COMPONENT`; without
//! that, the component where `cargo xtask build` writes it is taken, if it is there. With none,
//! the binary embeds nothing and runs the library natively (saying so).
//!
//! Beside it, `cargo xtask build` writes the component compiled ahead of time for the machine it
//! runs on (`expvar-heap.cwasm`, by the same wasmtime): embedded too when this build is for that
//! machine's target, so that the program starts in milliseconds. The program checks at start
//! that it fits (the same component, wasmtime, configuration and CPU) and compiles the component
//! itself when it does not.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=EXPVAR_HEAP_COMPONENT");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    let component = match std::env::var_os("EXPVAR_HEAP_COMPONENT") {
        Some(path) => PathBuf::from(path),
        None => {
            let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest.join("../../target"));
            target.join("component/expvar-heap.wasm")
        }
    };
    println!("cargo::rerun-if-changed={}", component.display());
    let bytes = std::fs::read(&component).unwrap_or_default();
    if bytes.is_empty() {
        println!(
            "cargo::warning=no component at {}: this expvar-heap embeds none and runs natively (build with `cargo xtask build` first)",
            component.display()
        );
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(out.join("component.wasm"), &bytes).expect("writing the embedded component");

    let precompiled = component.with_extension("cwasm");
    println!("cargo::rerun-if-changed={}", precompiled.display());
    let for_this_machine = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    let precompiled = match std::fs::read(&precompiled) {
        Ok(code) if for_this_machine && !bytes.is_empty() => code,
        _ => Vec::new(),
    };
    std::fs::write(out.join("component.cwasm"), precompiled)
        .expect("writing the embedded precompiled component");
}
