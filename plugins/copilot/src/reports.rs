//! The organisation's 1-day usage reports: ask for each day since the cursor, follow the
//! signed download links (no token goes to them), read the NDJSON or JSON report files.
//! GitHub publishes a day's report late: a recent day that answers 204 stays pending and
//! is asked again on later runs, so its report is read once it exists — not lost behind
//! the cursor.

use serde_json::Value;
use sluice_sdk::http;
use sluice_sdk::{Error, Result, log, records, state};

use crate::{Config, PERMISSION_ADVICE, days};

/// The last day asked for: every day up to it was read, given up, or is pending.
const CURSOR: &str = "last_day";

/// Recent days that answered 204 (GitHub publishes a day's report late), asked again on
/// later runs until they have a report or leave the report delay: comma-separated.
const PENDING: &str = "pending_days";

/// Emits the reports of the days after the cursor up to yesterday, and of the pending
/// days; returns a note when GitHub has none, refuses them, or some are still pending, so
/// a run without reports ends well instead of failing again on every schedule.
pub fn sync(config: &Config) -> Result<Option<String>> {
    let yesterday = days::today() - 1;
    let first = state::get(CURSOR)
        .and_then(|day| days::parse(&day))
        .map_or(yesterday - i64::from(config.backfill_days) + 1, |last| {
            last + 1
        });
    let pending = pending_days(first);
    // A day is recent while GitHub may still publish its report.
    let recent = |day: i64| yesterday - day < i64::from(config.report_delay_days);
    let github = config.github();
    let mut still_pending = Vec::new();
    let mut with_data = 0usize;
    for day in pending.iter().copied().chain(first..=yesterday) {
        let name = days::format(day);
        let path = format!(
            "/orgs/{}/copilot/metrics/reports/organization-1-day",
            config.org
        );
        let response = github.get(&path).query("day", &name).send()?;
        match response.status {
            204 if recent(day) => still_pending.push(day),
            204 if pending.contains(&day) => {
                log::warn!(
                    "GitHub published no Copilot report for {name} within {} days; it is not asked again",
                    config.report_delay_days
                );
            }
            204 => {}
            // 403: the token or the org's policy; 422: the policy is off for the org.
            403 | 422 => {
                let reason = Error::Permission(format!(
                    "GitHub refused Copilot data of `{}` ({} {}): {PERMISSION_ADVICE}",
                    config.org,
                    response.status,
                    response.service_message()
                ));
                log::warn!("no Copilot usage reports: {reason}");
                return Ok(Some(format!("Copilot usage reports skipped: {reason}")));
            }
            _ => {
                let links: Value = github
                    .check(response)
                    .map_err(|e| config.explain(e))?
                    .json()?;
                for link in links
                    .get("download_links")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let url = link
                        .as_str()
                        .ok_or_else(|| Error::Upstream("a download link is not a string".into()))?;
                    read_report(url)?;
                }
                with_data += 1;
            }
        }
        if day >= first {
            state::set(CURSOR, &name);
        }
        // Pending days not asked yet stay pending if the run stops here (rate-limited).
        let names: Vec<String> = still_pending
            .iter()
            .chain(pending.iter().filter(|pending| **pending > day))
            .map(|d| days::format(*d))
            .collect();
        state::set(PENDING, &names.join(","));
    }
    log::info!("Copilot reports read for {with_data} days"; stream = "copilot_daily", days = with_data);
    let mut notes = Vec::new();
    if with_data == 0 && first <= yesterday {
        notes.push(format!(
            "GitHub has no Copilot usage report for `{}` from {} to {}: reports need Copilot seats with activity",
            config.org,
            days::format(first),
            days::format(yesterday)
        ));
    }
    if !still_pending.is_empty() {
        let names: Vec<String> = still_pending.iter().map(|d| days::format(*d)).collect();
        notes.push(format!(
            "Copilot reports not published yet, asked again on the next run: {}",
            names.join(", ")
        ));
    }
    Ok((!notes.is_empty()).then(|| notes.join("; ")))
}

/// The pending days before `first`, oldest first.
fn pending_days(first: i64) -> Vec<i64> {
    let mut pending: Vec<i64> = state::get(PENDING)
        .unwrap_or_default()
        .split(',')
        .filter_map(days::parse)
        .filter(|day| *day < first)
        .collect();
    pending.sort_unstable();
    pending.dedup();
    pending
}

/// Reads one report file (NDJSON, or one JSON object) and emits its days and breakdowns.
fn read_report(url: &str) -> Result<()> {
    // Signed, time-limited URLs: the token must not travel there.
    let text = http::get(url).send()?.error_for_status()?.text();
    let objects: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items,
        Ok(one) => vec![one],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()?,
    };
    for object in objects {
        let totals = match object.get("day_totals").and_then(Value::as_array) {
            Some(days) => days.clone(),
            None => vec![object],
        };
        for total in totals {
            emit_day(&total)?;
        }
    }
    Ok(())
}

/// One record for the day, and one per entry of each `totals_by_*` breakdown, keyed by
/// the entry's text fields (IDE, feature, language, model).
fn emit_day(total: &Value) -> Result<()> {
    let Some(day) = total.get("day").and_then(Value::as_str) else {
        return Ok(());
    };
    records::emit_one("copilot_daily", day, total)?;
    for (breakdown, entries) in total.as_object().into_iter().flatten() {
        let (true, Some(entries)) = (breakdown.starts_with("totals_by_"), entries.as_array())
        else {
            continue;
        };
        for entry in entries {
            let dimensions: Vec<&str> = entry
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| v.as_str())
                .collect();
            let mut record = entry.clone();
            record["day"] = Value::from(day);
            record["breakdown"] = Value::from(breakdown.as_str());
            records::emit_one(
                "copilot_daily",
                format!("{day}|{breakdown}|{}", dimensions.join("|")),
                &record,
            )?;
        }
    }
    Ok(())
}
