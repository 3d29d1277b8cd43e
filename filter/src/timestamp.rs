//! Times as the filter writes them in log lines.

/// An RFC 3339 UTC time with milliseconds (`2026-12-07T03:51:22.123Z`) from nanoseconds since
/// the Unix epoch.
pub fn rfc3339_millis(nanos: u64) -> String {
    let millis = nanos / 1_000_000;
    let secs = millis / 1000;
    let (year, month, day) = civil_date(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        millis % 1000
    )
}

/// The Gregorian (year, month, day) of a day count since 1970-01-01. Every 400 years hold
/// 146,097 days whatever year they start at, so whole cycles are skipped first and at most
/// 400 years and 12 months are walked.
fn civil_date(days: u64) -> (u64, u64, u64) {
    const CYCLE_DAYS: u64 = 146_097;
    let mut year = 1970 + 400 * (days / CYCLE_DAYS);
    let mut left = days % CYCLE_DAYS;
    loop {
        let length = if is_leap_year(year) { 366 } else { 365 };
        if left < length {
            break;
        }
        left -= length;
        year += 1;
    }
    let february = if is_leap_year(year) { 29 } else { 28 };
    let mut month = 1;
    for length in [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if left < length {
            break;
        }
        left -= length;
        month += 1;
    }
    (year, month, left + 1)
}

fn is_leap_year(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc_3339_utc_with_milliseconds() {
        let s = 1_000_000_000;
        for (nanos, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (999_999, "1970-01-01T00:00:00.000Z"),
            (1_796_615_482 * s + 123_456_789, "2026-12-07T03:51:22.123Z"),
            (1_767_225_600 * s, "2026-01-01T00:00:00.000Z"),
            // Leap days: a year divisible by 4, by 400, and 2100 (by 100, not a leap year).
            (951_782_400 * s, "2000-02-29T00:00:00.000Z"),
            (1_709_164_800 * s + 1_000_000, "2024-02-29T00:00:00.001Z"),
            (1_709_251_199 * s + 999_000_000, "2024-02-29T23:59:59.999Z"),
            (4_107_542_400 * s, "2100-03-01T00:00:00.000Z"),
            (4_107_542_399 * s, "2100-02-28T23:59:59.000Z"),
            (1_703_980_800 * s, "2023-12-31T00:00:00.000Z"),
            // Past 32-bit seconds, and the end of the u64 nanosecond range.
            (2_147_483_647 * s, "2038-01-19T03:14:07.000Z"),
            (2_147_483_648 * s, "2038-01-19T03:14:08.000Z"),
            (u64::MAX, "2554-07-21T23:34:33.709Z"),
        ] {
            assert_eq!(rfc3339_millis(nanos), want, "{nanos}");
        }
    }
}
