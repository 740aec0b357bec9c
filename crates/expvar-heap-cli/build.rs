//! Embeds the component in the binary, so that the program copied alone to another machine runs
//! it. `cargo xtask` builds the component first and names it in `EXPVAR_HEAP_COMPONENT`; without
//! that, the component where `cargo xtask build` writes it is taken, if it is there. With none,
//! the binary embeds nothing and runs the library natively (saying so).

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
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("component.wasm");
    std::fs::write(out, bytes).expect("writing the embedded component");
}
