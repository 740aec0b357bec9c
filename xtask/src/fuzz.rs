//! `cargo xtask fuzz [SECONDS]`: each coverage-guided fuzz target of `fuzz/` for a bounded time
//! (cargo fuzz, with the nightly toolchain), its corpus seeded from the fixtures and Elastic's
//! pipeline-test bodies.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::conformance::conformance_dir;

use crate::background::Background;
use expvar_heap_test_support::{fixtures, root, target_dir};

/// The targets of `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 5] = ["reader", "events", "collector", "counters", "fluent_bit"];

/// The targets whose input is a structure (`arbitrary`), not a body: their corpus is not seeded
/// with bodies.
const STRUCTURED: [&str; 1] = ["counters"];

/// How the targets are built, by the background build and by each run (the same flags, so that
/// the runs find the build done): no sanitizer (the targets check what they test themselves),
/// and 16 codegen units instead of cargo-fuzz's one, which compiled wasmtime and cranelift (the
/// Fluent Bit target runs the module in wasmtime) on one core for most of a CI run; the runs are
/// somewhat slower for it.
const BUILD_FLAGS: [&str; 4] = ["--sanitizer", "none", "--codegen-units", "16"];

/// Set (to the repository's root) in the environment of the fuzz builds, whose `RUSTC_WRAPPER` is
/// a copy of this program: it then runs as [`rustc_wrapper`], not as `cargo xtask`.
pub const WRAPPER_ENV: &str = "EXPVAR_HEAP_FUZZ_INSTRUMENT_UNDER";

/// The flags of cargo-fuzz (`project.rs`, `BuildOptions`-driven `cargo()` of cargo-fuzz 0.13:
/// `-Cpasses=sancov-module`, `-Cllvm-args=-sanitizer-coverage-*` and
/// `-Cllvm-args=-simplifycfg-branch-fold-threshold=0`) that add libFuzzer's coverage counters.
fn is_coverage_flag(arg: &str) -> bool {
    arg == "-Cpasses=sancov-module"
        || arg.starts_with("-Cllvm-args=-sanitizer-coverage")
        || arg == "-Cllvm-args=-simplifycfg-branch-fold-threshold=0"
}

/// The name of the rule [`wrapped_args`] follows: change it with the rule.
const COVERAGE_RULE: &str = "expvar-heap-fuzz-coverage-ours-and-serde-json";

/// The registry crates that keep their coverage counters: serde_json, the reference the `reader`
/// target compares against, reads every target's output, so its coverage tells outputs of
/// different shapes apart (the Fluent Bit target's module runs as machine code, with no counters
/// of its own).
const ALSO_INSTRUMENTED: [&str; 1] = ["serde_json"];

/// The arguments rustc gets from the wrapper: all of them for a crate whose source is under
/// `ours` (the repository) or named in [`ALSO_INSTRUMENTED`], the others without the coverage
/// flags. libFuzzer's coverage then guides through this repository's code: the registry's crates
/// (wasmtime and cranelift, which the Fluent Bit target links, above all) compile without the
/// counters, in less time, and their code is not what the targets test. Everything else
/// (`--cfg fuzzing`, debug assertions, overflow checks) applies to every crate alike.
pub fn wrapped_args(args: &[String], ours: &Path) -> Vec<String> {
    let crate_name = args.iter().skip_while(|arg| *arg != "--crate-name").nth(1);
    if crate_name.is_some_and(|name| ALSO_INSTRUMENTED.contains(&name.as_str())) {
        return args.to_vec();
    }
    let source = args.iter().find(|arg| !arg.starts_with('-') && arg.ends_with(".rs"));
    let is_ours = source.is_some_and(|source| {
        let path = Path::new(source);
        let path = if path.is_relative() {
            std::env::current_dir().unwrap_or_default().join(path)
        } else {
            path.to_path_buf()
        };
        path.canonicalize().unwrap_or(path).starts_with(ours)
    });
    args.iter().filter(|arg| is_ours || !is_coverage_flag(arg)).cloned().collect()
}

/// Runs as cargo's `RUSTC_WRAPPER` (`xtask RUSTC ARGS...`) when [`WRAPPER_ENV`] is set: rustc
/// with [`wrapped_args`], exiting as it exits.
pub fn rustc_wrapper() -> Option<Result<()>> {
    let ours = std::env::var_os(WRAPPER_ENV)?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let args: Vec<std::ffi::OsString> = args.collect();
    let ours = Path::new(&ours).canonicalize().unwrap_or_else(|_| ours.into());
    // Arguments that are not all UTF-8 (a path) pass as they are, coverage flags kept.
    let utf8: Option<Vec<String>> =
        args.iter().map(|arg| arg.to_str().map(str::to_owned)).collect();
    let mut rustc = Command::new(rustc);
    match utf8 {
        Some(utf8) => rustc.args(wrapped_args(&utf8, &ours)),
        None => rustc.args(&args),
    };
    let status = rustc.status();
    Some(match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => Err(anyhow::Error::new(e).context("could not start rustc")),
    })
}

/// `cargo +nightly fuzz SUBCOMMAND` with the flags of every build and run ([`BUILD_FLAGS`]) and
/// the wrapper that keeps coverage to this repository's crates: a copy of this program at
/// `target/fuzz-rustc-wrapper` (a copy, as `cargo test` may link `target/debug/xtask` again
/// while the fuzz build runs).
fn cargo_fuzz(subcommand: &str) -> Result<Command> {
    let wrapper = target_dir().join("fuzz-rustc-wrapper");
    let this = std::env::current_exe().context("where is this program")?;
    let same = |a: &Path, b: &Path| {
        std::fs::read(a).ok().zip(std::fs::read(b).ok()).is_some_and(|(a, b)| a == b)
    };
    if !same(&this, &wrapper) {
        std::fs::create_dir_all(target_dir())?;
        // A name of this process's own: two runs sharing a target folder never write one file.
        let partial = wrapper.with_extension(format!("partial-{}", std::process::id()));
        std::fs::copy(&this, &partial)
            .with_context(|| format!("copying {} to {}", this.display(), partial.display()))?;
        std::fs::rename(&partial, &wrapper)?;
    }
    let rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    let mut command = Command::new("cargo");
    command
        .args(["+nightly", "fuzz", subcommand])
        .args(BUILD_FLAGS)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("RUSTC_WRAPPER", &wrapper)
        .env(WRAPPER_ENV, root())
        // cargo-fuzz appends RUSTFLAGS to its own flags, and cargo builds again when they change,
        // but not when the wrapper does: this remapping matches no path and only names the
        // wrapper's rule, so that a build made without the wrapper (a plain `cargo fuzz`), or by
        // another rule, is not taken for this one.
        .env("RUSTFLAGS", format!("{rustflags} --remap-path-prefix=/{COVERAGE_RULE}=/").trim())
        .current_dir(root());
    Ok(command)
}

/// The seconds each target runs for in `cargo xtask test` (`EXPVAR_HEAP_FUZZ_SECONDS` changes it).
pub const TEST_SECONDS: u64 = 20;

/// Runs every target for `seconds`. A crash fails the run; its input is left under
/// `fuzz/artifacts/<target>/` (make it a regression test: see `fuzz/regressions/`).
pub fn fuzz(seconds: u64) -> Result<()> {
    check_installed()?;
    for target in TARGETS {
        let corpus = target_dir().join("fuzz-corpus").join(target);
        seed(&corpus, !STRUCTURED.contains(&target))?;
        eprintln!("fuzzing {target} for {seconds} s (corpus {})", corpus.display());
        let status = cargo_fuzz("run")?
            .arg(target)
            .arg(&corpus)
            // An input that runs over a minute is a finding (a hang), not a slow input.
            .args(["--", "-max_len=262144", "-rss_limit_mb=4096", "-timeout=60"])
            .arg(format!("-max_total_time={seconds}"))
            .status()
            .context("could not start cargo fuzz")?;
        if !status.success() {
            bail!(
                "fuzz target {target} failed ({status}): its input is under fuzz/artifacts/{target}/"
            );
        }
    }
    Ok(())
}

/// Elastic's pipeline-test logs, one body a line.
const LOGS: [&str; 3] = [
    "test-heap-metrics.log",
    "expvar/test-expvar-metrics.log",
    "gc-pause-pr4908/test-heap-metrics.log",
];

/// Fails, saying what to install, without cargo-fuzz or a nightly toolchain.
fn check_installed() -> Result<()> {
    let installed = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        bail!(
            "fuzzing needs cargo-fuzz and a nightly toolchain: `cargo install cargo-fuzz` \
             (.ci/run installs it)"
        );
    }
    Ok(())
}

/// Starts building every fuzz target in the background (as `cargo fuzz run` builds them, so that
/// the runs then find it done), its output to `target/fuzz-build.log`.
pub fn start_build() -> Result<Background> {
    check_installed()?;
    Background::start("building the fuzz targets", cargo_fuzz("build")?, "fuzz-build.log")
}

/// Seeds a corpus with the fuzz regressions and, when its target reads bodies, every fixture
/// body and each body of Elastic's pipeline tests, which are written with spaces between tokens,
/// unlike Go's. Inputs the corpus kept from earlier runs are left.
fn seed(corpus: &Path, bodies: bool) -> Result<()> {
    std::fs::create_dir_all(corpus)?;
    let logs = if bodies { &LOGS[..] } else { &[] };
    for log in logs {
        let path = conformance_dir().join(log);
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        for (i, body) in text.split(|&b| b == b'\n').filter(|line| !line.is_empty()).enumerate() {
            let name = format!("seed-elastic-{}-{i}", log.replace('/', "_"));
            std::fs::write(corpus.join(name), body)?;
        }
    }
    let regressions = root().join("fuzz/regressions");
    let mut inputs = Vec::new();
    if bodies {
        inputs.extend(fixtures::cases()?.into_iter().map(|case| case.input));
    }
    if regressions.is_dir() {
        for entry in std::fs::read_dir(&regressions)? {
            inputs.push(entry?.path());
        }
    }
    for input in inputs {
        let name = input.strip_prefix(root()).unwrap_or(&input).display().to_string();
        let name = format!("seed-{}", name.replace(['/', '\\'], "_"));
        std::fs::copy(&input, corpus.join(name))
            .with_context(|| format!("seeding {}", input.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// cargo-fuzz 0.13's flags for `--sanitizer none` (project.rs), as cargo passes RUSTFLAGS.
    const CARGO_FUZZ_FLAGS: [&str; 9] = [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "--cfg",
        "fuzzing",
        "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
        "-Cdebug-assertions",
    ];

    #[test]
    fn coverage_only_for_the_repositorys_crates() {
        let ours = root().canonicalize().unwrap();
        let core = ours.join("crates/expvar-heap/src/lib.rs");
        let mut rustc = args(&["--crate-name", "expvar_heap", "--edition=2024"]);
        rustc.push(core.display().to_string());
        rustc.extend(args(&CARGO_FUZZ_FLAGS));
        assert_eq!(wrapped_args(&rustc, &ours), rustc, "the core keeps every flag");

        let registry = "/registry/src/index.crates.io/cranelift-codegen-0.128.0/src/lib.rs";
        let mut dependency = args(&["--crate-name", "cranelift_codegen", registry]);
        dependency.extend(args(&CARGO_FUZZ_FLAGS));
        let expected = args(&[
            "--crate-name",
            "cranelift_codegen",
            registry,
            "--cfg",
            "fuzzing",
            "-Cdebug-assertions",
        ]);
        assert_eq!(wrapped_args(&dependency, &ours), expected);

        // A fuzz target's source, relative to the fuzz workspace cargo runs rustc in (here
        // xtask's folder, where cargo runs this test), is the repository's too.
        let mut relative = args(&["--crate-name", "xtask", "src/main.rs"]);
        relative.extend(args(&CARGO_FUZZ_FLAGS));
        assert_eq!(wrapped_args(&relative, &ours), relative);

        // serde_json keeps them.
        let mut serde_json = args(&["--crate-name", "serde_json", registry]);
        serde_json.extend(args(&CARGO_FUZZ_FLAGS));
        assert_eq!(wrapped_args(&serde_json, &ours), serde_json);

        // Queries with no source (`rustc -vV`, `--print`) pass as they are.
        assert_eq!(wrapped_args(&args(&["-vV"]), &ours), args(&["-vV"]));
    }
}
