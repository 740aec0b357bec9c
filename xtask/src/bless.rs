//! `cargo xtask bless`: rewrites the fixtures' expected events from the native library, and the
//! golden files of the index templates.

use anyhow::Result;
use expvar_heap::templates::{Target, templates};
use expvar_heap_test_support::{fixtures, template_path};

pub fn bless() -> Result<()> {
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
    let mut rewritten = 0;
    for target in Target::ALL {
        for template in templates(target) {
            let path = template_path(target.name(), &template.path());
            if std::fs::read_to_string(&path).ok() != Some(template.to_json()) {
                std::fs::create_dir_all(path.parent().unwrap())?;
                std::fs::write(&path, template.to_json())?;
                eprintln!("wrote {}", path.display());
                rewritten += 1;
            }
        }
    }
    eprintln!("index templates: {rewritten} golden files rewritten");
    Ok(())
}
