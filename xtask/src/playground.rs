//! The browser playground's static site: the wasm-bindgen output of expvar-heap-web, its page,
//! and the real sample bodies with their index (`samples/index.json`).

use std::path::Path;

use anyhow::{Context, Result};
use expvar_heap_test_support::{fixtures, root};

use crate::wasm;

/// The real bodies the playground offers, by name: (name, fixture files in order).
const SAMPLES: [(&str, &[&str]); 5] = [
    ("Go 1.19, idle program", &["go1.19/idle/01.json"]),
    (
        "Go 1.19, steady allocation (5 scrapes)",
        &[
            "go1.19/alloc/01.json",
            "go1.19/alloc/02.json",
            "go1.19/alloc/03.json",
            "go1.19/alloc/04.json",
            "go1.19/alloc/05.json",
        ],
    ),
    (
        "Go 1.22, hundreds of forced GCs (4 scrapes, the ring wraps)",
        &["go1.22/gc/01.json", "go1.22/gc/02.json", "go1.22/gc/03.json", "go1.22/gc/04.json"],
    ),
    (
        "Go 1.27, a restart between scrapes (5 scrapes)",
        &[
            "go1.27/restart/01.json",
            "go1.27/restart/02.json",
            "go1.27/restart/03.json",
            "go1.27/restart/04.json",
            "go1.27/restart/05.json",
        ],
    ),
    ("Go 1.27, 3,000 custom variables", &["go1.27/custom/01.json"]),
];

/// Builds the browser playground, a static site, into `out`: the wasm-bindgen output of
/// expvar-heap-web, its page, and the sample bodies.
pub fn build(out: &Path) -> Result<()> {
    eprintln!("building the playground into {}", out.display());
    let built = wasm::cargo_build_wasm(&["expvar-heap-web"])?;
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out.join("samples"))?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&built)
        .web(true)?
        .typescript(false)
        .out_name("expvar_heap_web")
        .generate(out)
        .context("wasm-bindgen")?;
    let www = root().join("crates/expvar-heap-web/www");
    for entry in std::fs::read_dir(&www)? {
        let path = entry?.path();
        std::fs::copy(&path, out.join(path.file_name().unwrap()))?;
    }
    let mut index = Vec::new();
    for (name, files) in SAMPLES {
        let mut copied = Vec::new();
        for file in files {
            let flat = file.replace('/', "-");
            std::fs::copy(fixtures::root_fixture(file), out.join("samples").join(&flat))?;
            copied.push(flat);
        }
        index.push(serde_json::json!({ "name": name, "files": copied }));
    }
    let index = serde_json::to_string_pretty(&index)? + "\n";
    std::fs::write(out.join("samples/index.json"), index)?;
    let (files, bytes) = site_size(out)?;
    let page: u64 =
        ["index.html", "app.js", "style.css", "expvar_heap_web.js", "expvar_heap_web_bg.wasm"]
            .iter()
            .map(|f| std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0))
            .sum();
    eprintln!(
        "playground: {files} files, {bytes} bytes with samples; the page itself {page} bytes"
    );
    Ok(())
}

/// The count and total size of the files below a folder.
fn site_size(dir: &Path) -> Result<(usize, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let (f, b) = site_size(&path)?;
            files += f;
            bytes += b;
        } else {
            files += 1;
            bytes += std::fs::metadata(&path)?.len();
        }
    }
    Ok((files, bytes))
}
