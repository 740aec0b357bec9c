//! `cargo xtask fuzz [SECONDS]`: each coverage-guided fuzz target of `fuzz/` for a bounded time
//! (cargo fuzz, with the nightly toolchain), its corpus seeded from the fixtures and Elastic's
//! pipeline-test bodies.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::conformance::conformance_dir;
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
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run"])
            .args(BUILD_FLAGS)
            .arg(target)
            .arg(&corpus)
            // An input that runs over a minute is a finding (a hang), not a slow input.
            .args(["--", "-max_len=262144", "-rss_limit_mb=4096", "-timeout=60"])
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

/// A build of every fuzz target, under way in the background (as `cargo fuzz run` builds them,
/// so that the runs then find it done), its output kept in a log file.
pub struct Build {
    /// `None` once waited for.
    child: Option<Child>,
    log: PathBuf,
}

/// Starts building every fuzz target, its output to `target/fuzz-build.log`.
pub fn start_build() -> Result<Build> {
    check_installed()?;
    let log = target_dir().join("fuzz-build.log");
    std::fs::create_dir_all(target_dir())?;
    let file = std::fs::File::create(&log)?;
    let mut command = Command::new("cargo");
    // Its own process group, so that stopping it stops the compilers it started too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .args(["+nightly", "fuzz", "build"])
        .args(BUILD_FLAGS)
        .env_remove("RUSTUP_TOOLCHAIN")
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("could not start cargo fuzz build")?;
    eprintln!("building the fuzz targets in the background (log: {})", log.display());
    Ok(Build { child: Some(child), log })
}

impl Build {
    /// Waits for the build to end; its log is printed when it failed.
    pub fn wait(mut self) -> Result<()> {
        let status = self.child.take().expect("waited for once").wait()?;
        if !status.success() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!("building the fuzz targets failed ({status}):\n{log}");
        }
        Ok(())
    }
}

/// A run that stops before waiting for the build (a test failed) stops the build too.
impl Drop for Build {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            #[cfg(unix)]
            // SAFETY: kill(2) with a negative pid signals the process group the child leads (it
            // was started with process_group(0)); no memory is involved.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
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
