//! `cargo xtask <command>`: the builds cargo alone cannot express. Run `cargo xtask help`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use expvar_heap_host::{
    FLUENT_BIT_MODULE_FILE, REDPANDA_MODULE_FILE, built_component_path, built_module_path,
    fixtures, root,
};

const HELP: &str = "\
cargo xtask <command>

Commands:
  build   Build the WebAssembly component (wasm32-unknown-unknown, the wasm-release profile),
          encoded with no imports, into target/component/expvar-heap.wasm, and the Fluent Bit
          and Redpanda Connect modules into target/modules/
  demo    Build the component, then run `expvar-heap transform` on a bundled sequence of real
          /debug/vars bodies (Go 1.19, a busy program) and print the events
  test    Build the component, run every test of the workspace and the component's tests in Node
          (jco) and Python (wasmtime-py), installing their packages on first use, then check
          formatting (rustfmt) and lints (clippy, warnings as errors)
  dist    Build the release CLI, the component, the pipeline modules and the browser playground
          (dist/playground/, a static site) into dist/
  serve   Build the browser playground into dist/playground/ and serve it on
          http://127.0.0.1:8080 (another port: cargo xtask serve PORT)
  bless   Rewrite the expected events beside every fixture from the native library's output
          (review the diff before committing it)
  help    Show this text
";

fn main() -> Result<()> {
    let command = std::env::args().nth(1).unwrap_or_else(|| "help".to_owned());
    match command.as_str() {
        "build" => build_component().map(drop),
        "demo" => demo(),
        "test" => test(),
        "dist" => dist(),
        "bless" => bless(),
        "serve" => serve(),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}

/// Cargo's target folder, where it builds the core module and the CLI.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root());
    command
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// The crates built for wasm32-unknown-unknown by `build` (the playground's is built on its own).
const WASM_PACKAGES: [&str; 3] =
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
            "wasi_snapshot_preview1.clock_time_get",
        ],
    ),
];

/// Builds the WebAssembly crates (wasm32-unknown-unknown, profile wasm-release), encodes the
/// component (which must import nothing) and copies the pipeline modules (which may import only
/// what their host provides); returns the paths written, the component first.
fn build_component() -> Result<Vec<PathBuf>> {
    eprintln!(
        "building the component and the pipeline modules (wasm32-unknown-unknown, wasm-release)"
    );
    let mut build = cargo();
    build.args(["build", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"]);
    for package in WASM_PACKAGES {
        build.args(["--package", package]);
    }
    run(&mut build)?;
    let built = target_dir().join("wasm32-unknown-unknown/wasm-release");
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

fn demo() -> Result<()> {
    build_component()?;
    let bodies = fixtures::demo_sequence()?;
    eprintln!("transforming {} bodies of {}", bodies.len(), fixtures::DEMO_DIR);
    run(cargo()
        .args(["run", "--quiet", "--package", "expvar-heap-host", "--", "transform"])
        .args(&bodies))
}

fn test() -> Result<()> {
    build_component()?;
    build_playground(&target_dir().join("playground"))?;
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
    for package in WASM_PACKAGES {
        wasm_lints.args(["--package", package]);
    }
    run(wasm_lints.args(["--", "-D", "warnings"]))
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

fn dist() -> Result<()> {
    let wasm = build_component()?;
    build_playground(&root().join("dist/playground"))?;
    eprintln!("building the release CLI");
    run(cargo().args(["build", "--release", "--locked", "--package", "expvar-heap-host"]))?;
    let dist = root().join("dist");
    std::fs::create_dir_all(&dist)?;
    let cli = target_dir().join("release/expvar-heap");
    for from in wasm.iter().chain([&cli]) {
        let name = from.file_name().unwrap().to_string_lossy();
        let to = dist.join(&*name);
        std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
        eprintln!("dist/{name}: {} bytes", std::fs::metadata(&to)?.len());
    }
    Ok(())
}

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
fn build_playground(out: &std::path::Path) -> Result<()> {
    eprintln!("building the playground into {}", out.display());
    run(cargo().args([
        "build",
        "--package",
        "expvar-heap-web",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
    ]))?;
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out.join("samples"))?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(target_dir().join("wasm32-unknown-unknown/wasm-release/expvar_heap_web.wasm"))
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
    let mut index = String::from("[");
    for (i, (name, files)) in SAMPLES.iter().enumerate() {
        let mut copied = Vec::new();
        for file in *files {
            let flat = file.replace('/', "-");
            std::fs::copy(fixtures::root_fixture(file), out.join("samples").join(&flat))?;
            copied.push(format!("{flat:?}"));
        }
        let comma = if i > 0 { "," } else { "" };
        index.push_str(&format!(
            "{comma}\n  {{\"name\": {name:?}, \"files\": [{}]}}",
            copied.join(", ")
        ));
    }
    index.push_str("\n]\n");
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
fn site_size(dir: &std::path::Path) -> Result<(usize, u64)> {
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

/// Serves dist/playground on loopback until interrupted.
fn serve() -> Result<()> {
    let port: u16 = std::env::args().nth(2).map(|p| p.parse()).transpose()?.unwrap_or(8080);
    let site = root().join("dist/playground");
    build_playground(&site)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).with_context(|| {
        format!("cannot listen on 127.0.0.1:{port} (another port: cargo xtask serve PORT)")
    })?;
    eprintln!("serving the playground on http://127.0.0.1:{port}/ (Ctrl-C stops)");
    for stream in listener.incoming() {
        if let Err(e) = serve_one(&site, stream?) {
            eprintln!("request failed: {e:#}");
        }
    }
    Ok(())
}

/// Answers one GET with a file of the site (no directory listing, nothing outside the site).
fn serve_one(site: &std::path::Path, mut stream: std::net::TcpStream) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let mut request = String::new();
    BufReader::new(&stream).read_line(&mut request)?;
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/").trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = site.join(path);
    let found = !path.split('/').any(|part| part == "..") && file.is_file();
    let (status, body) = if found {
        ("200 OK", std::fs::read(&file)?)
    } else {
        ("404 Not Found", b"not found".to_vec())
    };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "text/plain",
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    Ok(())
}

fn bless() -> Result<()> {
    let cases = fixtures::cases()?;
    let mut changed = 0;
    for case in &cases {
        let expected = fixtures::native_events(&case.input)?;
        if std::fs::read_to_string(&case.expected).ok().as_deref() != Some(expected.as_str()) {
            std::fs::write(&case.expected, &expected)?;
            eprintln!("wrote {}", case.expected.display());
            changed += 1;
        }
    }
    eprintln!("{} fixtures, {changed} expected files rewritten", cases.len());
    Ok(())
}
