//! The field tables: which `memstats` figure becomes which ECS field. The one place they are defined.

/// The number of slots of Go's `PauseNs` ring (`runtime.MemStats.PauseNs [256]uint64`): cycle `n`'s
/// pause is at `PauseNs[(n - 1) % 256]`.
pub const PAUSE_RING_LEN: usize = 256;

/// The slot of `PauseNs` (and `PauseEnd`) that holds cycle `cycle` (1-based, as Go counts them):
/// `(cycle - 1) % 256`. Go's `NumGC` is a `uint32` that wraps, and 256 divides both 2^32 and
/// 2^64, so the slot is the same whichever width the count wrapped at; cycle 0 (before the first,
/// or a count that wrapped to 0) is slot 255. Written once: every reader of the rings asks here.
#[inline(always)]
pub const fn pause_ring_slot(cycle: u64) -> usize {
    (cycle.wrapping_sub(1) % PAUSE_RING_LEN as u64) as usize
}

/// Whether a memstats figure is a count (uint64 in Go) or a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Count,
    Float,
}

/// The slots of the table of `memstats` keys.
const KEY_SLOTS: usize = 64;

/// A key's slot: a hash of its length, its first byte and its fifth (or last), which no two of
/// the keys read share (checked when the table is built, at compile time).
const fn key_slot(key: &[u8]) -> usize {
    if key.is_empty() {
        return 0;
    }
    let probe = if key.len() > 4 { key[4] } else { key[key.len() - 1] };
    slot(key.len(), key[0], probe)
}

/// The slot of a key of `len` bytes, its first byte and its probe byte.
#[inline(always)]
const fn slot(len: usize, first: u8, probe: u8) -> usize {
    (len * 25 + first as usize + probe as usize * 18) % KEY_SLOTS
}

/// A key of at most 16 bytes as two little-endian words, zero-padded (as `scan::load` reads it).
const fn key_words(key: &[u8]) -> [u64; 2] {
    assert!(key.len() <= 16, "a memstats key read is at most 16 bytes");
    let mut words = [0; 2];
    let mut i = 0;
    while i < key.len() {
        words[i / 8] |= (key[i] as u64) << (8 * (i % 8));
        i += 1;
    }
    words
}

macro_rules! stats {
    ($($name:ident: $kind:ident,)*) => {
        /// Every figure, in the order of the keys below.
        const ALL: [Stat; Stat::COUNT] = [$(Stat::$name,)*];
        /// Their keys in `memstats`.
        const KEYS: [&str; Stat::COUNT] = [$(stringify!($name),)*];
        /// The index of each key by its slot ([`key_slot`]), `u8::MAX` for none: built at
        /// compile time, which refuses two keys in one slot.
        const TABLE: [u8; KEY_SLOTS] = {
            let mut table = [u8::MAX; KEY_SLOTS];
            let mut i = 0;
            while i < Stat::COUNT {
                let slot = key_slot(KEYS[i].as_bytes());
                assert!(table[slot] == u8::MAX, "two memstats keys share a slot");
                table[slot] = i as u8;
                i += 1;
            }
            table
        };
        /// The keys as two zero-padded little-endian words each.
        const WORDS: [[u64; 2]; Stat::COUNT] = {
            let mut words = [[0; 2]; Stat::COUNT];
            let mut i = 0;
            while i < Stat::COUNT {
                words[i] = key_words(KEYS[i].as_bytes());
                i += 1;
            }
            words
        };

        /// The `memstats` figures the transform reads; every other key of `memstats` is skipped.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Stat { $($name,)* }

        impl Stat {
            /// How many figures are read.
            pub const COUNT: usize = [$(Stat::$name,)*].len();

            /// The figure a `memstats` key names, if it is one the transform reads: one look in
            /// a table by a hash of the key, and one comparison.
            pub fn from_key(key: impl AsRef<[u8]>) -> Option<Stat> {
                let key = key.as_ref();
                Stat::from_words(key.len(), [crate::scan::load(key, 0), crate::scan::load(key, 8)])
            }

            /// [`Stat::from_key`] of a key of `len` bytes given as two zero-padded little-endian
            /// words (as the reader has them): arithmetic only.
            #[inline(always)]
            pub(crate) fn from_words(len: usize, words: [u64; 2]) -> Option<Stat> {
                let first = words[0] as u8;
                let probe = match len {
                    0 => 0,
                    1..=4 => (words[0] >> (8 * (len - 1))) as u8,
                    _ => (words[0] >> 32) as u8,
                };
                let index = *TABLE.get(slot(len, first, probe))? as usize;
                let stat = *ALL.get(index)?;
                (len == KEYS[index].len() && words == WORDS[index]).then_some(stat)
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

/// The figures of a collector's pause window.
#[derive(Clone, Copy, Debug)]
pub enum Pause {
    Avg,
    Count,
    Max,
    /// Written only when not zero.
    Missed,
    /// The window's pause percentiles (nearest rank), written only when it holds a cycle.
    P50,
    P90,
    P99,
    /// Where the window starts (`process_start`, `previous_body` or `restart`), a keyword.
    Since,
    Sum,
}

/// How Elasticsearch (and OpenSearch) should index a field: the type Elastic's `fields.yml` gives
/// it, and for metrics their kind and unit. The index templates are made from this, and the event
/// writer follows the type: a `Float` field is always written as a float (`0.0`, never `0`), so
/// that a first document cannot make dynamic mapping choose `long` (beats#7785).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub es_type: EsType,
    /// `None` for fields that are no metric (`cmdline`, a timestamp).
    pub metric: Option<Metric>,
    pub unit: Option<Unit>,
}

/// An Elasticsearch field type, as Elastic's `fields.yml` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EsType {
    Long,
    Float,
    Keyword,
    /// One field for a whole object of any shape: the custom variables (see
    /// `docs/elasticsearch.md` for why).
    Flattened,
}

impl EsType {
    /// The name in `fields.yml` and in Elasticsearch mappings.
    pub fn name(self) -> &'static str {
        match self {
            EsType::Long => "long",
            EsType::Float => "float",
            EsType::Keyword => "keyword",
            EsType::Flattened => "flattened",
        }
    }
}

/// A metric's kind (`metric_type` in `fields.yml`, `time_series_metric` in Elasticsearch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Gauge,
    Counter,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Gauge => "gauge",
            Metric::Counter => "counter",
        }
    }
}

/// A metric's unit, as `fields.yml` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Nanos,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Byte => "byte",
            Unit::Nanos => "nanos",
        }
    }
}

/// One ECS field of an event: its path, where its value comes from, and how it is indexed.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub path: &'static [&'static str],
    pub source: Source,
    pub mapping: Mapping,
}

use EsType::{Flattened, Float, Keyword, Long};
use Metric::{Counter, Gauge};
use Source::{Cmdline, Custom, Pause as P, Stat as S};
use Unit::{Byte, Nanos};

/// A field of the table, briefly: path, source, type, metric, unit.
const fn field(
    path: &'static [&'static str],
    source: Source,
    es_type: EsType,
    metric: Option<Metric>,
    unit: Option<Unit>,
) -> Field {
    Field { path, source, mapping: Mapping { es_type, metric, unit } }
}

const G: Option<Metric> = Some(Gauge);
const C: Option<Metric> = Some(Counter);
const B: Option<Unit> = Some(Byte);
const NS: Option<Unit> = Some(Nanos);

/// The `golang.heap` fields (Elastic's heap ingest pipeline), sorted by path.
pub const HEAP_FIELDS: &[Field] = &[
    field(&["golang", "heap", "allocations", "active", "bytes"], S(Stat::HeapInuse), Long, G, B),
    field(&["golang", "heap", "allocations", "frees", "count"], S(Stat::Frees), Long, G, None),
    field(&["golang", "heap", "allocations", "idle", "bytes"], S(Stat::HeapIdle), Long, G, B),
    field(&["golang", "heap", "allocations", "object", "bytes"], S(Stat::HeapAlloc), Long, G, B),
    field(
        &["golang", "heap", "allocations", "object", "count"],
        S(Stat::HeapObjects),
        Long,
        G,
        None,
    ),
    field(&["golang", "heap", "allocations", "total", "bytes"], S(Stat::TotalAlloc), Long, C, B),
    field(&["golang", "heap", "cmdline"], Cmdline, Keyword, None, None),
    field(&["golang", "heap", "gc", "cpu_fraction"], S(Stat::GCCPUFraction), Float, G, None),
    field(&["golang", "heap", "gc", "next_gc_limit"], S(Stat::NextGC), Long, G, None),
    field(&["golang", "heap", "gc", "pause", "avg", "ns"], P(Pause::Avg), Float, G, NS),
    field(&["golang", "heap", "gc", "pause", "count"], P(Pause::Count), Long, G, None),
    field(&["golang", "heap", "gc", "pause", "max", "ns"], P(Pause::Max), Long, G, NS),
    field(&["golang", "heap", "gc", "pause", "missed", "count"], P(Pause::Missed), Long, G, None),
    field(&["golang", "heap", "gc", "pause", "p50", "ns"], P(Pause::P50), Long, G, NS),
    field(&["golang", "heap", "gc", "pause", "p90", "ns"], P(Pause::P90), Long, G, NS),
    field(&["golang", "heap", "gc", "pause", "p99", "ns"], P(Pause::P99), Long, G, NS),
    field(&["golang", "heap", "gc", "pause", "since"], P(Pause::Since), Keyword, None, None),
    field(&["golang", "heap", "gc", "pause", "sum", "ns"], P(Pause::Sum), Long, G, NS),
    field(&["golang", "heap", "gc", "pause", "total", "ns"], S(Stat::PauseTotalNs), Long, C, NS),
    field(&["golang", "heap", "gc", "total", "count"], S(Stat::NumGC), Long, C, None),
    field(&["golang", "heap", "mallocs", "count"], S(Stat::Mallocs), Long, G, None),
    field(&["golang", "heap", "system", "released", "bytes"], S(Stat::HeapReleased), Long, G, B),
    field(&["golang", "heap", "system", "stack", "bytes"], S(Stat::StackSys), Long, G, B),
    field(&["golang", "heap", "system", "total", "bytes"], S(Stat::HeapSys), Long, G, B),
];

/// The `golang.expvar` fields (Elastic's expvar ingest pipeline), sorted by path.
pub const EXPVAR_FIELDS: &[Field] = &[
    field(&["golang", "expvar", "buck_hash_sys", "bytes"], S(Stat::BuckHashSys), Long, G, B),
    field(&["golang", "expvar", "cmdline"], Cmdline, Keyword, None, None),
    field(&["golang", "expvar", "custom"], Custom, Flattened, None, None),
    field(&["golang", "expvar", "gc", "forced"], S(Stat::NumForcedGC), Long, C, None),
    field(&["golang", "expvar", "gc", "last_finished", "ns"], S(Stat::LastGC), Long, None, NS),
    field(&["golang", "expvar", "gc", "metadata", "memory", "bytes"], S(Stat::GCSys), Long, G, B),
    field(&["golang", "expvar", "mcache", "allocated", "bytes"], S(Stat::MCacheInuse), Long, G, B),
    field(&["golang", "expvar", "mcache", "obtained", "bytes"], S(Stat::MCacheSys), Long, G, B),
    field(&["golang", "expvar", "mspan", "allocated", "bytes"], S(Stat::MSpanInuse), Long, G, B),
    field(&["golang", "expvar", "mspan", "obtained", "bytes"], S(Stat::MSpanSys), Long, G, B),
    field(
        &["golang", "expvar", "obtained", "miscellaneous", "bytes"],
        S(Stat::OtherSys),
        Long,
        G,
        B,
    ),
    field(&["golang", "expvar", "obtained", "total", "bytes"], S(Stat::Sys), Long, G, B),
    field(&["golang", "expvar", "pointer", "lookups"], S(Stat::Lookups), Long, G, None),
    field(&["golang", "expvar", "stack", "bytes"], S(Stat::StackInuse), Long, G, B),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_so_events_need_no_sort() {
        for table in [HEAP_FIELDS, EXPVAR_FIELDS] {
            for pair in table.windows(2) {
                let (a, b) = (pair[0].path, pair[1].path);
                assert!(a < b, "{a:?} before {b:?}");
            }
        }
    }

    #[test]
    fn stat_keys_round_trip() {
        for table in [HEAP_FIELDS, EXPVAR_FIELDS] {
            for field in table {
                if let Source::Stat(stat) = field.source {
                    assert_eq!(Stat::from_key(stat.key()), Some(stat));
                }
            }
        }
        assert_eq!(Stat::from_key("PauseNs"), None);
    }

    /// The reader decodes a figure as a float exactly when its field is indexed as one.
    #[test]
    fn float_figures_are_float_fields() {
        for field in HEAP_FIELDS.iter().chain(EXPVAR_FIELDS) {
            if let Source::Stat(stat) = field.source {
                let float = field.mapping.es_type == EsType::Float;
                assert_eq!(stat.kind() == Kind::Float, float, "{:?}", field.path);
            }
        }
    }
}
