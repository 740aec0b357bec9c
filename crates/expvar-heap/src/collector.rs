//! The stateful collector: per-interval GC pauses for one scraped process.

use std::fmt;
use std::str::FromStr;

use crate::event::{self, Event};
use crate::fields::{PAUSE_RING_LEN, Stat, pause_ring_slot};
use crate::framing::embedded_body;
use crate::pause::{PauseWindow, WindowStart};
use crate::read::{Body, Want, read_body};
use crate::time::CollectionTime;
use crate::valid::ValidOptions;

/// A collector for one scraped process: push its bodies in the order they were collected and get
/// each one's events, the `golang.heap` event with `golang.heap.gc.pause.*` for the GC cycles that
/// ended since the previous body.
///
/// It remembers a few figures of the previous body (its [`CollectorState`]). The previous `NumGC`
/// is enough for the window because Go numbers GC cycles and keeps the pause of each of the last
/// 256 in `PauseNs`: the cycles since the previous body are `previous + 1 ..= NumGC`, and the
/// current body's ring still holds every one of them unless more than 256 ended (those are counted
/// as missed). Earlier rings add nothing the current one lacks. The other figures tell whether the
/// process restarted in between.
///
/// - First body: there is no previous `NumGC`, so the window is every cycle since the process
///   started, as far as the ring still holds them.
/// - The process restarted: the window starts again from zero (Metricbeat stayed at zero until
///   the old count was passed, beats#6543, and missed a restart whose new process had already
///   passed it). [`CollectorState`] says which signs of a restart are read.
/// - A body carrying a top-level `last_num_gc` (as the poller of Elastic's PR #4908 injects it)
///   uses that as the previous `NumGC`.
/// - A body without a usable `NumGC` or `PauseNs` gets no pause fields and leaves the state as it was.
///
/// Each window says where it starts in `golang.heap.gc.pause.since`:
/// `process_start` on a first body, `restart` after a restart, `previous_body` otherwise.
///
/// A host that cannot keep a collector between bodies (a pooled plugin) carries its
/// [`Collector::state`] along with the next body and hands it back with [`Collector::set_state`].
#[derive(Clone, Debug, Default)]
pub struct Collector {
    options: ValidOptions,
    state: Option<CollectorState>,
}

/// What a [`Collector`] remembers of the last body that had a usable `NumGC` and `PauseNs`.
///
/// The process restarted between that body and the next when any sign a Go body gives says so:
///
/// - `PauseTotalNs`, `TotalAlloc` or `Mallocs` went down: each only ever grows in one process;
/// - `NumGC` went down, unless it wrapped: Go counts cycles in a `uint32`
///   (`runtime.MemStats.NumGC`), so a count past 4,294,967,295 starts again from 0. A count that
///   went down is taken as a wrap only when both counts fit 32 bits, the wrapped number of cycles
///   is under 2^31 (serial number arithmetic, RFC 1982), none of the figures above went down and
///   one of them grew, and, when the wrapped number of cycles is under 256, the ring agrees
///   (next point);
/// - the cycle that was the last one of the state is still in the next body's `PauseEnd` ring
///   (fewer than 256 cycles ended since), but it ended at another time than the state's
///   `LastGC`: a new process has already run at least as many cycles as the old one had (the case
///   the counts alone miss).
///
/// `LastGC` going down is no sign of its own: it is wall-clock time, which an NTP step or an
/// operator can set back between two scrapes of one process (and a restart that lowers `LastGC`
/// lowers `NumGC` too, or shows in the ring). It is kept for the `PauseEnd` comparison.
///
/// More than 255 cycles later the ring no longer holds that cycle, and only the figures tell.
///
/// No figure is trusted to be one a Go runtime writes: any pair of states, however extreme
/// (counts of 2^64 - 1, counts that went down by any amount), gives a window at once.
///
/// Its text form (`Display` and `FromStr`) is one line of `name=value` pairs separated by spaces,
/// e.g. `num_gc=61 last_gc=1767225600123456789 pause_total_ns=912000 total_alloc=88113152
/// mallocs=402113`, for hosts that carry the state outside the collector (as metadata of a
/// message, in a cache). Figures the body did not have are left out; names it does not know are
/// ignored when read, so that a later version can add figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectorState {
    /// `memstats.NumGC`: the GC cycles the process had completed.
    pub num_gc: u64,
    /// `memstats.LastGC`: when its last cycle ended, in ns since the Unix epoch (0 before the
    /// first). Go writes the same instant into `PauseEnd` for that cycle.
    pub last_gc: Option<u64>,
    /// `memstats.PauseTotalNs`: every pause of the process, added up.
    pub pause_total_ns: Option<u64>,
    /// `memstats.TotalAlloc`: the bytes it ever allocated.
    pub total_alloc: Option<u64>,
    /// `memstats.Mallocs`: the objects it ever allocated.
    pub mallocs: Option<u64>,
}

impl CollectorState {
    /// The state a body leaves: `None` without a usable `NumGC`.
    fn of(read: &Body<'_>) -> Option<CollectorState> {
        let figure = |stat| read.stat(stat).and_then(|n: crate::read::Number| n.as_u64());
        Some(CollectorState {
            num_gc: figure(Stat::NumGC)?,
            last_gc: figure(Stat::LastGC),
            pause_total_ns: figure(Stat::PauseTotalNs),
            total_alloc: figure(Stat::TotalAlloc),
            mallocs: figure(Stat::Mallocs),
        })
    }

    /// How many GC cycles ended between `self` and `next` when both are bodies of one process
    /// (whose `PauseEnd` ring, when usable, is `pause_end`); `None` when the process restarted in
    /// between, by the signs listed on the type.
    fn cycles_until(
        &self,
        next: &CollectorState,
        pause_end: Option<impl Fn(usize) -> u64>,
    ) -> Option<u64> {
        let compared = [
            (self.pause_total_ns, next.pause_total_ns),
            (self.total_alloc, next.total_alloc),
            (self.mallocs, next.mallocs),
        ];
        let mut grew = false;
        for pair in compared {
            if let (Some(before), Some(after)) = pair {
                if after < before {
                    return None;
                }
                grew |= after > before;
            }
        }
        let cycles = match next.num_gc.checked_sub(self.num_gc) {
            Some(cycles) => cycles,
            // Go's uint32 count wrapped, if every other count says it is the same process and the
            // count moved forward by serial number arithmetic (RFC 1982: by less than 2^31).
            None if grew && self.num_gc <= GO_NUM_GC_MAX && next.num_gc <= GO_NUM_GC_MAX => {
                let cycles = next.num_gc + (GO_NUM_GC_MAX - self.num_gc) + 1;
                if cycles > GO_NUM_GC_MAX / 2 {
                    return None;
                }
                cycles
            }
            None => return None,
        };
        match (pause_end, self.last_gc) {
            // The state's last cycle is still in the ring: it must have ended when LastGC said.
            (Some(pause_end), Some(last_gc))
                if last_gc != 0
                    && cycles < PAUSE_RING_LEN as u64
                    && pause_end(pause_ring_slot(self.num_gc)) != last_gc =>
            {
                None
            }
            _ => Some(cycles),
        }
    }
}

/// The largest `NumGC` Go writes: `runtime.MemStats.NumGC` is a `uint32`.
const GO_NUM_GC_MAX: u64 = u32::MAX as u64;

impl fmt::Display for CollectorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // itoa and plain string writes: a pooled plugin writes this on every message, and
        // `write!` with `{}` costs several times as many instructions.
        let mut digits = itoa::Buffer::new();
        f.write_str("num_gc=")?;
        f.write_str(digits.format(self.num_gc))?;
        for (name, value) in self.optional_figures() {
            if let Some(value) = value {
                f.write_str(" ")?;
                f.write_str(name)?;
                f.write_str("=")?;
                f.write_str(digits.format(value))?;
            }
        }
        Ok(())
    }
}

impl CollectorState {
    fn optional_figures(&self) -> [(&'static str, Option<u64>); 4] {
        [
            ("last_gc", self.last_gc),
            ("pause_total_ns", self.pause_total_ns),
            ("total_alloc", self.total_alloc),
            ("mallocs", self.mallocs),
        ]
    }
}

impl FromStr for CollectorState {
    type Err = String;

    /// Reads the text form; the error is a sentence saying what is wrong.
    fn from_str(text: &str) -> Result<CollectorState, String> {
        let mut num_gc = None;
        let mut state = CollectorState::default();
        for pair in text.split_whitespace() {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(format!("collector state: {pair:?} is not name=value"));
            };
            let slot = match name {
                "num_gc" => &mut num_gc,
                "last_gc" => &mut state.last_gc,
                "pause_total_ns" => &mut state.pause_total_ns,
                "total_alloc" => &mut state.total_alloc,
                "mallocs" => &mut state.mallocs,
                _ => continue, // a figure of a later version
            };
            let value = value.parse().map_err(|_| {
                format!("collector state: {name}={value:?} is not an unsigned integer")
            })?;
            *slot = Some(value);
        }
        state.num_gc = num_gc.ok_or_else(|| format!("collector state: no num_gc in {text:?}"))?;
        Ok(state)
    }
}

impl Collector {
    /// A collector that has seen no body yet, making its events with `options`.
    /// ([`Collector::default`] makes them with the integration's defaults.)
    pub fn new(options: ValidOptions) -> Collector {
        Collector { options, state: None }
    }

    /// The options every event of this collector is made with.
    pub fn options(&self) -> &ValidOptions {
        &self.options
    }

    /// What it remembers of the last body that had a usable `NumGC` and `PauseNs`.
    pub fn state(&self) -> Option<CollectorState> {
        self.state
    }

    /// Replaces what it remembers: with `Some`, it goes on as the collector that left that state
    /// would (its next body's window starts after `state.num_gc`, unless the process restarted);
    /// with `None`, its next body is a first body.
    pub fn set_state(&mut self, state: Option<CollectorState>) {
        self.state = state;
    }

    /// The `NumGC` of the last body that had one.
    pub fn last_num_gc(&self) -> Option<u64> {
        self.state.map(|state| state.num_gc)
    }

    /// The events of the next body of the process (one per dataset of the options, heap first).
    pub fn push(&mut self, body: &[u8], time: CollectionTime) -> Vec<Event> {
        events(body, Framing::Body, time, &self.options, Some(&mut self.state))
    }

    /// [`Collector::push`] of [`crate::record_body`]: the body a log shipper's record carries,
    /// or the record itself, which is read once when it is the body (as it is, most often).
    pub fn push_record(&mut self, record: &[u8], time: CollectionTime) -> Vec<Event> {
        events(record, Framing::Record, time, &self.options, Some(&mut self.state))
    }

    /// [`Collector::push_record`] of a record that its host wrote as JSON itself, as Fluent Bit
    /// writes each record for its `wasm` filter: valid by construction, its integers within 64
    /// bits. The parts no event needs are passed over by their structure ([`Want::host_json`]);
    /// for such a record the events are those of [`Collector::push_record`]. A body the record
    /// carries as a string is read checked, as always.
    pub fn push_host_record(&mut self, record: &[u8], time: CollectionTime) -> Vec<Event> {
        events(record, Framing::HostRecord, time, &self.options, Some(&mut self.state))
    }
}

/// What an input to the transform is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A `/debug/vars` body.
    Body,
    /// A log shipper's record, which may carry the body as a string ([`crate::record_body`]).
    Record,
    /// A record that its host wrote as JSON itself ([`Collector::push_host_record`]).
    HostRecord,
}

/// The one path from an input to its events, for the stateless transform (`state` is `None`) and
/// a collector (its state, moved on to this body): the input is read once for what the events
/// need (the pause figures only for a collector; where a body string is, only for a record), a
/// record that carries the body as a string has that body read instead, and the events are built
/// from the read, or from why it failed.
pub(crate) fn events(
    input: &[u8],
    framing: Framing,
    time: CollectionTime,
    options: &ValidOptions,
    state: Option<&mut Option<CollectorState>>,
) -> Vec<Event> {
    let previous = state.as_deref().and_then(|state| *state);
    let want = Want {
        custom: options.datasets.expvar,
        pauses: state.is_some(),
        embedded: framing != Framing::Body,
        host_json: framing == Framing::HostRecord,
        pause_ns_entry: previous.map(|state| pause_ring_slot(state.num_gc.wrapping_add(1))),
        pause_end_entry: previous.map(|state| pause_ring_slot(state.num_gc)),
    };
    let read = match read_body(input, want) {
        Ok(read) => read,
        Err(why) => return event::build_all(input, Err(&why.to_string()), time, options, None),
    };
    if framing != Framing::Body
        && let Some(body) = embedded_body(input, &read)
    {
        return events(&body, Framing::Body, time, options, state);
    }
    let pauses = state.and_then(|state| advance(state, &read));
    event::build_all(input, Ok(&read), time, options, pauses)
}

/// The window of a body read as `read`, moving the state on to it.
fn advance(state: &mut Option<CollectorState>, read: &Body<'_>) -> Option<PauseWindow> {
    let next = CollectorState::of(read)?;
    let pause_ns = read.pause_ns.as_ref()?;
    use WindowStart::{PreviousBody, ProcessStart, Restart};
    let (since, new) = match (read.last_num_gc, *state) {
        // The poller that annotated the body knows the previous NumGC.
        (Some(previous), _) => match next.num_gc.checked_sub(previous) {
            Some(new) => (PreviousBody, new),
            None => (Restart, next.num_gc),
        },
        (None, Some(state)) => {
            let pause_end = read.pause_end.as_ref().map(|ring| |index| ring.get(index));
            match state.cycles_until(&next, pause_end) {
                Some(new) => (PreviousBody, new),
                None => (Restart, next.num_gc),
            }
        }
        (None, None) => (ProcessStart, next.num_gc), // the first body
    };
    *state = Some(next);
    Some(PauseWindow::of_cycles(since, new, next.num_gc, |index| pause_ns.get(index)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: CollectorState = CollectorState {
        num_gc: 0,
        last_gc: None,
        pause_total_ns: None,
        total_alloc: None,
        mallocs: None,
    };
    const TIME: CollectionTime = CollectionTime { seconds: 1, nanoseconds: 0 };
    const RING: u64 = PAUSE_RING_LEN as u64;

    /// A process of the tests: started at `started` (ns since the epoch); its cycle `n` pauses `n`
    /// ns and ends at `started + n * 1000`; it has allocated `alloc_per_cycle` bytes (and
    /// objects) per cycle.
    #[derive(Clone, Copy)]
    struct Process {
        started: u64,
        alloc_per_cycle: u64,
    }

    impl Process {
        const A: Process = Process { started: 1_767_225_600_000_000_000, alloc_per_cycle: 4096 };
        /// Started later than A, allocating less per cycle.
        const B: Process = Process { started: 1_767_225_900_000_000_000, alloc_per_cycle: 16 };

        /// Its body after `num_gc` cycles, with `extra` top-level members.
        fn body(self, num_gc: u64, extra: &str) -> String {
            let (mut pause_ns, mut pause_end) =
                (vec![0u64; PAUSE_RING_LEN], vec![0u64; PAUSE_RING_LEN]);
            for cycle in num_gc.saturating_sub(RING) + 1..=num_gc {
                pause_ns[((cycle - 1) % RING) as usize] = cycle;
                pause_end[((cycle - 1) % RING) as usize] = self.started + cycle * 1000;
            }
            let last_gc = if num_gc == 0 { 0 } else { self.started + num_gc * 1000 };
            let list = |ring: &[u64]| ring.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            format!(
                r#"{{{extra}"memstats":{{"TotalAlloc":{},"Mallocs":{},"LastGC":{last_gc},"PauseTotalNs":{},"PauseNs":[{}],"PauseEnd":[{}],"NumGC":{num_gc}}}}}"#,
                (num_gc + 1) * self.alloc_per_cycle,
                (num_gc + 1) * self.alloc_per_cycle,
                num_gc * (num_gc + 1) / 2,
                list(&pause_ns),
                list(&pause_end),
            )
        }
    }

    /// A body of `num_gc` cycles with no figure but `NumGC` and `PauseNs`.
    fn bare_body(num_gc: u64) -> String {
        let body = Process::A.body(num_gc, "");
        let memstats: serde_json::Value = serde_json::from_str(&body).unwrap();
        let memstats = &memstats["memstats"];
        format!(r#"{{"memstats":{{"NumGC":{num_gc},"PauseNs":{}}}}}"#, memstats["PauseNs"])
    }

    /// The pause window of the body's heap event: (count, missed).
    fn window(collector: &mut Collector, body: &str) -> Option<(u64, u64)> {
        let event = collector.push(body.as_bytes(), TIME).remove(0);
        let event: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        let pause = &event["golang"]["heap"]["gc"]["pause"];
        Some((pause["count"].as_u64()?, pause["missed"]["count"].as_u64().unwrap_or(0)))
    }

    fn after(process: Process, num_gc: u64) -> Collector {
        let mut collector = Collector::default();
        window(&mut collector, &process.body(num_gc, "")).unwrap();
        collector
    }

    #[test]
    fn counts_from_the_last_good_body_across_failures() {
        let mut collector = Collector::default();
        assert_eq!(window(&mut collector, &bare_body(3)), Some((3, 0))); // first body: the ring
        assert_eq!(window(&mut collector, &bare_body(5)), Some((2, 0)));
        // A failed scrape (an error page) gets no window and leaves the state as it was.
        assert_eq!(window(&mut collector, "<html>502</html>"), None);
        assert_eq!(collector.last_num_gc(), Some(5));
        assert_eq!(window(&mut collector, &bare_body(9)), Some((4, 0)));
        // NumGC went down: a new process, counted from zero.
        assert_eq!(window(&mut collector, &bare_body(2)), Some((2, 0)));
    }

    #[test]
    fn a_last_num_gc_in_the_body_overrides_the_remembered_one() {
        let mut collector = Collector::default();
        assert_eq!(
            window(&mut collector, &bare_body(8).replace("{\"m", "{\"last_num_gc\":2,\"m")),
            Some((6, 0))
        );
        assert_eq!(
            window(&mut collector, &bare_body(10).replace("{\"m", "{\"last_num_gc\":7,\"m")),
            Some((3, 0))
        );
    }

    #[test]
    fn the_same_process_is_counted_on() {
        let mut collector = after(Process::A, 8);
        assert_eq!(window(&mut collector, &Process::A.body(8, "")), Some((0, 0)), "no new cycle");
        assert_eq!(window(&mut collector, &Process::A.body(61, "")), Some((53, 0)));
        assert_eq!(window(&mut collector, &Process::A.body(61 + 255, "")), Some((255, 0)));
        // 256 cycles on and more, the ring no longer holds the last one seen: the figures tell.
        assert_eq!(window(&mut collector, &Process::A.body(61 + 255 + 300, "")), Some((256, 44)));
    }

    #[test]
    fn a_restart_is_seen_with_fewer_equal_or_more_cycles_than_before() {
        for (before, now) in [(8, 3), (8, 0), (8, 8), (8, 61), (300, 301), (300, 555)] {
            let mut collector = after(Process::A, before);
            let expected = (now.min(RING), now.saturating_sub(RING));
            // Process B started later: its LastGC is later, so only PauseEnd, TotalAlloc and
            // Mallocs (which it grows more slowly) can tell.
            assert_eq!(
                window(&mut collector, &Process::B.body(now, "")),
                Some(expected),
                "{before} then {now}"
            );
        }
    }

    #[test]
    fn a_restart_is_seen_by_the_pause_end_ring_alone() {
        // A new process that allocated more than the old one: only its PauseEnd ring tells.
        let busier = Process { alloc_per_cycle: 1 << 20, ..Process::B };
        let mut collector = after(Process::A, 8);
        assert_eq!(window(&mut collector, &busier.body(61, "")), Some((61, 0)));
        // Then it is the process counted on.
        assert_eq!(window(&mut collector, &busier.body(64, "")), Some((3, 0)));
    }

    #[test]
    fn a_restart_past_the_ring_is_seen_by_the_figures_that_went_down() {
        let mut collector = after(Process::A, 8);
        // 600 cycles: the ring no longer holds cycle 8; TotalAlloc and Mallocs went down.
        assert_eq!(window(&mut collector, &Process::B.body(600, "")), Some((256, 344)));
        // A busier new process past the ring shows no sign at all: counted as the same (the
        // limit of what a body tells, documented on CollectorState).
        let busier = Process { alloc_per_cycle: 1 << 20, ..Process::B };
        let mut collector = after(Process::A, 8);
        assert_eq!(window(&mut collector, &busier.body(600, "")), Some((256, 336)));
    }

    #[test]
    fn a_body_that_only_looks_like_a_restart_is_counted_on() {
        // Figures missing from one body, or a PauseEnd ring that cannot be read, are no sign.
        let mut collector = after(Process::A, 8);
        assert_eq!(window(&mut collector, &bare_body(12)), Some((4, 0)));
        let mut collector = after(Process::A, 8);
        let broken_ring = Process::A.body(12, "").replace("\"PauseEnd\":[", "\"PauseEnd\":[1,");
        assert_eq!(window(&mut collector, &broken_ring), Some((4, 0)));
        // A process that has run no cycle yet has no LastGC to compare.
        let mut collector = after(Process::A, 0);
        assert_eq!(window(&mut collector, &Process::A.body(2, "")), Some((2, 0)));
    }

    /// `golang.heap.gc.pause.since` of the body's heap event.
    fn since(collector: &mut Collector, body: &str) -> Option<String> {
        let event = collector.push(body.as_bytes(), TIME).remove(0);
        let event: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        Some(event["golang"]["heap"]["gc"]["pause"]["since"].as_str()?.to_owned())
    }

    #[test]
    fn each_window_says_where_it_starts() {
        let mut collector = Collector::default();
        let mut next = |body: &str| since(&mut collector, body);
        assert_eq!(next(&Process::A.body(8, "")).as_deref(), Some("process_start"));
        assert_eq!(next(&Process::A.body(8, "")).as_deref(), Some("previous_body"), "no cycle");
        assert_eq!(next(&Process::A.body(20, "")).as_deref(), Some("previous_body"));
        assert_eq!(next("<html>502</html>"), None, "no window");
        assert_eq!(next(&Process::B.body(30, "")).as_deref(), Some("restart"));
        assert_eq!(next(&Process::B.body(31, "")).as_deref(), Some("previous_body"));
        // A poller's last_num_gc: counted from it, or a restart when it is past NumGC.
        let annotated = |last, num_gc| Process::B.body(num_gc, &format!("\"last_num_gc\":{last},"));
        assert_eq!(next(&annotated(31, 40)).as_deref(), Some("previous_body"));
        assert_eq!(next(&annotated(50, 2)).as_deref(), Some("restart"));
        // A fresh collector after a failed first scrape: the window still spans the process.
        let mut collector = Collector::default();
        assert_eq!(since(&mut collector, "not json"), None);
        assert_eq!(
            since(&mut collector, &Process::A.body(3, "")).as_deref(),
            Some("process_start")
        );
    }

    /// A Go runtime as `runtime/mgc.go` keeps its statistics: `NumGC` a `uint32` that wraps,
    /// cycle `NumGC + 1` writing its pause and end at slot `NumGC % 256` before the count moves
    /// on, `LastGC` the end of the last cycle (wall-clock time), the totals only growing.
    #[derive(Clone)]
    struct Runtime {
        num_gc: u32,
        last_gc: u64,
        pause_total_ns: u64,
        total_alloc: u64,
        pause_ns: Vec<u64>,
        pause_end: Vec<u64>,
    }

    impl Runtime {
        /// A runtime whose count is at `num_gc`, its ring full of cycles ending 1 ms apart.
        fn at(num_gc: u32) -> Runtime {
            let mut runtime = Runtime {
                num_gc: num_gc.wrapping_sub(RING as u32),
                last_gc: 0,
                pause_total_ns: 0,
                total_alloc: 0,
                pause_ns: vec![0; PAUSE_RING_LEN],
                pause_end: vec![0; PAUSE_RING_LEN],
            };
            for _ in 0..RING {
                runtime.gc(1_767_225_600_000_000_000 + u64::from(runtime.num_gc) * 1_000_000);
            }
            runtime
        }

        /// One cycle, ending at `end`, pausing 1000 ns plus its slot.
        fn gc(&mut self, end: u64) {
            let slot = (self.num_gc % RING as u32) as usize;
            self.pause_ns[slot] = 1000 + slot as u64;
            self.pause_end[slot] = end;
            self.num_gc = self.num_gc.wrapping_add(1);
            self.last_gc = end;
            self.pause_total_ns += 1000 + slot as u64;
            self.total_alloc += 4096;
        }

        fn body(&self) -> String {
            let list = |ring: &[u64]| ring.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            format!(
                r#"{{"memstats":{{"TotalAlloc":{},"Mallocs":{},"LastGC":{},"PauseTotalNs":{},"PauseNs":[{}],"PauseEnd":[{}],"NumGC":{}}}}}"#,
                self.total_alloc,
                self.total_alloc / 64,
                self.last_gc,
                self.pause_total_ns,
                list(&self.pause_ns),
                list(&self.pause_end),
                self.num_gc
            )
        }
    }

    #[test]
    fn a_clock_stepped_back_is_no_restart() {
        let mut runtime = Runtime::at(10);
        let mut collector = Collector::default();
        window(&mut collector, &runtime.body()).unwrap();
        // NTP sets the clock back 60 s: cycles 11 and 12 end before cycle 10 did.
        let stepped = runtime.last_gc - 60_000_000_000;
        runtime.gc(stepped);
        runtime.gc(stepped + 1_000_000);
        let event = collector.push(runtime.body().as_bytes(), TIME).remove(0);
        let event: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        let pause = &event["golang"]["heap"]["gc"]["pause"];
        assert_eq!(pause["since"], "previous_body");
        assert_eq!(pause["count"], 2);
    }

    #[test]
    fn num_gc_wraps_as_gos_uint32_does() {
        let mut runtime = Runtime::at(4_294_967_290);
        let mut collector = Collector::default();
        window(&mut collector, &runtime.body()).unwrap();
        for cycle in 0..11 {
            runtime.gc(runtime.last_gc + 1_000_000 + cycle);
        }
        assert_eq!(runtime.num_gc, 5);
        let event = collector.push(runtime.body().as_bytes(), TIME).remove(0);
        let event: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        let pause = &event["golang"]["heap"]["gc"]["pause"];
        assert_eq!(pause["since"], "previous_body");
        assert_eq!(pause["count"], 11);
        // The 11 pauses of the slots 250..=255 and 0..=4.
        let slots = (250..=255).chain(0..=4);
        assert_eq!(pause["sum"]["ns"], slots.map(|slot| 1000 + slot).sum::<u64>());
        // Past the wrap by more than the ring: the counts tell.
        let mut far = Runtime::at(4_294_967_000);
        let mut collector = Collector::default();
        window(&mut collector, &far.body()).unwrap();
        for _ in 0..1000 {
            far.gc(far.last_gc + 1_000_000);
        }
        assert_eq!(window(&mut collector, &far.body()), Some((256, 1000 - 256)));
        // A new process near the wrap whose counts went down is a restart all the same.
        let mut collector = Collector::default();
        window(&mut collector, &Runtime::at(4_294_967_290).body()).unwrap();
        let mut fresh = Runtime::at(5);
        fresh.total_alloc = 1;
        let event = collector.push(fresh.body().as_bytes(), TIME).remove(0);
        assert!(event.json.contains(r#""since":"restart""#), "{}", event.json);
    }

    #[test]
    fn counts_no_go_runtime_writes_still_give_a_window_at_once() {
        let max = u64::MAX;
        let huge =
            |num_gc: u64| bare_body(0).replace(r#""NumGC":0"#, &format!(r#""NumGC":{num_gc}"#));
        for (first, second, expected) in [
            (max, max, (0, 0)),
            (max - 1, max, (1, 0)),
            (0, max, (256, max - 256)),
            (max, 0, (0, 0)),
            (u64::from(u32::MAX), 0, (0, 0)),
            (u64::from(u32::MAX) + 1, 1 << 40, (256, (1 << 40) - (1 << 32) - 256)),
        ] {
            let mut collector = Collector::default();
            window(&mut collector, &huge(first)).unwrap();
            assert_eq!(
                window(&mut collector, &huge(second)),
                Some(expected),
                "{first} then {second}"
            );
        }
        // The same from a state line, as the pipeline modules carry it.
        let mut collector = Collector::default();
        collector.set_state(Some("num_gc=18446744073709551615".parse().unwrap()));
        assert_eq!(window(&mut collector, &huge(max)), Some((0, 0)));
        collector.set_state(Some("num_gc=18446744073709551615 last_gc=18446744073709551615 pause_total_ns=0 total_alloc=18446744073709551615 mallocs=0".parse().unwrap()));
        assert_eq!(window(&mut collector, &Process::A.body(3, "")), Some((3, 0)));
    }

    #[test]
    fn the_state_goes_on_in_a_resumed_collector() {
        let mut carried: Option<CollectorState> = None;
        let mut kept = Collector::default();
        for (process, num_gc) in
            [(Process::A, 3), (Process::A, 9), (Process::B, 9), (Process::B, 20), (Process::B, 20)]
        {
            let body = process.body(num_gc, "");
            // Through its text, as a pooled plugin carries it.
            let mut resumed = Collector::default();
            resumed.set_state(carried.map(|state| state.to_string().parse().unwrap()));
            let events = resumed.push(body.as_bytes(), TIME);
            assert_eq!(events, kept.push(body.as_bytes(), TIME), "{num_gc}");
            carried = resumed.state();
            assert_eq!(carried, kept.state());
        }
    }

    #[test]
    fn the_states_text() {
        let state = CollectorState {
            num_gc: 61,
            last_gc: Some(1_767_225_600_123_456_789),
            total_alloc: Some(88_113_152),
            ..EMPTY
        };
        let text = "num_gc=61 last_gc=1767225600123456789 total_alloc=88113152";
        assert_eq!(state.to_string(), text);
        assert_eq!(text.parse(), Ok(state));
        // Names of a later version are ignored; spaces are free.
        assert_eq!(format!("  {text} started=5\t").parse(), Ok(state));
        assert_eq!(
            "last_gc=5".parse::<CollectorState>(),
            Err(r#"collector state: no num_gc in "last_gc=5""#.to_owned())
        );
        assert_eq!(
            "num_gc=-1".parse::<CollectorState>(),
            Err(r#"collector state: num_gc="-1" is not an unsigned integer"#.to_owned())
        );
        assert_eq!(
            "num_gc".parse::<CollectorState>(),
            Err(r#"collector state: "num_gc" is not name=value"#.to_owned())
        );
    }
}
