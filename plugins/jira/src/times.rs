//! Jira's timestamps, `2026-01-01T10:30:00.000+0100`: written in the user's time zone, so
//! two of them compare as text only while their offsets agree — not across a change to or
//! from summer time. Compared here as instants.

/// Milliseconds since 1970-01-01T00:00:00Z of a Jira timestamp, if it is one.
pub fn instant(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second, millis) = (
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..23)?,
    );
    let sign = match text.get(23..24)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let offset = sign * (number(24..26)? * 60 + number(26..28)?);
    if text.len() != 28 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = ((days * 24 + hour) * 60 + minute) * 60 + second;
    Some((local - offset * 60) * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_instant_in_two_offsets_is_one_instant() {
        assert_eq!(instant("1970-01-01T00:00:00.000+0000"), Some(0));
        assert_eq!(
            instant("2026-01-01T01:05:00.000+0100"),
            instant("2026-01-01T00:05:00.000+0000")
        );
        assert_eq!(
            instant("2026-01-01T00:05:00.000+0000"),
            Some(1_767_225_900_000)
        );
        assert_eq!(
            instant("2025-12-31T19:35:00.250-0430"),
            Some(1_767_225_900_250)
        );
    }

    #[test]
    fn summer_time_orders_by_instant_not_by_text() {
        // 02:30 in summer time (+0200) is before 02:10 in winter time (+0100) of the same night.
        let summer = "2026-10-25T02:30:00.000+0200";
        let winter = "2026-10-25T02:10:00.000+0100";
        assert!(summer > winter, "as text, the wrong way round");
        assert!(instant(summer) < instant(winter));
    }

    #[test]
    fn what_is_not_a_jira_timestamp_is_none() {
        assert_eq!(instant("2026-01-01T00:05:00Z"), None);
        assert_eq!(instant("2026-13-01T00:05:00.000+0000"), None);
        assert_eq!(instant("yesterday"), None);
        assert_eq!(instant(""), None);
    }
}
