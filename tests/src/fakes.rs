//! Fakes of the outside services connectors talk to: HTTP servers on 127.0.0.1 that answer
//! like the services' documented APIs, pagination and rate-limit headers included.

pub mod copilot;
pub mod github;
pub mod grafana;
pub mod jira;
pub mod slack;

/// Locks a fake's data; a test that panicked while holding it leaves the data usable.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves `app` on a free port of 127.0.0.1 in a background task; returns the port.
async fn serve(app: axum::Router) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

/// The calendar date of a day number since 1970-01-01 (Howard Hinnant's civil-from-days).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
