//! `cargo xtask dist`: what a user downloads, in `dist/`.

use anyhow::{Context, Result};
use expvar_heap::templates::{Target, templates};
use expvar_heap_test_support::{root, target_dir};

use crate::{cargo, playground, run, wasm};

pub fn dist() -> Result<()> {
    let wasm = wasm::build()?;
    playground::build(&root().join("dist/playground"))?;
    eprintln!("building the release CLI, with the component embedded");
    run(cargo().args(["build", "--release", "--locked", "--package", "expvar-heap-cli"]))?;
    let dist = root().join("dist");
    std::fs::create_dir_all(&dist)?;
    let cli = target_dir().join("release/expvar-heap");
    for from in wasm.iter().chain([&cli]) {
        let name = from.file_name().unwrap().to_string_lossy();
        let to = dist.join(&*name);
        std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
        eprintln!("dist/{name}: {} bytes", std::fs::metadata(&to)?.len());
    }
    for target in Target::ALL {
        let folder = dist.join(target.name());
        let _ = std::fs::remove_dir_all(&folder);
        for template in templates(target) {
            let path = folder.join(format!("{}.json", template.path()));
            std::fs::create_dir_all(path.parent().unwrap())?;
            std::fs::write(&path, template.to_json())?;
            eprintln!("dist/{}/{}.json", target.name(), template.path());
        }
    }
    Ok(())
}
