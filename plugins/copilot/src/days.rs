//! Calendar days in UTC, as the reports name them (`2026-04-25`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of today, in UTC.
pub fn today() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or_default()
}

/// `YYYY-MM-DD` of a day number (Howard Hinnant's civil-from-days).
pub fn format(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The day number of `YYYY-MM-DD`, by searching near the year's start.
pub fn parse(text: &str) -> Option<i64> {
    let year: i64 = text.get(0..4)?.parse().ok()?;
    let start = (year - 1970) * 365 + (year - 1969).div_euclid(4) - 1;
    (start..start + 370).find(|d| format(*d) == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_as_the_reports_name_them() {
        assert_eq!(format(0), "1970-01-01");
        assert_eq!(format(20_454), "2026-01-01");
        assert_eq!(format(20_513), "2026-03-01", "after a February of 28 days");
        assert_eq!(format(19_782), "2024-02-29");
    }

    #[test]
    fn a_named_day_parses_back_and_nonsense_does_not() {
        for day in [0, 19_782, 20_454, 20_818] {
            assert_eq!(parse(&format(day)), Some(day));
        }
        assert_eq!(parse("2026-02-30"), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }
}
