//! `expvar-heap templates`: the index templates of the core, printed or written for installing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use expvar_heap::templates::templates;

use crate::args::TemplatesArgs;

pub fn print(args: TemplatesArgs) -> Result<ExitCode> {
    let all = templates(args.target);
    let mut out = String::new();
    if let Some(only) = &args.only {
        let Some(template) = all.iter().find(|t| t.path() == *only) else {
            let known: Vec<String> = all.iter().map(|t| t.path()).collect();
            bail!("no template {only:?}; there are: {}", known.join(", "));
        };
        out.push_str(&template.to_json());
    } else if let Some(dir) = &args.out {
        writeln!(
            out,
            "# install in this order (set ES to the cluster's URL, add your credentials):"
        )?;
        for template in &all {
            let file = dir.join(format!("{}.json", template.path()));
            std::fs::create_dir_all(file.parent().unwrap())
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(&file, template.to_json())
                .with_context(|| format!("cannot write {}", file.display()))?;
            writeln!(
                out,
                "curl -X PUT \"$ES/{}\" -H 'Content-Type: application/json' -d @{}",
                template.path(),
                file.display()
            )?;
        }
    } else {
        for template in &all {
            writeln!(out, "PUT {}\n{}", template.path(), template.to_json())?;
        }
    }
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        // A reader that stopped early (`| head`) is no failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
