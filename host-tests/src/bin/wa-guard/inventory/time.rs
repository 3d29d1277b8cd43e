//! Timestamps of log lines, as milliseconds since the Unix epoch (UTC): the filter's `ts`
//! (RFC 3339) or, for older lines without it, Envoy's own line prefix
//! (`[2026-12-07 03:51:22.123][...]`, which Envoy writes in its local time: UTC in containers).

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse: (year, month, day) of a day number.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A run of ASCII digits at the start of `s`, of exactly `n` digits.
fn digits(s: &str, n: usize) -> Option<i64> {
    let d = s.get(..n)?;
    if d.bytes().all(|b| b.is_ascii_digit()) {
        d.parse().ok()
    } else {
        None
    }
}

/// `YYYY-MM-DD?HH:MM:SS[.fff...]`, where `?` is `T`, `t` or a space; returns the milliseconds
/// and the rest of the string.
fn date_time(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let year = digits(s, 4)?;
    let month = digits(s.get(5..)?, 2)?;
    let day = digits(s.get(8..)?, 2)?;
    let hour = digits(s.get(11..)?, 2)?;
    let minute = digits(s.get(14..)?, 2)?;
    let second = digits(s.get(17..)?, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let first3: String = fraction.chars().take(n.min(3)).collect();
        millis = format!("{first3:0<3}").parse().ok()?;
        rest = fraction.get(n..)?;
    }
    let days = days_from_civil(year, month, day);
    let ms = ((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000) + millis;
    Some((ms, rest))
}

/// RFC 3339 (`2026-12-07T03:51:22.123Z`, `...+02:00`), as milliseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (ms, rest) = date_time(s.trim())?;
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            sign * (digits(rest.get(1..)?, 2)? * 60 + digits(rest.get(4..)?, 2)?)
        }
    };
    Some(ms - offset_minutes * 60_000)
}

/// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z: a time outside is a broken clock or a
/// forged line, and is left out of the period and the timeline.
const PLAUSIBLE_MS: std::ops::Range<i64> = 946_684_800_000..4_102_444_800_000;

/// Whether a time is inside 2000..2100 (UTC).
pub fn plausible(ms: i64) -> bool {
    PLAUSIBLE_MS.contains(&ms)
}

/// Envoy's default prefix `[2026-12-07 03:51:22.123][thread][level]...`.
pub fn parse_envoy_prefix(line: &str) -> Option<i64> {
    let (ms, rest) = date_time(line.strip_prefix('[')?)?;
    rest.starts_with(']').then_some(ms)
}

/// `2026-12-07T03:51:22.123Z`.
pub fn format_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1_000, rest % 1_000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// `2026-12-07T03:50:00Z`: a bucket's start, to the second.
pub fn format_seconds(ms: i64) -> String {
    let full = format_millis(ms);
    match full.get(..19) {
        Some(head) => format!("{head}Z"),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ms = parse_rfc3339("2026-12-07T03:51:22.123Z").unwrap();
        assert_eq!(format_millis(ms), "2026-12-07T03:51:22.123Z");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-12-07T05:51:22.123+02:00"),
            Some(ms),
            "an offset is taken off"
        );
        assert_eq!(format_seconds(ms), "2026-12-07T03:51:22Z");
        assert_eq!(
            parse_envoy_prefix("[2026-12-07 03:51:22.123][12][info][wasm] x"),
            Some(ms)
        );
        assert_eq!(parse_rfc3339("2026-13-07T03:51:22Z"), None);
        assert!(plausible(ms));
        assert!(plausible(parse_rfc3339("2000-01-01T00:00:00Z").unwrap()));
        assert!(!plausible(
            parse_rfc3339("1999-12-31T23:59:59.999Z").unwrap()
        ));
        assert!(!plausible(parse_rfc3339("2100-01-01T00:00:00Z").unwrap()));
        assert!(!plausible(parse_rfc3339("0000-01-01T00:00:00Z").unwrap()));
        assert_eq!(parse_rfc3339("2026-12-07T03:51"), None);
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z")
                .map(format_millis)
                .as_deref(),
            Some("2024-02-29T00:00:00.000Z")
        );
    }
}
