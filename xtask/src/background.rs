//! A command run in the background of `cargo xtask test` (the fuzz build, the slow fleet test),
//! beside the phases that leave a core idle, its output kept in a log file and waited for later.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use expvar_heap_test_support::target_dir;

/// A command under way in the background, in a process group of its own.
pub struct Background {
    what: &'static str,
    /// `None` once waited for.
    child: Option<Child>,
    log: PathBuf,
}

impl Background {
    /// Starts `command` (`what` it does, for messages), its output to `target/{log}`.
    pub fn start(what: &'static str, mut command: Command, log: &str) -> Result<Background> {
        let log = target_dir().join(log);
        std::fs::create_dir_all(target_dir())?;
        let file = std::fs::File::create(&log)?;
        // Its own process group, so that stopping it stops what it started too (compilers,
        // services, a browser).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("could not start {what}"))?;
        eprintln!("{what}: started in the background (log: {})", log.display());
        Ok(Background { what, child: Some(child), log })
    }

    /// Waits for it to end; its log is printed when it failed, or when `always`.
    pub fn wait(mut self, always: bool) -> Result<()> {
        let status = self.child.take().expect("waited for once").wait()?;
        let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
        if !status.success() {
            bail!("{} failed ({status}):\n{}", self.what, log());
        }
        if always {
            eprint!("{}", log());
        }
        Ok(())
    }
}

/// A run that stops before waiting for it (a test failed) stops it too.
impl Drop for Background {
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
