//! `cargo xtask bless`: rewrites the fixtures' expected events from the native library.

use anyhow::Result;
use expvar_heap_test_support::fixtures;

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
    Ok(())
}
