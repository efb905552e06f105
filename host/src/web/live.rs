//! The live log as a server-sent event stream: each kept line that passes the viewer's
//! filter, as an event whose id is the line's position, so a browser that reconnects
//! (sending `Last-Event-ID`) resumes where it left off and misses nothing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::api::{ApiError, ApiPath, ApiQuery, AppState, Caller, parse_log_filter};
use crate::store::{LogFilter, Role, StoredLogLine};

/// How often an idle stream sends a comment, so proxies keep it open and a dead viewer
/// is noticed.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// Lines read per query while a viewer catches up.
const CATCH_UP_PAGE: i64 = 500;

/// Which lines the live log streams.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// Only this install's lines.
    pub install: Option<String>,
    /// Only this run's lines.
    pub run: Option<String>,
    /// Only lines at this level or more serious: trace, debug, info, warn, error.
    pub level: Option<String>,
    /// Only lines from this source: plugin, stdio, host.
    pub source: Option<String>,
    /// Only lines containing this text, in any case.
    pub q: Option<String>,
    /// Start after this position (the `seq` of the last line already shown); without it,
    /// and without `Last-Event-ID`, the stream starts with the next line kept.
    pub after: Option<i64>,
}

/// Follows the company's log: an event `line` per kept line (its `id` is the line's
/// `seq`, its data the line as JSON), and a comment every 15 s while nothing happens.
#[utoipa::path(get, path = "/api/companies/{company}/logs/live", tag = "logs",
    params(("company" = String, Path, description = "The company's id"), LiveQuery,
           ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this line")),
    responses((status = 200, description = "An event stream (text/event-stream) of log lines", body = StoredLogLine, content_type = "text/event-stream"),
              (status = 400, description = "Bad filter", body = crate::api::ErrorBody),
              (status = 404, description = "No such company", body = crate::api::ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<LiveQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let filter = parse_log_filter(
        query.install,
        query.run,
        query.level.as_deref(),
        query.source,
        query.q,
    )?;
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("`Last-Event-ID` must be a line's seq".into())
                })?,
        ),
        None => query.after,
    };
    let subscription = state.log_feed.subscribe(&company).await?;
    let viewer = Viewer {
        store: state.store.clone(),
        company,
        filter,
        lines: subscription.lines,
        pending: VecDeque::new(),
        sent: resume.unwrap_or(subscription.position),
        catching_up: resume.is_some(),
    };
    let events = futures::stream::unfold(viewer, |mut viewer| async move {
        let line = viewer.next().await?;
        Some((Ok(event_of(&line)), viewer))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

fn event_of(line: &StoredLogLine) -> Event {
    let data = serde_json::to_string(line).unwrap_or_else(|_| "{}".to_owned());
    Event::default()
        .event("line")
        .id(line.seq.to_string())
        .data(data)
}

/// One viewer's way through the feed.
struct Viewer {
    store: crate::store::Store,
    company: String,
    filter: LogFilter,
    lines: broadcast::Receiver<Arc<StoredLogLine>>,
    pending: VecDeque<Arc<StoredLogLine>>,
    /// The position of the last line sent (or skipped as already seen).
    sent: i64,
    /// Reading from the database until it has nothing newer: at the start of a resumed
    /// stream, and after falling behind the broadcast.
    catching_up: bool,
}

impl Viewer {
    /// The next line to send; none when the stream ends.
    async fn next(&mut self) -> Option<Arc<StoredLogLine>> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                if line.seq <= self.sent || !self.filter.matches(&line) {
                    continue;
                }
                self.sent = line.seq;
                return Some(line);
            }
            if self.catching_up {
                let filter = LogFilter {
                    after: Some(self.sent),
                    limit: Some(CATCH_UP_PAGE),
                    ..self.filter.clone()
                };
                match self.store.logs(&self.company, &filter).await {
                    Ok(lines) if lines.is_empty() => self.catching_up = false,
                    Ok(lines) => self.pending.extend(lines.into_iter().map(Arc::new)),
                    Err(error) => {
                        tracing::warn!(company = %self.company, %error, "a live log viewer cannot catch up");
                        return None;
                    }
                }
                continue;
            }
            match self.lines.recv().await {
                Ok(line) => self.pending.push_back(line),
                Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
