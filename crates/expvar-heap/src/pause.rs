//! The pause window: the GC cycles that ended between two bodies of one process, read from the
//! `PauseNs` ring of the later body.

use crate::fields::{PAUSE_RING_LEN, pause_ring_slot};

/// Where a pause window starts, written as `golang.heap.gc.pause.since` so that a chart or a
/// query can tell a window of one collection interval from one that spans the process's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum WindowStart {
    /// `previous_body`: the cycles that ended since the previous body of the same process (or
    /// since the `last_num_gc` a poller wrote into the body).
    #[default]
    PreviousBody,
    /// `process_start`: the collector had no previous body (its first, or the first after bodies
    /// it could not read), so the window is every cycle since the process started, as far as the
    /// ring still holds them: a span of unknown length, often far longer than an interval.
    ProcessStart,
    /// `restart`: the process restarted after the previous body, so the window is every cycle of
    /// the new process (all of which ended after the previous body).
    Restart,
}

impl WindowStart {
    /// The keyword written into `golang.heap.gc.pause.since`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            WindowStart::PreviousBody => "previous_body",
            WindowStart::ProcessStart => "process_start",
            WindowStart::Restart => "restart",
        }
    }
}

/// The GC cycles that ended between two bodies of one process, read from the `PauseNs` ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PauseWindow {
    /// Cycles whose pause is in the ring (at most 256).
    pub(crate) count: u64,
    /// Their pauses added up, in ns.
    pub(crate) sum_ns: u64,
    /// The longest of them, in ns (0 when there were none).
    pub(crate) max_ns: u64,
    /// `sum_ns / count`, rounded down (0 when there were none).
    pub(crate) avg_ns: u64,
    /// Cycles of the window that the ring no longer holds (more than 256 ended since the last body).
    pub(crate) missed: u64,
    /// The 50th, 90th and 99th percentiles of the held pauses, in ns, by nearest rank (the
    /// smallest pause that at least that share of the held pauses do not exceed); `None` when the
    /// window holds no cycle. Over the 256 held entries only when cycles were missed.
    pub(crate) percentiles: Option<Percentiles>,
    /// Where the window starts.
    pub(crate) since: WindowStart,
}

/// Pause percentiles of one window, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Percentiles {
    pub(crate) p50_ns: u64,
    pub(crate) p90_ns: u64,
    pub(crate) p99_ns: u64,
}

impl Percentiles {
    /// The nearest-rank percentiles of `pauses` (not empty), which it reorders. Three nested
    /// selections, not a sort: the median splits the pauses, p90 is selected among those above
    /// it, p99 among those above p90 (about 1.6 passes over the pauses where a sort makes
    /// log2(n); the pipeline modules run this on every body).
    fn of(pauses: &mut [u64]) -> Percentiles {
        let [r50, r90, r99] = [50, 90, 99].map(|percent| nearest_rank(pauses.len(), percent) - 1);
        // Each selection leaves the entries at or above its pick after it: the next is made there.
        let (_, &mut p50_ns, above) = pauses.select_nth_unstable(r50);
        let (p90_ns, above) = match r90 - r50 {
            0 => (p50_ns, above),
            offset => {
                let (_, &mut p90_ns, above) = above.select_nth_unstable(offset - 1);
                (p90_ns, above)
            }
        };
        let p99_ns = match r99 - r90 {
            0 => p90_ns,
            offset => *above.select_nth_unstable(offset - 1).1,
        };
        Percentiles { p50_ns, p90_ns, p99_ns }
    }
}

/// The rank (counted from 1) of the `percent`th percentile of `n` entries by nearest rank:
/// `ceil(percent / 100 * n)`, at least 1.
fn nearest_rank(n: usize, percent: usize) -> usize {
    (percent * n).div_ceil(100).max(1)
}

impl PauseWindow {
    /// The window of the `new` cycles that ended up to cycle `num_gc` (1-based, as Go counts
    /// them), starting at `since`. Cycle `n`'s pause is at `PauseNs[pause_ring_slot(n)]`, given by
    /// `pause_ns` (0 to 255), asked for each entry once, in cycle order, only when in the window;
    /// only the last 256 cycles are still there, the others are counted as missed.
    ///
    /// No figure of a body is trusted to be sane: the arithmetic wraps where Go's counter does
    /// (a window may span `NumGC`'s wrap) and saturates where a sum could pass 64 bits, so any
    /// pair of counts gives a window of at most 256 entries.
    pub(crate) fn of_cycles(
        since: WindowStart,
        new: u64,
        num_gc: u64,
        pause_ns: impl Fn(usize) -> u64,
    ) -> PauseWindow {
        let count = new.min(PAUSE_RING_LEN as u64);
        let mut window =
            PauseWindow { count, missed: new - count, since, ..PauseWindow::default() };
        // The first cycle of the window still held; `count` is at most 256.
        let first = num_gc.wrapping_sub(count).wrapping_add(1);
        let mut held = [0u64; PAUSE_RING_LEN];
        for (k, slot) in (0..count).zip(held.iter_mut()) {
            let pause = pause_ns(pause_ring_slot(first.wrapping_add(k)));
            *slot = pause;
            window.sum_ns = window.sum_ns.saturating_add(pause);
            window.max_ns = window.max_ns.max(pause);
        }
        window.avg_ns = window.sum_ns.checked_div(count).unwrap_or(0);
        let held = &mut held[..count as usize];
        window.percentiles = (!held.is_empty()).then(|| Percentiles::of(held));
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: u64 = PAUSE_RING_LEN as u64;

    fn ring(pauses: &[(u64, u64)]) -> Box<[u64; PAUSE_RING_LEN]> {
        let mut ring = Box::new([0; PAUSE_RING_LEN]);
        for &(cycle, ns) in pauses {
            ring[pause_ring_slot(cycle)] = ns;
        }
        ring
    }

    /// The window of `previous + 1 ..= num_gc` over `ring`, from the previous body.
    fn between(previous: u64, num_gc: u64, ring: &[u64; PAUSE_RING_LEN]) -> PauseWindow {
        let since = WindowStart::PreviousBody;
        PauseWindow::of_cycles(since, num_gc - previous, num_gc, |index| ring[index])
    }

    #[test]
    fn window_of_new_cycles() {
        let ring = ring(&[(2, 5), (3, 10), (4, 30), (5, 20)]);
        let window = between(2, 5, &ring);
        let since = WindowStart::PreviousBody;
        // Pauses 10, 30, 20: the median is the second of three, p90 and p99 the third.
        let percentiles = Some(Percentiles { p50_ns: 20, p90_ns: 30, p99_ns: 30 });
        assert_eq!(
            window,
            PauseWindow {
                count: 3,
                sum_ns: 60,
                max_ns: 30,
                avg_ns: 20,
                missed: 0,
                since,
                percentiles
            }
        );
        assert_eq!(between(5, 5, &ring), PauseWindow::default());
    }

    #[test]
    fn window_past_the_ring_counts_the_missed_cycles() {
        // 600 cycles; the ring holds the last 256, each pause equal to its cycle number.
        let first_held = 600 - RING + 1;
        let ring = ring(&(first_held..=600).map(|c| (c, c)).collect::<Vec<_>>());
        let window = between(40, 600, &ring);
        assert_eq!(window.count, RING);
        assert_eq!(window.missed, 560 - RING);
        assert_eq!(window.sum_ns, (first_held..=600).sum::<u64>());
        assert_eq!(window.max_ns, 600);
        assert_eq!(window.avg_ns, (first_held..=600).sum::<u64>() / RING);
        // Over the 256 held pauses (345..=600): ranks 128, 231 and 254 of them.
        let percentiles = Percentiles {
            p50_ns: first_held + 127,
            p90_ns: first_held + 230,
            p99_ns: first_held + 253,
        };
        assert_eq!(window.percentiles, Some(percentiles));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        // 1..=100 in a shuffled order: the pth percentile is p.
        let mut pauses: Vec<u64> = (1..=100).map(|k| (k * 37) % 101).collect();
        let p = Percentiles::of(&mut pauses);
        assert_eq!(p, Percentiles { p50_ns: 50, p90_ns: 90, p99_ns: 99 });
        // One pause is every percentile; ties and u64::MAX are plain values.
        assert_eq!(Percentiles::of(&mut [7]), Percentiles { p50_ns: 7, p90_ns: 7, p99_ns: 7 });
        let mut tied = [u64::MAX, 0, u64::MAX, 0];
        assert_eq!(
            Percentiles::of(&mut tied),
            Percentiles { p50_ns: 0, p90_ns: u64::MAX, p99_ns: u64::MAX }
        );
    }

    #[test]
    fn percentiles_agree_with_their_definition_for_every_length() {
        // Nearest rank: the smallest held pause that at least p % of the held pauses do not
        // exceed, checked by counting for every window length and a spread of values.
        for n in 1..=RING as usize {
            let pauses: Vec<u64> =
                (0..n as u64).map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 50).collect();
            let p = Percentiles::of(&mut pauses.clone());
            for (percent, got) in [(50, p.p50_ns), (90, p.p90_ns), (99, p.p99_ns)] {
                let covers =
                    |v: u64| pauses.iter().filter(|&&x| x <= v).count() * 100 >= percent * n;
                let want = pauses.iter().copied().filter(|&v| covers(v)).min().unwrap();
                assert_eq!(got, want, "p{percent} of {n} pauses");
            }
        }
    }

    #[test]
    fn an_empty_window_has_no_percentiles() {
        let ring = ring(&[(1, 5)]);
        assert_eq!(between(1, 1, &ring).percentiles, None);
        assert_eq!(
            between(0, 1, &ring).percentiles,
            Some(Percentiles { p50_ns: 5, p90_ns: 5, p99_ns: 5 })
        );
    }
}
