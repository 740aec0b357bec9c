//! `cargo xtask fuzz [SECONDS]`: each coverage-guided fuzz target of `fuzz/` for a bounded time
//! (cargo fuzz, with the nightly toolchain), its corpus seeded from the fixtures and Elastic's
//! pipeline-test bodies.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::conformance::conformance_dir;
use expvar_heap_test_support::{fixtures, root, target_dir};

/// The targets of `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 4] = ["reader", "events", "collector", "fluent_bit"];

/// The seconds each target runs for in `cargo xtask test` (`EXPVAR_HEAP_FUZZ_SECONDS` changes it).
pub const TEST_SECONDS: u64 = 20;

/// Runs every target for `seconds`. A crash fails the run; its input is left under
/// `fuzz/artifacts/<target>/` (make it a regression test: see `fuzz/regressions/`).
pub fn fuzz(seconds: u64) -> Result<()> {
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
    for target in TARGETS {
        let corpus = target_dir().join("fuzz-corpus").join(target);
        seed(&corpus)?;
        eprintln!("fuzzing {target} for {seconds} s (corpus {})", corpus.display());
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", "--sanitizer", "none", target])
            .arg(&corpus)
            .args(["--", "-max_len=262144", "-rss_limit_mb=4096"])
            .arg(format!("-max_total_time={seconds}"))
            .env_remove("RUSTUP_TOOLCHAIN")
            .current_dir(root())
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

/// Seeds a corpus with every fixture body, the fuzz regressions and each body of Elastic's
/// pipeline tests, which are written with spaces between tokens, unlike Go's. Inputs the corpus
/// kept from earlier runs are left.
fn seed(corpus: &Path) -> Result<()> {
    std::fs::create_dir_all(corpus)?;
    let logs = [
        "test-heap-metrics.log",
        "expvar/test-expvar-metrics.log",
        "gc-pause-pr4908/test-heap-metrics.log",
    ];
    for log in logs {
        let path = conformance_dir().join(log);
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        for (i, body) in text.split(|&b| b == b'\n').filter(|line| !line.is_empty()).enumerate() {
            let name = format!("seed-elastic-{}-{i}", log.replace('/', "_"));
            std::fs::write(corpus.join(name), body)?;
        }
    }
    let regressions = root().join("fuzz/regressions");
    let mut inputs: Vec<_> = fixtures::cases()?.into_iter().map(|case| case.input).collect();
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
