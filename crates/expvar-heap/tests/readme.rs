//! The field tables of `docs/events.md` say what `fields.rs` does: the table in the code is the source of
//! truth, and this keeps the documentation from drifting away from it.

use expvar_heap::fields::{EXPVAR_FIELDS, HEAP_FIELDS, Pause, Source};

#[test]
fn documented_field_tables_match_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.md"))
            .unwrap();
    let documented: Vec<(String, String)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let field = cells.get(1)?.strip_prefix("`golang.")?.strip_suffix('`')?;
            Some((format!("golang.{field}"), cells.get(2)?.to_string()))
        })
        .collect();
    let in_code: Vec<(String, String)> = HEAP_FIELDS
        .iter()
        .chain(EXPVAR_FIELDS)
        .map(|field| {
            let from = match field.source {
                Source::Cmdline => "`cmdline`".to_owned(),
                Source::Custom => "every other published variable, as published".to_owned(),
                Source::Stat(stat) => format!("`memstats.{}`", stat.key()),
                Source::Pause(figure) => format!(
                    "collector: {}",
                    match figure {
                        Pause::Avg => "`sum` / `count`, rounded down",
                        Pause::Count => "GC cycles that ended since the previous body, in the ring",
                        Pause::Max => "the longest of their pauses",
                        Pause::Missed => "cycles no longer in the ring (only when not 0)",
                        Pause::P50 => "the median of their pauses, by nearest rank (only when `count` is not 0)",
                        Pause::P90 => "the 90th percentile of their pauses, by nearest rank (only when `count` is not 0)",
                        Pause::P99 => "the 99th percentile of their pauses, by nearest rank (only when `count` is not 0)",
                        Pause::Since =>
                            "where the window starts: `process_start`, `previous_body` or `restart`",
                        Pause::Sum => "their pauses added up",
                    }
                ),
            };
            (field.path.join("."), from)
        })
        .collect();
    assert_eq!(documented, in_code);
}
