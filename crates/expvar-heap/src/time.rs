//! The collection time: given by the caller, because the transform reads no clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// When the body was collected, as seconds and nanoseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CollectionTime {
    pub seconds: u64,
    /// 0 to 999,999,999.
    pub nanoseconds: u32,
}

impl CollectionTime {
    /// A time of the system clock; one before 1970 counts as the epoch.
    pub fn from_system_time(time: SystemTime) -> CollectionTime {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        CollectionTime { seconds: since_epoch.as_secs(), nanoseconds: since_epoch.subsec_nanos() }
    }

    /// Nanoseconds since the Unix epoch (as Redpanda Connect's metadata and Go's `time.UnixNano`
    /// give it).
    pub fn from_unix_nanos(nanos: u64) -> CollectionTime {
        CollectionTime {
            seconds: nanos / 1_000_000_000,
            nanoseconds: (nanos % 1_000_000_000) as u32,
        }
    }

    /// Milliseconds since the Unix epoch (as JavaScript's `Date.now()` gives it).
    pub fn from_unix_millis(millis: u64) -> CollectionTime {
        CollectionTime { seconds: millis / 1000, nanoseconds: (millis % 1000) as u32 * 1_000_000 }
    }

    /// The time as Elasticsearch dates are usually written: RFC 3339, UTC, milliseconds
    /// (`2023-02-01T10:17:48.723Z`). Nanoseconds past 999,999,999 count as 999,999,999.
    pub fn to_rfc3339_millis(self) -> String {
        self.rfc3339_millis().as_str().to_owned()
    }

    /// [`CollectionTime::to_rfc3339_millis`] without an allocation.
    pub(crate) fn rfc3339_millis(self) -> Timestamp {
        let days = self.seconds / 86_400;
        let second_of_day = self.seconds % 86_400;
        let (year, month, day) = civil_from_days(days);
        let millis = u64::from(self.nanoseconds.min(999_999_999) / 1_000_000);
        // Four digits of year, or as many as it has past 9999 (at most 12 for 64-bit seconds).
        let year_digits = year.checked_ilog10().map_or(1, |log| log as usize + 1).max(4);
        let mut text = [0; Timestamp::CAPACITY];
        let len = year_digits + "-00-00T00:00:00.000Z".len();
        text[year_digits..len].copy_from_slice(b"-00-00T00:00:00.000Z");
        let mut put = |end: usize, mut value: u64, width: usize| {
            for slot in text[end - width..end].iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        let y = year_digits;
        put(y, year, y);
        put(y + 3, month, 2);
        put(y + 6, day, 2);
        put(y + 9, second_of_day / 3600, 2);
        put(y + 12, second_of_day / 60 % 60, 2);
        put(y + 15, second_of_day % 60, 2);
        put(y + 19, millis, 3);
        Timestamp { text, len }
    }
}

/// A formatted collection time, kept on the stack.
pub(crate) struct Timestamp {
    text: [u8; Timestamp::CAPACITY],
    len: usize,
}

impl Timestamp {
    /// A 12-digit year and the rest of the format.
    const CAPACITY: usize = 32;

    pub fn as_str(&self) -> &str {
        // Digits and ASCII punctuation only.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64, nanoseconds: u32) -> String {
        CollectionTime { seconds, nanoseconds }.to_rfc3339_millis()
    }

    /// The date of a day since 1970-01-01, counted apart from `civil_from_days`: whole 400-year
    /// Gregorian cycles (146,097 days each), then year by year and month by month.
    fn reference_date(days: u64) -> (u64, u64, u64) {
        let leap =
            |y: u64| y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let mut year = 1970 + days / 146_097 * 400;
        let mut rest = days % 146_097;
        loop {
            let length = if leap(year) { 366 } else { 365 };
            if rest < length {
                break;
            }
            rest -= length;
            year += 1;
        }
        let february = if leap(year) { 29 } else { 28 };
        let mut month = 1;
        for length in [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
            if rest < length {
                break;
            }
            rest -= length;
            month += 1;
        }
        (year, month, rest + 1)
    }

    /// The text agrees with a date counted apart and the formatter's padding everywhere, across
    /// the switch to a five-digit year, up to the last second a u64 holds.
    #[test]
    fn writes_what_the_formatter_writes() {
        assert_eq!(reference_date(0), (1970, 1, 1));
        assert_eq!(reference_date(11_016), (2000, 2, 29));
        let mut seconds = 0u64;
        loop {
            for nanoseconds in [0, 7_000_000, 999_999_999, 1_500_000_000] {
                let time = CollectionTime { seconds, nanoseconds };
                let (year, month, day) = reference_date(seconds / 86_400);
                let s = seconds % 86_400;
                let millis = nanoseconds.min(999_999_999) / 1_000_000;
                let expected = format!(
                    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
                    s / 3600,
                    s / 60 % 60,
                    s % 60
                );
                assert_eq!(time.to_rfc3339_millis(), expected, "{seconds} s");
            }
            seconds = match seconds {
                u64::MAX => break,
                s if s > u64::MAX / 3 => u64::MAX,
                s => s * 3 / 2 + 86_399,
            };
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        // The heap sample event of Elastic's integration.
        assert_eq!(at(1_675_246_668, 723_000_000), "2023-02-01T10:17:48.723Z");
        // A leap day, and the last nanosecond of a day.
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(1_767_225_599, 999_999_999), "2025-12-31T23:59:59.999Z");
    }

    #[test]
    fn times_convert_from_every_clock_the_adapters_have() {
        let expected = CollectionTime { seconds: 1_767_225_600, nanoseconds: 123_000_000 };
        assert_eq!(CollectionTime::from_unix_millis(1_767_225_600_123), expected);
        assert_eq!(CollectionTime::from_unix_nanos(1_767_225_600_123_000_000), expected);
        let system = UNIX_EPOCH + std::time::Duration::new(1_767_225_600, 123_000_000);
        assert_eq!(CollectionTime::from_system_time(system), expected);
        let before_1970 = UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert_eq!(CollectionTime::from_system_time(before_1970), CollectionTime::default());
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // 1970 to 2400: the day after each day is the next date of the calendar.
        let mut previous = civil_from_days(0);
        for days in 1..157_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = (y, m, d) == (py, pm + 1, 1);
            let next_year = (y, m, d) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
            assert!(next_day || next_month || next_year, "{previous:?} -> {:?}", (y, m, d));
            previous = (y, m, d);
        }
    }
}
