//! The field tables: which `memstats` figure becomes which ECS field. The one place they are defined.

/// The number of slots of Go's `PauseNs` ring (`runtime.MemStats.PauseNs [256]uint64`): cycle `n`'s
/// pause is at `PauseNs[(n - 1) % 256]`.
pub const PAUSE_RING_LEN: usize = 256;

/// Whether a memstats figure is a count (uint64 in Go) or a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Count,
    Float,
}

macro_rules! stats {
    ($($name:ident: $kind:ident,)*) => {
        /// The `memstats` figures the transform reads; every other key of `memstats` is skipped.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Stat { $($name,)* }

        impl Stat {
            /// How many figures are read.
            pub const COUNT: usize = [$(Stat::$name,)*].len();

            /// The figure a `memstats` key names, if it is one the transform reads.
            pub fn from_key(key: &str) -> Option<Stat> {
                match key {
                    $(stringify!($name) => Some(Stat::$name),)*
                    _ => None,
                }
            }

            /// The key in `memstats`, as Go's `runtime.MemStats` names it.
            pub fn key(self) -> &'static str {
                match self { $(Stat::$name => stringify!($name),)* }
            }

            pub fn kind(self) -> Kind {
                match self { $(Stat::$name => Kind::$kind,)* }
            }
        }
    };
}

stats! {
    BuckHashSys: Count,
    Frees: Count,
    GCCPUFraction: Float,
    GCSys: Count,
    HeapAlloc: Count,
    HeapIdle: Count,
    HeapInuse: Count,
    HeapObjects: Count,
    HeapReleased: Count,
    HeapSys: Count,
    LastGC: Count,
    Lookups: Count,
    MCacheInuse: Count,
    MCacheSys: Count,
    MSpanInuse: Count,
    MSpanSys: Count,
    Mallocs: Count,
    NextGC: Count,
    NumForcedGC: Count,
    NumGC: Count,
    OtherSys: Count,
    PauseTotalNs: Count,
    StackInuse: Count,
    StackSys: Count,
    Sys: Count,
    TotalAlloc: Count,
}

/// Where a field of an event comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// The top-level `cmdline` array.
    Cmdline,
    /// A `memstats` figure.
    Stat(Stat),
    /// Every published variable other than `cmdline` and `memstats` (the expvar event's `custom`).
    Custom,
    /// A figure of the collector's per-interval GC pause window (only from a [`crate::Collector`]).
    Pause(Pause),
}

/// The figures of a [`crate::PauseWindow`].
#[derive(Clone, Copy, Debug)]
pub enum Pause {
    Avg,
    Count,
    Max,
    /// Written only when not zero.
    Missed,
    Sum,
}

/// One ECS field of an event: its path below `golang.<dataset>` and its source.
pub type Field = (&'static [&'static str], Source);

use Source::{Cmdline, Custom, Pause as P, Stat as S};

/// The `golang.heap` fields (Elastic's heap ingest pipeline), sorted by path.
pub const HEAP_FIELDS: &[Field] = &[
    (&["golang", "heap", "allocations", "active", "bytes"], S(Stat::HeapInuse)),
    (&["golang", "heap", "allocations", "frees", "count"], S(Stat::Frees)),
    (&["golang", "heap", "allocations", "idle", "bytes"], S(Stat::HeapIdle)),
    (&["golang", "heap", "allocations", "object", "bytes"], S(Stat::HeapAlloc)),
    (&["golang", "heap", "allocations", "object", "count"], S(Stat::HeapObjects)),
    (&["golang", "heap", "allocations", "total", "bytes"], S(Stat::TotalAlloc)),
    (&["golang", "heap", "cmdline"], Cmdline),
    (&["golang", "heap", "gc", "cpu_fraction"], S(Stat::GCCPUFraction)),
    (&["golang", "heap", "gc", "next_gc_limit"], S(Stat::NextGC)),
    (&["golang", "heap", "gc", "pause", "avg", "ns"], P(Pause::Avg)),
    (&["golang", "heap", "gc", "pause", "count"], P(Pause::Count)),
    (&["golang", "heap", "gc", "pause", "max", "ns"], P(Pause::Max)),
    (&["golang", "heap", "gc", "pause", "missed", "count"], P(Pause::Missed)),
    (&["golang", "heap", "gc", "pause", "sum", "ns"], P(Pause::Sum)),
    (&["golang", "heap", "gc", "pause", "total", "ns"], S(Stat::PauseTotalNs)),
    (&["golang", "heap", "gc", "total", "count"], S(Stat::NumGC)),
    (&["golang", "heap", "mallocs", "count"], S(Stat::Mallocs)),
    (&["golang", "heap", "system", "released", "bytes"], S(Stat::HeapReleased)),
    (&["golang", "heap", "system", "stack", "bytes"], S(Stat::StackSys)),
    (&["golang", "heap", "system", "total", "bytes"], S(Stat::HeapSys)),
];

/// The `golang.expvar` fields (Elastic's expvar ingest pipeline), sorted by path.
pub const EXPVAR_FIELDS: &[Field] = &[
    (&["golang", "expvar", "buck_hash_sys", "bytes"], S(Stat::BuckHashSys)),
    (&["golang", "expvar", "cmdline"], Cmdline),
    (&["golang", "expvar", "custom"], Custom),
    (&["golang", "expvar", "gc", "forced"], S(Stat::NumForcedGC)),
    (&["golang", "expvar", "gc", "last_finished", "ns"], S(Stat::LastGC)),
    (&["golang", "expvar", "gc", "metadata", "memory", "bytes"], S(Stat::GCSys)),
    (&["golang", "expvar", "mcache", "allocated", "bytes"], S(Stat::MCacheInuse)),
    (&["golang", "expvar", "mcache", "obtained", "bytes"], S(Stat::MCacheSys)),
    (&["golang", "expvar", "mspan", "allocated", "bytes"], S(Stat::MSpanInuse)),
    (&["golang", "expvar", "mspan", "obtained", "bytes"], S(Stat::MSpanSys)),
    (&["golang", "expvar", "obtained", "miscellaneous", "bytes"], S(Stat::OtherSys)),
    (&["golang", "expvar", "obtained", "total", "bytes"], S(Stat::Sys)),
    (&["golang", "expvar", "pointer", "lookups"], S(Stat::Lookups)),
    (&["golang", "expvar", "stack", "bytes"], S(Stat::StackInuse)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_so_events_need_no_sort() {
        for table in [HEAP_FIELDS, EXPVAR_FIELDS] {
            for pair in table.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{:?} before {:?}", pair[0].0, pair[1].0);
            }
        }
    }

    #[test]
    fn stat_keys_round_trip() {
        for table in [HEAP_FIELDS, EXPVAR_FIELDS] {
            for (_, source) in table {
                if let Source::Stat(stat) = source {
                    assert_eq!(Stat::from_key(stat.key()), Some(*stat));
                }
            }
        }
        assert_eq!(Stat::from_key("PauseNs"), None);
    }
}
