//! When an install runs by itself: a cron expression read in an IANA timezone, or a fixed
//! interval; with an overlap policy and a jitter.
//!
//! Slots are instants. A cron slot is found in the schedule's timezone, so daylight-saving
//! changes mean what the zone means: a local time skipped by a spring-forward runs once at
//! the first instant after the gap, and a local time repeated by a fall-back runs once.

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

use crate::store::StoredSchedule;

/// The shortest interval a schedule may have: below it, the queue would be its own load.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest jitter: more would make the slot meaningless.
pub const MAX_JITTER: Duration = Duration::from_secs(3600);

/// What to do when a slot comes while the install's previous run goes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Skip the slot.
    #[default]
    Skip,
    /// Queue one run to follow the one going on; further slots are skipped until it starts.
    QueueOne,
}

impl Overlap {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::QueueOne => "queue_one",
        }
    }

    /// From what is stored; unknown text reads as the default.
    pub fn parse(text: &str) -> Self {
        if text == "queue_one" {
            Self::QueueOne
        } else {
            Self::Skip
        }
    }
}

/// Why a schedule was refused: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct ScheduleError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        message: message.into(),
    }
}

/// When slots come.
#[derive(Debug, Clone)]
pub enum Every {
    /// A cron expression in a timezone.
    Cron {
        /// The expression as given.
        expression: String,
        /// Parsed.
        cron: Box<Cron>,
        /// The zone it is read in.
        timezone: Tz,
    },
    /// A fixed interval from the previous slot.
    Interval(Duration),
}

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// When slots come.
    pub every: Every,
    /// Whether it runs.
    pub enabled: bool,
    /// What a slot does while the previous run goes on.
    pub overlap: Overlap,
    /// The most a run is delayed past its slot.
    pub jitter: Duration,
}

/// Parses a cron expression of five fields (minute first) or six (second first).
pub fn parse_cron(expression: &str) -> Result<Cron, ScheduleError> {
    let fields = expression.split_whitespace().count();
    if !expression.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(refuse(
            "cron",
            format!(
                "`{expression}` has {fields} fields; a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (a second first)"
            ),
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| {
            refuse(
                "cron",
                format!("`{expression}` is not a cron expression: {e}"),
            )
        })
}

/// Parses an IANA timezone name such as `Europe/Paris`.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    Tz::from_str(name).map_err(|_| {
        refuse(
            "timezone",
            format!("`{name}` is not an IANA timezone name (such as `UTC` or `Europe/Paris`)"),
        )
    })
}

impl Schedule {
    /// Checks a schedule's parts; the field at fault when one is wrong.
    pub fn new(
        cron: Option<&str>,
        interval: Option<Duration>,
        timezone: &str,
        enabled: bool,
        overlap: Overlap,
        jitter: Duration,
    ) -> Result<Self, ScheduleError> {
        let every = match (cron, interval) {
            (Some(expression), None) => Every::Cron {
                expression: expression.to_owned(),
                cron: Box::new(parse_cron(expression)?),
                timezone: parse_timezone(timezone)?,
            },
            (None, Some(interval)) => {
                if interval < MIN_INTERVAL {
                    return Err(refuse(
                        "interval",
                        format!(
                            "{} is shorter than the shortest interval, {}",
                            humantime::format_duration(interval),
                            humantime::format_duration(MIN_INTERVAL)
                        ),
                    ));
                }
                parse_timezone(timezone)?;
                Every::Interval(interval)
            }
            (Some(_), Some(_)) => {
                return Err(refuse("cron", "give `cron` or `interval`, not both"));
            }
            (None, None) => {
                return Err(refuse(
                    "cron",
                    "give `cron` (with `timezone`) or `interval`",
                ));
            }
        };
        if jitter > MAX_JITTER {
            return Err(refuse(
                "jitter",
                format!(
                    "{} is more than the longest jitter, {}",
                    humantime::format_duration(jitter),
                    humantime::format_duration(MAX_JITTER)
                ),
            ));
        }
        Ok(Self {
            every,
            enabled,
            overlap,
            jitter,
        })
    }

    /// A stored schedule, checked again: the stored text was checked when it was set,
    /// but a timezone can leave the database the host was built with.
    pub fn from_stored(stored: &StoredSchedule) -> Result<Self, ScheduleError> {
        let millis = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        Self::new(
            stored.cron.as_deref(),
            stored.interval_ms.map(millis),
            &stored.timezone,
            stored.enabled,
            Overlap::parse(&stored.overlap),
            millis(stored.jitter_ms),
        )
    }

    /// The first slot strictly after `after` (milliseconds since the epoch); none when
    /// the expression never matches again.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match &self.every {
            Every::Interval(interval) => {
                Some(after.saturating_add(i64::try_from(interval.as_millis()).unwrap_or(i64::MAX)))
            }
            Every::Cron { cron, timezone, .. } => {
                let instant = Utc.timestamp_millis_opt(after).single()?;
                let local: DateTime<Tz> = instant.with_timezone(timezone);
                cron.find_next_occurrence(&local, false)
                    .ok()
                    .map(|next| next.timestamp_millis())
            }
        }
    }

    /// The next `count` slots after `after`.
    pub fn upcoming(&self, after: i64, count: usize) -> Vec<i64> {
        let mut slots = Vec::with_capacity(count);
        let mut from = after;
        while slots.len() < count {
            match self.next_after(from) {
                Some(slot) => {
                    slots.push(slot);
                    from = slot;
                }
                None => break,
            }
        }
        slots
    }

    /// The delay of this install's runs past their slots: the same for every slot of one
    /// install, so every host computes the same due time, and spread across installs.
    pub fn jitter_for(&self, install: &str) -> i64 {
        let jitter = i64::try_from(self.jitter.as_millis()).unwrap_or(i64::MAX);
        if jitter == 0 {
            return 0;
        }
        // FNV-1a: stable across hosts and releases, unlike the standard hasher.
        let hash = install.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        i64::try_from(hash % u64::try_from(jitter + 1).unwrap_or(1)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .expect("a local time")
            .timestamp_millis()
    }

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("an RFC 3339 time")
            .timestamp_millis()
    }

    fn cron(expression: &str, zone: &str) -> Schedule {
        Schedule::new(
            Some(expression),
            None,
            zone,
            true,
            Overlap::Skip,
            Duration::ZERO,
        )
        .expect("a schedule")
    }

    #[test]
    fn spring_forward_runs_a_skipped_time_once_at_the_end_of_the_gap() {
        // Berlin skips 02:00–03:00 on 2026-03-29: 02:30 does not exist that day.
        let berlin = chrono_tz::Europe::Berlin;
        let schedule = cron("30 2 * * *", "Europe/Berlin");
        let slots = schedule.upcoming(at(berlin, 2026, 3, 28, 12, 0), 3);
        assert_eq!(
            slots,
            vec![
                utc("2026-03-29T01:00:00+00:00"), // 03:00 CEST, once
                utc("2026-03-30T00:30:00+00:00"), // 02:30 CEST
                utc("2026-03-31T00:30:00+00:00"),
            ],
            "{:?}",
            slots
                .iter()
                .map(|s| crate::store::format_ms(*s))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn fall_back_runs_a_repeated_time_once() {
        // New York repeats 01:00–02:00 on 2026-11-01.
        let new_york = chrono_tz::America::New_York;
        let schedule = cron("30 1 * * *", "America/New_York");
        let slots = schedule.upcoming(at(new_york, 2026, 10, 31, 12, 0), 3);
        assert_eq!(
            slots,
            vec![
                utc("2026-11-01T05:30:00+00:00"), // 01:30 EDT, the first of the two
                utc("2026-11-02T06:30:00+00:00"), // 01:30 EST
                utc("2026-11-03T06:30:00+00:00"),
            ]
        );
    }

    #[test]
    fn hourly_jobs_keep_every_real_hour_across_fall_back() {
        // On the repeated hour an hourly job runs at each real hour: 05:00 and 06:00 UTC
        // are both local 01:00, and each is a slot of its own.
        let schedule = cron("0 * * * *", "America/New_York");
        let slots = schedule.upcoming(utc("2026-11-01T04:30:00+00:00"), 3);
        assert_eq!(
            slots,
            vec![
                utc("2026-11-01T05:00:00+00:00"),
                utc("2026-11-01T06:00:00+00:00"),
                utc("2026-11-01T07:00:00+00:00"),
            ]
        );
    }

    #[test]
    fn a_cron_is_read_in_its_timezone() {
        let schedule = cron("0 6 * * *", "Asia/Tokyo");
        assert_eq!(
            schedule.next_after(utc("2026-12-04T00:00:00+00:00")),
            Some(utc("2026-12-04T21:00:00+00:00"))
        );
    }

    #[test]
    fn six_fields_start_with_seconds() {
        let schedule = cron("15 */5 * * * *", "UTC");
        assert_eq!(
            schedule.next_after(utc("2026-12-04T10:01:00+00:00")),
            Some(utc("2026-12-04T10:05:15+00:00"))
        );
    }

    #[test]
    fn intervals_count_from_the_previous_slot() {
        let schedule = Schedule::new(
            None,
            Some(Duration::from_secs(90)),
            "UTC",
            true,
            Overlap::QueueOne,
            Duration::ZERO,
        )
        .expect("a schedule");
        assert_eq!(schedule.upcoming(1_000, 2), vec![91_000, 181_000]);
    }

    #[test]
    fn refusals_name_the_field() {
        let bad = |cron: Option<&str>, interval: Option<u64>, zone: &str, jitter: u64| {
            Schedule::new(
                cron,
                interval.map(Duration::from_secs),
                zone,
                true,
                Overlap::Skip,
                Duration::from_secs(jitter),
            )
            .expect_err("refused")
            .to_string()
        };
        assert_eq!(
            bad(Some("61 * * * *"), None, "UTC", 0).split(':').next(),
            Some("`cron`")
        );
        assert!(
            bad(Some("* * *"), None, "UTC", 0).contains("has 3 fields"),
            "{}",
            bad(Some("* * *"), None, "UTC", 0)
        );
        assert_eq!(
            bad(Some("0 * * * *"), None, "Mars/Olympus", 0),
            "`timezone`: `Mars/Olympus` is not an IANA timezone name (such as `UTC` or `Europe/Paris`)"
        );
        assert_eq!(
            bad(None, None, "UTC", 0),
            "`cron`: give `cron` (with `timezone`) or `interval`"
        );
        assert!(bad(None, Some(0), "UTC", 0).starts_with("`interval`:"));
        assert!(bad(Some("0 * * * *"), None, "UTC", 7200).starts_with("`jitter`:"));
    }

    #[test]
    fn jitter_is_stable_per_install_and_within_bounds() {
        let schedule = Schedule::new(
            Some("0 2 * * *"),
            None,
            "UTC",
            true,
            Overlap::Skip,
            Duration::from_secs(60),
        )
        .expect("a schedule");
        let a = schedule.jitter_for("inst_a");
        assert_eq!(a, schedule.jitter_for("inst_a"));
        let spread: std::collections::BTreeSet<i64> = (0..100)
            .map(|i| schedule.jitter_for(&format!("inst_{i}")))
            .collect();
        assert!(spread.iter().all(|j| (0..=60_000).contains(j)));
        assert!(spread.len() > 90, "{} distinct delays", spread.len());
    }
}
