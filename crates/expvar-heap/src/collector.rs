//! The stateful collector: per-interval GC pauses for one scraped process.

use crate::event;
use crate::fields::Stat;
use crate::options::{Options, OptionsError};
use crate::read::{self, Body, PAUSE_RING_LEN, Want};
use crate::time::CollectionTime;

/// The GC cycles that ended between two bodies of one process, read from the `PauseNs` ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseWindow {
    /// Cycles whose pause is in the ring (at most 256).
    pub count: u64,
    /// Their pauses added up, in ns.
    pub sum_ns: u64,
    /// The longest of them, in ns (0 when there were none).
    pub max_ns: u64,
    /// `sum_ns / count`, rounded down (0 when there were none).
    pub avg_ns: u64,
    /// Cycles of the window that the ring no longer holds (more than 256 ended since the last body).
    pub missed: u64,
}

impl PauseWindow {
    /// The window of cycles `previous + 1 ..= num_gc` (1-based, as Go counts them). Cycle `n`'s pause
    /// is at `PauseNs[(n - 1) % 256]`; only the last 256 cycles are still there.
    pub fn between(previous: u64, num_gc: u64, pause_ns: &[u64; PAUSE_RING_LEN]) -> PauseWindow {
        let new = num_gc.saturating_sub(previous);
        let count = new.min(PAUSE_RING_LEN as u64);
        let mut window = PauseWindow { count, missed: new - count, ..PauseWindow::default() };
        for cycle in num_gc - count + 1..=num_gc {
            let pause = pause_ns[((cycle - 1) % PAUSE_RING_LEN as u64) as usize];
            window.sum_ns = window.sum_ns.saturating_add(pause);
            window.max_ns = window.max_ns.max(pause);
        }
        window.avg_ns = window.sum_ns.checked_div(count).unwrap_or(0);
        window
    }
}

/// A collector for one scraped process: push its bodies in the order they were collected and get
/// each one's events, the `golang.heap` event with `golang.heap.gc.pause.*` for the GC cycles that
/// ended since the previous body.
///
/// It remembers only the previous body's `NumGC`. That is enough because Go numbers GC cycles and
/// keeps the pause of each of the last 256 in `PauseNs`: the cycles since the previous body are
/// `previous + 1 ..= NumGC`, and the current body's ring still holds every one of them unless more
/// than 256 ended (those are counted as missed). Earlier rings add nothing the current one lacks.
///
/// - First body: there is no previous `NumGC`, so the window is every cycle since the process
///   started, as far as the ring still holds them.
/// - `NumGC` lower than last time: the process restarted; the window starts again from zero
///   (Metricbeat stayed at zero until the old count was passed, beats#6543).
/// - A body carrying a top-level `last_num_gc` (as the poller of Elastic's PR #4908 injects it)
///   uses that as the previous `NumGC`.
/// - A body without a usable `NumGC` or `PauseNs` gets no pause fields and leaves the state as it was.
#[derive(Clone, Debug)]
pub struct Collector {
    options: Options,
    last_num_gc: Option<u64>,
}

impl Collector {
    /// A collector that has seen no body yet. Fails for options Elasticsearch would refuse.
    pub fn new(options: Options) -> Result<Collector, OptionsError> {
        options.validate()?;
        Ok(Collector { options, last_num_gc: None })
    }

    /// The options every event of this collector is made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The `NumGC` of the last body that had one.
    pub fn last_num_gc(&self) -> Option<u64> {
        self.last_num_gc
    }

    /// The events of the next body of the process (one per dataset of the options, heap first).
    pub fn push(&mut self, body: &[u8], time: CollectionTime) -> Vec<String> {
        let want = Want { custom: self.options.datasets.expvar, pauses: true };
        let read = read::read_body(body, want);
        let pauses = read.as_ref().ok().and_then(|read| self.advance(read));
        event::build_all(body, &read, time, &self.options, pauses)
    }

    /// The window of this body, moving the state on to it.
    fn advance(&mut self, read: &Body<'_>) -> Option<PauseWindow> {
        let num_gc = read.stat(Stat::NumGC)?.as_u64()?;
        let pause_ns = read.pause_ns.as_deref()?;
        let previous = match read.last_num_gc.or(self.last_num_gc) {
            Some(previous) if previous <= num_gc => previous,
            _ => 0, // first body, or a restart
        };
        self.last_num_gc = Some(num_gc);
        Some(PauseWindow::between(previous, num_gc, pause_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pauses: &[(u64, u64)]) -> Box<[u64; PAUSE_RING_LEN]> {
        let mut ring = Box::new([0; PAUSE_RING_LEN]);
        for &(cycle, ns) in pauses {
            ring[((cycle - 1) % 256) as usize] = ns;
        }
        ring
    }

    #[test]
    fn window_of_new_cycles() {
        let ring = ring(&[(2, 5), (3, 10), (4, 30), (5, 20)]);
        let window = PauseWindow::between(2, 5, &ring);
        assert_eq!(window, PauseWindow { count: 3, sum_ns: 60, max_ns: 30, avg_ns: 20, missed: 0 });
        assert_eq!(PauseWindow::between(5, 5, &ring), PauseWindow::default());
    }

    #[test]
    fn window_past_the_ring_counts_the_missed_cycles() {
        // 600 cycles; the ring holds 345..=600, each pause equal to its cycle number.
        let ring = ring(&(345..=600).map(|c| (c, c)).collect::<Vec<_>>());
        let window = PauseWindow::between(40, 600, &ring);
        assert_eq!(window.count, 256);
        assert_eq!(window.missed, 560 - 256);
        assert_eq!(window.sum_ns, (345..=600).sum::<u64>());
        assert_eq!(window.max_ns, 600);
        assert_eq!(window.avg_ns, (345..=600).sum::<u64>() / 256);
    }
}
