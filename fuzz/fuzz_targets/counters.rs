//! The collector against a model of Go's runtime, with the counters at their extremes: a process
//! (or several, restarting) runs GC cycles as `runtime/mgc.go` counts them (`NumGC` a `uint32`
//! that wraps, cycle `NumGC + 1` writing its pause and end at slot `NumGC % 256`), its wall clock
//! steps back and forth, hostile bodies carry any figures (0, 2^32 - 1, 2^32, 2^64 - 1, ...), and
//! the collector's state is carried through its text as the pipeline modules carry it.
//!
//! Built with overflow checks (cargo fuzz's default), so any arithmetic on a figure that is not
//! checked or saturating fails here. Asserted for every body:
//! - the push returns (a window is at most 256 entries, whatever the counts);
//! - `count <= 256`, and a window with `missed` has exactly 256;
//! - `since` is one of `previous_body`, `process_start`, `restart`;
//! - a true successor (a scrape of the same process as the previous good body, fewer than 2^31
//!   cycles later) is `previous_body` with `count + missed` equal to the cycles that ended, and
//!   its pauses added up exactly (when none was missed);
//! - a state read back from its text is the state written.
#![no_main]

use expvar_heap::{CollectionTime, Collector, CollectorState, PAUSE_RING_LEN};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A figure with a bias towards the values where arithmetic breaks.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Figure {
    Zero,
    U32Max,
    U32Wrap,
    U63,
    U64Max,
    /// One of the above, less a small amount.
    Below(Edge, u8),
    Any(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Edge {
    U32Max,
    U32Wrap,
    U64Max,
}

impl Figure {
    fn value(self) -> u64 {
        let edge = |edge| match edge {
            Edge::U32Max => u64::from(u32::MAX),
            Edge::U32Wrap => 1 << 32,
            Edge::U64Max => u64::MAX,
        };
        match self {
            Figure::Zero => 0,
            Figure::U32Max => edge(Edge::U32Max),
            Figure::U32Wrap => edge(Edge::U32Wrap),
            Figure::U63 => 1 << 63,
            Figure::U64Max => u64::MAX,
            Figure::Below(e, by) => edge(e) - u64::from(by),
            Figure::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// `cycles` GC cycles of the running process, each pausing `pause` ns, `gap` ns apart.
    Gc { cycles: u16, pause: u32, gap: u32 },
    /// Many cycles at once (past the ring, or most of the way to a wrap).
    ManyGc { cycles: u32 },
    /// The wall clock steps by this many seconds (back when negative).
    Clock { seconds: i32 },
    /// A scrape of the running process.
    Scrape,
    /// The process restarts: a new one, whose count and totals start where they are given.
    Restart { num_gc: Figure, totals: Figure },
    /// A body no Go runtime writes, with these figures and a ring of `ring` everywhere.
    Hostile {
        num_gc: Figure,
        last_gc: Figure,
        pause_total_ns: Figure,
        total_alloc: Figure,
        mallocs: Figure,
        ring: Figure,
    },
    /// The collector's state carried through its text to a new collector.
    Resume,
    /// A state line a host hands over, with any figures.
    State { num_gc: Figure, last_gc: Option<Figure>, totals: Option<Figure> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    start_num_gc: Figure,
    start_totals: Figure,
    steps: Vec<Step>,
}

/// Go's `runtime.MemStats` figures the collector reads, kept as the runtime keeps them.
#[derive(Clone)]
struct Runtime {
    num_gc: u32,
    /// Cycles run by this model since it started, to know how many ended between two scrapes.
    cycles: u64,
    last_gc: u64,
    pause_total_ns: u64,
    total_alloc: u64,
    mallocs: u64,
    pause_ns: [u64; PAUSE_RING_LEN],
    pause_end: [u64; PAUSE_RING_LEN],
}

impl Runtime {
    /// Totals start below 2^62 and grow by less than 2^32 a cycle: they never wrap in a run.
    fn new(num_gc: Figure, totals: Figure) -> Runtime {
        let totals = totals.value() >> 2;
        Runtime {
            num_gc: num_gc.value() as u32,
            cycles: 0,
            last_gc: 0,
            pause_total_ns: totals,
            total_alloc: totals,
            mallocs: totals,
            pause_ns: [0; PAUSE_RING_LEN],
            pause_end: [0; PAUSE_RING_LEN],
        }
    }

    /// One cycle, as `gcMarkTermination` records it, ending at `now`.
    fn gc(&mut self, pause: u64, now: u64) {
        let slot = (self.num_gc % PAUSE_RING_LEN as u32) as usize;
        self.pause_ns[slot] = pause;
        self.pause_end[slot] = now;
        self.num_gc = self.num_gc.wrapping_add(1);
        self.cycles += 1;
        self.last_gc = now;
        self.pause_total_ns += pause;
        self.total_alloc += 4096 + pause;
        self.mallocs += 1;
    }
}

fn list(ring: &[u64]) -> String {
    ring.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

#[allow(clippy::too_many_arguments)]
fn body(
    num_gc: u64,
    last_gc: u64,
    pause_total_ns: u64,
    total_alloc: u64,
    mallocs: u64,
    pause_ns: &[u64],
    pause_end: &[u64],
) -> String {
    format!(
        r#"{{"cmdline":["./svc"],"memstats":{{"TotalAlloc":{total_alloc},"Mallocs":{mallocs},"LastGC":{last_gc},"PauseTotalNs":{pause_total_ns},"PauseNs":[{}],"PauseEnd":[{}],"NumGC":{num_gc}}}}}"#,
        list(pause_ns),
        list(pause_end),
    )
}

fuzz_target!(|input: Input| {
    let mut collector = Collector::default();
    let mut runtime = Runtime::new(input.start_num_gc, input.start_totals);
    // Wall-clock time, in ns since the epoch.
    let mut now: u64 = 1_767_225_600_000_000_000;
    // The cycles the running process had run at the collector's last good body, when that body
    // was one of the running process's.
    let mut baseline: Option<u64> = None;
    for (i, step) in input.steps.into_iter().take(64).enumerate() {
        let time = CollectionTime { seconds: 1_767_225_600 + i as u64, nanoseconds: 0 };
        let (text, successor_of, scraped) = match step {
            Step::Gc { cycles, pause, gap } => {
                for _ in 0..cycles.min(600) {
                    now = now.saturating_add(u64::from(gap) + 1);
                    runtime.gc(u64::from(pause), now);
                }
                continue;
            }
            Step::ManyGc { cycles } => {
                // The ring holds the last 256; the count moves on by all of them.
                let skipped = u64::from(cycles).saturating_sub(PAUSE_RING_LEN as u64);
                runtime.num_gc = runtime.num_gc.wrapping_add(skipped as u32);
                runtime.cycles += skipped;
                runtime.total_alloc += skipped;
                for _ in 0..u64::from(cycles).min(PAUSE_RING_LEN as u64) {
                    now = now.saturating_add(1_000);
                    runtime.gc(7, now);
                }
                continue;
            }
            Step::Clock { seconds } => {
                let step = i64::from(seconds) * 1_000_000_000;
                now = now.saturating_add_signed(step);
                continue;
            }
            Step::Restart { num_gc, totals } => {
                runtime = Runtime::new(num_gc, totals);
                baseline = None;
                continue;
            }
            Step::Resume => {
                let state = collector.state();
                let carried = state.map(|state| {
                    let text = state.to_string();
                    let read: CollectorState = text.parse().expect("a state's own text reads");
                    assert_eq!(read, state, "{text}");
                    read
                });
                collector = Collector::default();
                collector.set_state(carried);
                continue;
            }
            Step::State { num_gc, last_gc, totals } => {
                let totals = totals.map(|t| t.value());
                let state = CollectorState {
                    num_gc: num_gc.value(),
                    last_gc: last_gc.map(Figure::value),
                    pause_total_ns: totals,
                    total_alloc: totals,
                    mallocs: totals,
                };
                collector.set_state(Some(state.to_string().parse().unwrap()));
                baseline = None;
                continue;
            }
            Step::Scrape => {
                let r = &runtime;
                let text = body(
                    u64::from(r.num_gc),
                    r.last_gc,
                    r.pause_total_ns,
                    r.total_alloc,
                    r.mallocs,
                    &r.pause_ns,
                    &r.pause_end,
                );
                (text, baseline.map(|cycles| (cycles, runtime.cycles)), true)
            }
            Step::Hostile { num_gc, last_gc, pause_total_ns, total_alloc, mallocs, ring } => {
                let ring = [ring.value(); PAUSE_RING_LEN];
                let text = body(
                    num_gc.value(),
                    last_gc.value(),
                    pause_total_ns.value(),
                    total_alloc.value(),
                    mallocs.value(),
                    &ring,
                    &ring,
                );
                (text, None, false)
            }
        };
        let events = collector.push(text.as_bytes(), time);
        assert_eq!(events.len(), 1);
        let event: Value = serde_json::from_str(&events[0].json).expect("an event is JSON");
        let pause = &event["golang"]["heap"]["gc"]["pause"];
        let count = pause["count"].as_u64().expect("every body here has a window");
        let missed = pause["missed"]["count"].as_u64().unwrap_or(0);
        let since = pause["since"].as_str().unwrap();
        assert!(count <= PAUSE_RING_LEN as u64, "{count}");
        assert!(missed == 0 || count == PAUSE_RING_LEN as u64, "{count} {missed}");
        assert!(["previous_body", "process_start", "restart"].contains(&since), "{since}");
        if let Some((before, after)) = successor_of {
            let ended = after - before;
            if ended < 1 << 31 {
                assert_eq!(since, "previous_body", "{ended} cycles of one process");
                assert_eq!(count + missed, ended);
                if missed == 0 {
                    let expected: u64 = (0..count)
                        .map(|k| {
                            let cycle = runtime.num_gc.wrapping_sub(k as u32 + 1);
                            runtime.pause_ns[(cycle % PAUSE_RING_LEN as u32) as usize]
                        })
                        .fold(0u64, u64::saturating_add);
                    assert_eq!(pause["sum"]["ns"].as_u64(), Some(expected));
                }
            }
        }
        // The collector's state is now this body's: a scrape of the running process, or not.
        baseline = scraped.then_some(runtime.cycles);
    }
});
