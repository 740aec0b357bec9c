//! `cargo xtask bench-fluent-bit`: the Fluent Bit module measured where it runs, in a real Fluent
//! Bit, against the same mapping written as a LuaJIT filter (`host-test/fluent-bit/golang_heap.lua`).
//!
//! The real Go fixture bodies (`fixtures/go*/`, each folder a process, in order), made one line each
//! and repeated until there are `--records` of them, go through a fresh Fluent Bit process per run:
//! `tail` with `Parser json`, then a filter, then `file`. The cases: `none` (no filter: the bodies
//! read, parsed and written unchanged), `lua` (the LuaJIT filter), `wasm` (the module in WAMR's
//! fast interpreter), `aot` (the module compiled ahead of time by `flb-wamrc`, when one is given).
//! Each run's figure is the CPU time (user + system) of the Fluent Bit process, from `wait4`'s
//! rusage; the cases take turns, run after run, so that a busy machine slows them alike. Every run
//! must exit 0 and write every record; the last run's events of `wasm` and `aot` are then compared
//! record by record with the Lua filter's, every field but the two times (each run reads the
//! records at its own time).
//!
//! Fluent Bit 5.1.1 turns a record into JSON (for `Event_Format json`, and for the `file` output)
//! with a check for duplicate keys that compares every key of a map with every later one
//! (`msgpack2json` in `src/flb_pack.c`): the `custom` fixtures' 3,001-key map makes that cost more
//! than everything else, in `none` (the output) and in `wasm` and `aot` (the record handed to the
//! module), never in `lua`, whose record goes to Lua as msgpack and whose event is small.
//! So the `custom` fixtures are left out unless asked for (`--all`): with them, the figures
//! measure that conversion, not the filters.
//!
//! Fluent Bit is no dependency of the project and CI does not run this: without one it says what
//! to build and exits non-zero. Instructions per byte (wasmtime fuel), which need no Fluent Bit,
//! stay in `cargo xtask bench`.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use expvar_heap_test_support::{
    FLUENT_BIT_MODULE_FILE, built_module_path, fixtures, root, target_dir,
};
use serde_json::Value;

use crate::wasm;

pub const USAGE: &str = "\
cargo xtask bench-fluent-bit --fluent-bit PATH [--wamrc PATH] [--records N] [--runs R]
                             [--exclude FOLDER,... | --all]

Runs the real Go fixture bodies (fixtures/go*/*/, one process per folder, each in order), repeated
to N records (default 20000), through Fluent Bit (tail with Parser json, a filter, file output),
one fresh process per run, R runs per case (default 2), the cases taking turns:
  none   no filter: the bodies read, parsed and written unchanged (a larger output than the
         filters' events, so no floor to subtract)
  lua    host-test/fluent-bit/golang_heap.lua, the same mapping as a LuaJIT filter
  wasm   the module target/modules/expvar-heap-fluent-bit.wasm (built first), WAMR's interpreter
  aot    the module compiled by --wamrc PATH (flb-wamrc of the same Fluent Bit), when given
and prints each case's CPU seconds (user + system of the Fluent Bit process) per run, their median,
the ratio to LuaJIT and µs of CPU per record, with the module's sizes. It fails when a run exits
with an error or loses records, or when the wasm or aot events differ from the Lua filter's in any
field but @timestamp and event.created (the first differences are shown, with their field paths).

--exclude leaves out the fixture folders named; by default `custom`, the 69 KB bodies of a program
with a 3,001-key map: Fluent Bit's JSON conversion of a record, quadratic in a map's keys
(msgpack2json in src/flb_pack.c), makes them cost about 0.1 s each in none, wasm and aot alike,
before any filter runs, and never in lua (its record reaches Lua as msgpack). --all keeps every
folder. Work files: target/bench-fluent-bit/.
";

/// What to build when there is no usable Fluent Bit.
const NEEDS: &str = "\
cargo xtask bench-fluent-bit needs a Fluent Bit built from source (fluent/fluent-bit on GitHub;
no registry ships one with WebAssembly) with the WebAssembly filter, LuaJIT and the plugins the
benchmark uses, in a build folder of that source:
    cmake -DCMAKE_BUILD_TYPE=Release -DFLB_MINIMAL=On -DFLB_WASM=On -DFLB_FILTER_WASM=On \\
          -DFLB_LUAJIT=On -DFLB_FILTER_LUA=On -DFLB_IN_TAIL=On -DFLB_OUT_FILE=On ..
    make fluent-bit-bin              # bin/fluent-bit
and, for the AOT case, flb-wamrc from the same source (an AOT file made by another WAMR version
does not load), which needs LLVM's development files, in another build folder:
    cmake -DCMAKE_BUILD_TYPE=Release -DFLB_MINIMAL=On -DFLB_WASM=On -DFLB_WAMRC=On \\
          -DLLVM_DIR=<LLVM's lib/cmake/llvm> ..
    make flb-wamrc-bin               # bin/flb-wamrc
then: cargo xtask bench-fluent-bit --fluent-bit .../bin/fluent-bit [--wamrc .../bin/flb-wamrc]
";

/// The plugins the configurations use, by section of `fluent-bit -h`, with the CMake options that
/// build them.
const PLUGINS: [(&str, &str, &str); 4] = [
    ("Inputs", "tail", "FLB_IN_TAIL"),
    ("Filters", "lua", "FLB_LUAJIT and FLB_FILTER_LUA"),
    ("Filters", "wasm", "FLB_WASM and FLB_FILTER_WASM"),
    ("Outputs", "file", "FLB_OUT_FILE"),
];

/// The LuaJIT filter and its function, in the repository.
const LUA_SCRIPT: &str = "host-test/fluent-bit/golang_heap.lua";
const LUA_FUNCTION: &str = "golang_heap";

/// The module's filter function.
const WASM_FUNCTION: &str = "expvar_heap_filter";

/// The fields left out of the comparison: the times each run read the records at.
const IGNORED: [&str; 2] = ["@timestamp", "event.created"];

/// How many differences are shown.
const SHOWN: usize = 12;

/// The options of a run.
struct Args {
    fluent_bit: Option<PathBuf>,
    wamrc: Option<PathBuf>,
    records: usize,
    runs: usize,
    /// Fixture folders (`alloc`, `custom`, ...) left out: `custom` unless told otherwise.
    exclude: Vec<String>,
}

impl Args {
    /// The options, or `None` for `--help`.
    fn parse(args: &[String]) -> Result<Option<Args>> {
        let mut parsed =
            Args { fluent_bit: None, wamrc: None, records: 20_000, runs: 2, exclude: Vec::new() };
        let mut exclude = None::<Vec<String>>;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            if matches!(name, "-h" | "--help" | "help") {
                return Ok(None);
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next().cloned())
                    .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            let count = |text: String| {
                text.parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .with_context(|| format!("{name}: {text:?} is not a positive whole number"))
            };
            match name {
                "--fluent-bit" => parsed.fluent_bit = Some(PathBuf::from(value()?)),
                "--wamrc" => parsed.wamrc = Some(PathBuf::from(value()?)),
                "--records" => parsed.records = count(value()?)?,
                "--runs" => parsed.runs = count(value()?)?,
                "--exclude" => exclude
                    .get_or_insert_default()
                    .extend(value()?.split(',').filter(|f| !f.is_empty()).map(str::to_owned)),
                "--all" => exclude = Some(Vec::new()),
                other => bail!("unknown option {other:?}\n\n{USAGE}"),
            }
        }
        parsed.exclude = exclude.unwrap_or_else(|| vec!["custom".to_owned()]);
        Ok(Some(parsed))
    }
}

/// A case of the benchmark: the filter of its Fluent Bit configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    None,
    Lua,
    Wasm,
    Aot,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::None => "none",
            Case::Lua => "lua",
            Case::Wasm => "wasm",
            Case::Aot => "aot",
        }
    }
}

/// Where everything is: the work folder and the files the configurations name.
struct Paths {
    dir: PathBuf,
    bodies: PathBuf,
    wasm: PathBuf,
    aot: PathBuf,
    lua: PathBuf,
}

impl Paths {
    fn config(&self, case: Case) -> PathBuf {
        self.dir.join(format!("{}.conf", case.name()))
    }

    fn output(&self, case: Case) -> PathBuf {
        self.dir.join(format!("out-{}.ndjson", case.name()))
    }

    fn log(&self, case: Case) -> PathBuf {
        self.dir.join(format!("{}.log", case.name()))
    }
}

/// The measurements of one run of Fluent Bit.
struct Run {
    cpu: Duration,
    wall: Duration,
}

pub fn bench(args: &[String]) -> Result<()> {
    let Some(args) = Args::parse(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    let Some(fluent_bit) = args.fluent_bit.as_deref() else {
        bail!("no --fluent-bit given\n\n{NEEDS}");
    };
    let version = check_fluent_bit(fluent_bit)?;
    let wamrc_version = args.wamrc.as_deref().map(check_wamrc).transpose()?;

    wasm::build()?;
    let dir = target_dir().join("bench-fluent-bit");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let paths = Paths {
        bodies: dir.join("bodies.log"),
        wasm: built_module_path(FLUENT_BIT_MODULE_FILE),
        aot: dir.join(Path::new(FLUENT_BIT_MODULE_FILE).with_extension("aot")),
        lua: root().join(LUA_SCRIPT),
        dir,
    };
    let input = write_bodies(&paths.bodies, args.records, &args.exclude)?;

    let mut cases = vec![Case::None, Case::Lua, Case::Wasm];
    if let Some(wamrc) = &args.wamrc {
        compile_aot(wamrc, &paths)?;
        cases.push(Case::Aot);
    }
    let parsers = paths.dir.join("parsers.conf");
    std::fs::write(&parsers, "[PARSER]\n    Name   json\n    Format json\n")?;
    for &case in &cases {
        let config = paths.config(case);
        std::fs::write(&config, config_text(case, &paths, &parsers))
            .with_context(|| format!("writing {}", config.display()))?;
    }

    eprintln!(
        "{version}: {}, {} runs of {}",
        input.describe(),
        args.runs,
        cases.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
    );
    let mut runs: Vec<Vec<Run>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.runs {
        for (i, &case) in cases.iter().enumerate() {
            let run = run_case(fluent_bit, case, &paths, args.records)?;
            eprintln!(
                "run {round}/{}: {:<4} {:>7.2} s CPU, {:>6.2} s wall",
                args.runs,
                case.name(),
                run.cpu.as_secs_f64(),
                run.wall.as_secs_f64()
            );
            runs[i].push(run);
        }
    }

    let lua = read_events(&paths.output(Case::Lua))?;
    let mut comparisons = Vec::new();
    for &case in cases.iter().filter(|c| matches!(c, Case::Wasm | Case::Aot)) {
        let ours = read_events(&paths.output(case))?;
        comparisons.push((case, compare_outputs(&ours, &lua)));
    }

    println!();
    println!("{version}, real /debug/vars bodies: {}", input.describe());
    print!("{}", table(&cases, &runs, args.records));
    let wasm_size = file_size(&paths.wasm)?;
    print!("module: {} {wasm_size} bytes", FLUENT_BIT_MODULE_FILE);
    if let Some(wamrc_version) = &wamrc_version {
        let aot_size = file_size(&paths.aot)?;
        print!(", .aot {aot_size} bytes (by {wamrc_version})");
    }
    println!();

    let mut failed = false;
    for (case, comparison) in &comparisons {
        failed |= report(*case, comparison, &input.sources);
    }
    if failed {
        bail!("the module's events differ from the Lua filter's (above)");
    }
    Ok(())
}

/// Checks that `path` runs as a Fluent Bit with the plugins needed; returns its version line.
fn check_fluent_bit(path: &Path) -> Result<String> {
    let output = Command::new(path)
        .arg("--version")
        .output()
        .with_context(|| format!("could not run {}\n\n{NEEDS}", path.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let version = stdout.lines().next().unwrap_or_default().trim().to_owned();
    if !output.status.success() || !version.starts_with("Fluent Bit") {
        bail!(
            "{} --version did not answer as Fluent Bit does ({}: {version:?})\n\n{NEEDS}",
            path.display(),
            output.status
        );
    }
    let help = Command::new(path)
        .arg("--help")
        .output()
        .with_context(|| format!("running {} --help", path.display()))?;
    let listed = plugins(&String::from_utf8_lossy(&help.stdout));
    let missing: Vec<String> = PLUGINS
        .iter()
        .filter(|(section, name, _)| !listed.iter().any(|(s, n)| s == section && n == name))
        .map(|(section, name, options)| format!("{section}: {name} ({options})"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} ({version}) lacks the plugins {}: build it with those options\n\n{NEEDS}",
            path.display(),
            missing.join(", ")
        );
    }
    Ok(version)
}

/// The plugins `fluent-bit --help` lists, as (section, name): a section's title alone on a line
/// (in bold), then one plugin a line, indented.
fn plugins(help: &str) -> Vec<(String, String)> {
    let mut listed = Vec::new();
    let mut section = String::new();
    for line in help.lines() {
        let line = strip_ansi(line);
        if line.is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = line.trim().to_owned();
        } else if let Some(name) = line.split_whitespace().next() {
            listed.push((section.clone(), name.to_owned()));
        }
    }
    listed
}

/// The text without its terminal escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks that `path` runs as wamrc; returns its version line.
fn check_wamrc(path: &Path) -> Result<String> {
    let output = Command::new(path)
        .arg("--version")
        .output()
        .with_context(|| format!("could not run the wamrc {}\n\n{NEEDS}", path.display()))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || !version.starts_with("wamrc") {
        bail!(
            "{} --version did not answer as flb-wamrc does ({}: {version:?})\n\n{NEEDS}",
            path.display(),
            output.status
        );
    }
    Ok(version)
}

/// Compiles the module ahead of time (for this machine's CPU, wamrc's default).
fn compile_aot(wamrc: &Path, paths: &Paths) -> Result<()> {
    eprintln!("compiling {} with {}", paths.wasm.display(), wamrc.display());
    let _ = std::fs::remove_file(&paths.aot);
    let output = Command::new(wamrc)
        .arg("-o")
        .arg(&paths.aot)
        .arg(&paths.wasm)
        .output()
        .with_context(|| format!("running {}", wamrc.display()))?;
    if !output.status.success() || !paths.aot.is_file() {
        bail!(
            "{} failed ({}):\n{}{}",
            wamrc.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The input written: which fixture each record is, and its size.
struct Input {
    /// Each record's fixture, below `fixtures/`.
    sources: Vec<String>,
    /// The distinct bodies, and the smallest and largest of them, in bytes.
    bodies: usize,
    smallest: usize,
    largest: usize,
    /// The bytes written.
    bytes: usize,
}

impl Input {
    fn describe(&self) -> String {
        format!(
            "{} records ({} bodies of {}-{} bytes, repeated: {} bytes)",
            self.sources.len(),
            self.bodies,
            self.smallest,
            self.largest,
            self.bytes
        )
    }
}

/// Writes `records` bodies, one a line: the real fixtures' sequences in order, those of the
/// folders in `exclude` left out, over and over.
fn write_bodies(path: &Path, records: usize, exclude: &[String]) -> Result<Input> {
    let fixtures_dir = root().join("fixtures");
    let mut bodies = Vec::new();
    let mut folders = Vec::new();
    for (folder, inputs) in fixtures::sequences()? {
        let folder = Path::new(&folder);
        let real = folder.strip_prefix(&fixtures_dir).ok().and_then(|f| f.iter().next());
        if !real.is_some_and(|top| top.to_string_lossy().starts_with("go")) {
            continue; // fixtures/bad/: hand-made bad inputs, no process
        }
        let name = folder.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let excluded = exclude.contains(&name);
        folders.push(name);
        if excluded {
            continue;
        }
        for input in inputs {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("reading {}", input.display()))?;
            let name = input.strip_prefix(&fixtures_dir).unwrap_or(&input).display().to_string();
            bodies.push((name, one_line(&text)));
        }
    }
    if let Some(unknown) = exclude.iter().find(|e| !folders.contains(e)) {
        folders.sort();
        folders.dedup();
        bail!("--exclude {unknown}: no such fixture folder (there are {})", folders.join(", "));
    }
    if bodies.is_empty() {
        bail!("no real bodies left under {}", fixtures_dir.display());
    }
    let mut text = String::new();
    let mut sources = Vec::with_capacity(records);
    for (name, body) in bodies.iter().cycle().take(records) {
        text.push_str(body);
        text.push('\n');
        sources.push(name.clone());
    }
    std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    let sizes = bodies.iter().map(|(_, body)| body.len());
    Ok(Input {
        sources,
        bodies: bodies.len(),
        smallest: sizes.clone().min().unwrap_or_default(),
        largest: sizes.max().unwrap_or_default(),
        bytes: text.len(),
    })
}

/// A JSON text on one line, every byte kept but the whitespace between tokens (Go writes
/// `/debug/vars` over several lines; JSON strings hold no raw line breaks).
fn one_line(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

/// The classic configuration of a case.
fn config_text(case: Case, paths: &Paths, parsers: &Path) -> String {
    let mut text = format!(
        "\
[SERVICE]
    Flush        1
    Parsers_File {parsers}
    Log_Level    warn
[INPUT]
    Name              tail
    Tag               golang.bench
    Path              {bodies}
    Read_from_Head    true
    Parser            json
    Buffer_Chunk_Size 256k
    Buffer_Max_Size   1M
    Exit_On_Eof       true
",
        parsers = parsers.display(),
        bodies = paths.bodies.display(),
    );
    let module = |path: &Path| {
        format!(
            "\
[FILTER]
    Name           wasm
    Match          golang.*
    WASM_Path      {}
    Function_Name  {WASM_FUNCTION}
    Event_Format   json
    Wasm_Heap_Size 1M
",
            path.display()
        )
    };
    match case {
        Case::None => {}
        Case::Lua => {
            // time_as_table: the record's time as seconds and nanoseconds, not a double.
            let _ = write!(
                text,
                "\
[FILTER]
    Name          lua
    Match         golang.*
    script        {}
    call          {LUA_FUNCTION}
    time_as_table true
",
                paths.lua.display()
            );
        }
        Case::Wasm => text.push_str(&module(&paths.wasm)),
        Case::Aot => text.push_str(&module(&paths.aot)),
    }
    let output = paths.output(case);
    let _ = write!(
        text,
        "\
[OUTPUT]
    Name   file
    Match  golang.*
    Path   {}
    File   {}
    Format plain
",
        output.parent().unwrap().display(),
        output.file_name().unwrap().to_string_lossy(),
    );
    text
}

/// One run of Fluent Bit on a case: its CPU and wall time, once it exited 0 having written every
/// record.
fn run_case(fluent_bit: &Path, case: Case, paths: &Paths, records: usize) -> Result<Run> {
    let output = paths.output(case);
    if output.exists() {
        // The file output appends.
        std::fs::remove_file(&output).with_context(|| format!("removing {}", output.display()))?;
    }
    let log_path = paths.log(case);
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut command = Command::new(fluent_bit);
    command
        .arg("--config")
        .arg(paths.config(case))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Only to end a run that hangs: some take seconds of CPU per 1,000 records.
    let deadline = Duration::from_secs(120) + Duration::from_millis(50 * records as u64);
    let (status, run) =
        rusage::run(&mut command, deadline).with_context(|| format!("running {:?}", command))?;
    let log_tail = || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    if !status.success() {
        bail!("Fluent Bit ({} case) failed: {status}; its log ends:\n{}", case.name(), log_tail());
    }
    let text = std::fs::read_to_string(&output).with_context(|| {
        format!("reading {} (the {} case's output)", output.display(), case.name())
    })?;
    let written = text.lines().count();
    if written != records {
        bail!(
            "Fluent Bit ({} case) wrote {written} records of {records} into {}; its log ends:\n{}",
            case.name(),
            output.display(),
            log_tail()
        );
    }
    Ok(run)
}

/// Running a child and measuring its CPU time, from the rusage `wait4` returns for it alone.
#[cfg(unix)]
mod rusage {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, ExitStatus};
    use std::time::{Duration, Instant};

    use anyhow::{Result, bail};

    use super::Run;

    /// Runs `command` to its end; kills it past `deadline`.
    pub(super) fn run(command: &mut Command, deadline: Duration) -> Result<(ExitStatus, Run)> {
        let start = Instant::now();
        let mut child = command.spawn()?;
        let pid = child.id() as libc::pid_t;
        let mut killed = false;
        loop {
            let mut status = 0;
            // SAFETY: an all-zero rusage is a valid value of this plain C struct.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let flags = if killed { 0 } else { libc::WNOHANG };
            // SAFETY: `pid` is our child, not yet reaped (std's `Child` reaps only in its
            // wait methods, never called here), and both pointers are to live locals.
            let reaped = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
            if reaped == pid {
                let wall = start.elapsed();
                if killed {
                    bail!("still running after {} s: killed", deadline.as_secs());
                }
                let time = |t: libc::timeval| {
                    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
                };
                let cpu = time(usage.ru_utime) + time(usage.ru_stime);
                return Ok((ExitStatus::from_raw(status), Run { cpu, wall }));
            }
            if reaped == -1 {
                let error = std::io::Error::last_os_error();
                if error.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                bail!("wait4: {error}");
            }
            if start.elapsed() > deadline && !killed {
                child.kill()?;
                killed = true;
                continue;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(not(unix))]
mod rusage {
    use std::process::{Command, ExitStatus};
    use std::time::Duration;

    use anyhow::{Result, bail};

    use super::Run;

    pub(super) fn run(_: &mut Command, _: Duration) -> Result<(ExitStatus, Run)> {
        bail!("measuring a process's CPU time needs a Unix (wait4)")
    }
}

/// The events of an output file, one JSON object a line.
fn read_events(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not JSON: {line:.200}", path.display(), i + 1))
        })
        .collect()
}

/// One field on which two events differ.
struct Difference {
    /// The record, from 0.
    record: usize,
    path: String,
    ours: Option<Value>,
    lua: Option<Value>,
}

/// How the module's events compare with the Lua filter's.
#[derive(Default)]
struct Comparison {
    /// The first differences.
    shown: Vec<Difference>,
    /// Records with any difference, and differences in all.
    records_differing: usize,
    differences: usize,
    /// Fields of the same value that the module writes as a float (`0.0`) and Lua as an integer
    /// (`0`): Fluent Bit's Lua filter writes every whole number as an integer.
    whole_floats: usize,
    /// The fields compared.
    fields: usize,
}

fn compare_outputs(ours: &[Value], lua: &[Value]) -> Comparison {
    let mut comparison = Comparison::default();
    if ours.len() != lua.len() {
        comparison.records_differing = ours.len().abs_diff(lua.len());
    }
    for (record, (ours, lua)) in ours.iter().zip(lua).enumerate() {
        let before = comparison.differences;
        compare(record, "", Some(ours), Some(lua), &mut comparison);
        if comparison.differences > before {
            comparison.records_differing += 1;
        }
    }
    comparison
}

/// Compares two values at `path` (dotted; array items as `[i]`), either possibly absent.
fn compare(
    record: usize,
    path: &str,
    ours: Option<&Value>,
    lua: Option<&Value>,
    comparison: &mut Comparison,
) {
    if IGNORED.contains(&path) {
        return;
    }
    let children = |path: &str, key: &str| {
        if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
    };
    match (ours, lua) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                compare(record, &children(path, key), a.get(key), b.get(key), comparison);
            }
            return;
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                compare(record, &format!("{path}[{i}]"), Some(a), Some(b), comparison);
            }
            return;
        }
        _ => {}
    }
    comparison.fields += 1;
    let same = match (ours, lua) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => match (a.as_u64(), b.as_u64()) {
            (Some(a), Some(b)) => a == b,
            _ => {
                let same = a.as_f64() == b.as_f64();
                if same && a.is_f64() && !b.is_f64() {
                    comparison.whole_floats += 1;
                }
                same
            }
        },
        (a, b) => a == b,
    };
    if !same {
        comparison.differences += 1;
        if comparison.shown.len() < SHOWN {
            comparison.shown.push(Difference {
                record,
                path: path.to_owned(),
                ours: ours.cloned(),
                lua: lua.cloned(),
            });
        }
    }
}

/// Prints how a case's events compare with Lua's; true when they differ.
fn report(case: Case, comparison: &Comparison, sources: &[String]) -> bool {
    let name = case.name();
    if comparison.records_differing == 0 {
        print!("{name} = lua: {} fields of {} events agree", comparison.fields, sources.len());
        if comparison.whole_floats > 0 {
            print!(
                " ({} of them whole floats that the module writes as 0.0 and Lua as 0: Fluent \
                 Bit's Lua filter writes every whole number as an integer)",
                comparison.whole_floats
            );
        }
        println!();
        return false;
    }
    println!(
        "{name} != lua: {} differences in {} of {} records; the first:",
        comparison.differences,
        comparison.records_differing,
        sources.len()
    );
    let show =
        |value: &Option<Value>| value.as_ref().map_or("(absent)".to_owned(), Value::to_string);
    for difference in &comparison.shown {
        let record = difference.record;
        let previous = record.checked_sub(1).map_or("none".to_owned(), |p| sources[p].clone());
        println!(
            "  record {} ({}, after {previous}): {}: {name} {} lua {}",
            record + 1,
            sources.get(record).map_or("?", String::as_str),
            difference.path,
            show(&difference.ours),
            show(&difference.lua),
        );
    }
    true
}

/// The table of the runs: CPU seconds per run and their median, the ratio to LuaJIT, µs of CPU per
/// record, and the median wall time.
fn table(cases: &[Case], runs: &[Vec<Run>], records: usize) -> String {
    let median = |runs: &[Run], f: fn(&Run) -> Duration| {
        let mut values: Vec<f64> = runs.iter().map(|r| f(r).as_secs_f64()).collect();
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        if values.len().is_multiple_of(2) {
            (values[mid - 1] + values[mid]) / 2.0
        } else {
            values[mid]
        }
    };
    let cpu = |i: usize| median(&runs[i], |r| r.cpu);
    let lua = cases.iter().position(|&c| c == Case::Lua).map(cpu);
    let each: Vec<String> = runs
        .iter()
        .map(|runs| {
            runs.iter().map(|r| format!("{:.2}", r.cpu.as_secs_f64())).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let width = each.iter().map(String::len).max().unwrap_or(0).max("CPU s per run".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5} {:>width$} {:>9} {:>7} {:>10} {:>7}",
        "case", "CPU s per run", "median s", "vs lua", "µs/record", "wall s"
    );
    for (i, case) in cases.iter().enumerate() {
        let median_cpu = cpu(i);
        let ratio = lua.map_or("-".to_owned(), |lua| format!("{:.2}x", median_cpu / lua));
        let _ = writeln!(
            out,
            "{:<5} {:>width$} {:>9.2} {:>7} {:>10.1} {:>7.2}",
            case.name(),
            each[i],
            median_cpu,
            ratio,
            median_cpu * 1e6 / records as f64,
            median(&runs[i], |r| r.wall),
        );
    }
    out
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_become_one_line_with_every_byte_of_their_strings() {
        let go = "{\n\"cmdline\": [\"./a b\", \"\\\"x\\\\\"],\n\"memstats\": {\"LastGC\": 18446744073709551615}\n}\n";
        assert_eq!(
            one_line(go),
            r#"{"cmdline":["./a b","\"x\\"],"memstats":{"LastGC":18446744073709551615}}"#
        );
    }

    #[test]
    fn reads_the_plugins_fluent_bit_lists() {
        let help = "Usage: fluent-bit [OPTION]\n\n\u{1b}[1mAvailable Options\u{1b}[0m\n  -c  \
                    --config=FILE  specify\n\n\u{1b}[1mInputs\u{1b}[0m\n  tail                    \
                    Tail files\n\n\u{1b}[1mFilters\u{1b}[0m\n  lua                     Lua \
                    Scripting Filter\n";
        let listed = plugins(help);
        assert!(listed.contains(&("Inputs".to_owned(), "tail".to_owned())));
        assert!(listed.contains(&("Filters".to_owned(), "lua".to_owned())));
        assert!(!listed.iter().any(|(_, name)| name == "wasm"));
    }

    #[test]
    fn compares_every_field_but_the_times() {
        let ours: Value = serde_json::from_str(
            r#"{"@timestamp":"a","event":{"created":"a","kind":"metric"},"golang":{"heap":{"gc":{"cpu_fraction":0.0,"pause":{"avg":{"ns":5.0},"count":2}},"cmdline":["x"]}}}"#,
        )
        .unwrap();
        let same: Value = serde_json::from_str(
            r#"{"golang":{"heap":{"cmdline":["x"],"gc":{"pause":{"count":2,"avg":{"ns":5}},"cpu_fraction":0}}},"event":{"kind":"metric","created":"b"},"@timestamp":"b"}"#,
        )
        .unwrap();
        let comparison = compare_outputs(std::slice::from_ref(&ours), &[same]);
        assert_eq!((comparison.records_differing, comparison.whole_floats), (0, 2));
        assert_eq!(comparison.fields, 5);

        let other: Value = serde_json::from_str(
            r#"{"event":{"kind":"metric"},"golang":{"heap":{"gc":{"cpu_fraction":0.5,"pause":{"avg":{"ns":5},"count":2,"since":"restart"}},"cmdline":["y"]}}}"#,
        )
        .unwrap();
        let comparison = compare_outputs(&[ours], &[other]);
        assert_eq!((comparison.records_differing, comparison.differences), (1, 3));
        let paths: Vec<&str> = comparison.shown.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["golang.heap.cmdline[0]", "golang.heap.gc.cpu_fraction", "golang.heap.gc.pause.since"]
        );
        assert_eq!(comparison.shown[2].ours, None);
    }

    #[test]
    fn reads_the_options() {
        let args =
            |list: &[&str]| Args::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let parsed = args(&["--fluent-bit", "fb", "--records=50", "--exclude", "custom,idle"])
            .unwrap()
            .unwrap();
        assert_eq!(parsed.fluent_bit.as_deref(), Some(Path::new("fb")));
        assert_eq!((parsed.records, parsed.runs), (50, 2));
        assert_eq!(parsed.exclude, ["custom", "idle"]);
        assert_eq!(args(&["--fluent-bit", "fb"]).unwrap().unwrap().exclude, ["custom"]);
        assert!(args(&["--fluent-bit", "fb", "--all"]).unwrap().unwrap().exclude.is_empty());
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(args(&["--records", "0"]).is_err());
        assert!(args(&["--runs"]).is_err());
        assert!(args(&["--frobnicate"]).is_err());
    }
}
