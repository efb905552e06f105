//! The live log feed: every line a company's runs write, as soon as it is kept, to every
//! viewer of that company's live log.
//!
//! One broadcast per company, filled by one reader of the database: a hundred viewers cost
//! one query per batch of kept lines, not a poll each. The reader wakes when this process
//! keeps lines for the company, when another host sharing PostgreSQL says it did (NOTIFY),
//! and every few seconds in case a notice was lost. Viewers filter the lines in memory and
//! fill gaps (a late start, a slow reader) from the database, by position.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use crate::store::{Heard, LogFilter, Store, StoreError, StoredLogLine};

/// Lines a viewer may fall behind before it reads the rest from the database.
const VIEWER_BUFFER: usize = 8192;

/// Lines read per query by a company's reader.
const READ_PAGE: i64 = 500;

/// How often a reader looks even when nothing woke it: lines whose notice was lost (or
/// which another host committed out of order) arrive at the latest this much later.
const SWEEP: Duration = Duration::from_secs(2);

/// How long before trying again when PostgreSQL cannot be listened to.
const RELISTEN: Duration = Duration::from_secs(5);

/// The feed of every company with viewers.
pub struct LogFeed {
    store: Store,
    companies: Mutex<HashMap<String, Arc<CompanyFeed>>>,
}

/// One company's broadcast and the reader that fills it.
struct CompanyFeed {
    lines: broadcast::Sender<Arc<StoredLogLine>>,
    wake: Notify,
    /// The position of the newest line broadcast.
    position: AtomicI64,
}

/// A viewer's place in a company's feed.
pub struct Subscription {
    /// Lines as they are kept, from `position` on.
    pub lines: broadcast::Receiver<Arc<StoredLogLine>>,
    /// Every line up to here was kept before the subscription began.
    pub position: i64,
}

impl LogFeed {
    /// A feed over `store`, following what it keeps (and, on PostgreSQL, what other hosts
    /// keep) from now on.
    pub fn start(store: Store) -> Arc<Self> {
        let feed = Arc::new(Self {
            store,
            companies: Mutex::default(),
        });
        tokio::spawn(follow_this_process(
            Arc::downgrade(&feed),
            feed.store.log_appends(),
        ));
        tokio::spawn(follow_other_hosts(Arc::downgrade(&feed)));
        feed
    }

    /// Joins a company's feed, starting its reader if it is the first viewer.
    pub async fn subscribe(self: &Arc<Self>, company: &str) -> Result<Subscription, StoreError> {
        if let Some(subscription) = self.join(company) {
            return Ok(subscription);
        }
        let start = self.store.last_log_seq(company).await?;
        let mut companies = self.companies();
        // Another viewer may have started the reader while this one read the position.
        if let Some(feed) = companies.get(company) {
            return Ok(Subscription {
                lines: feed.lines.subscribe(),
                position: feed.position.load(Ordering::SeqCst),
            });
        }
        let (sender, receiver) = broadcast::channel(VIEWER_BUFFER);
        let feed = Arc::new(CompanyFeed {
            lines: sender,
            wake: Notify::new(),
            position: AtomicI64::new(start),
        });
        companies.insert(company.to_owned(), feed.clone());
        tokio::spawn(read_company(Arc::clone(self), company.to_owned(), feed));
        Ok(Subscription {
            lines: receiver,
            position: start,
        })
    }

    fn join(&self, company: &str) -> Option<Subscription> {
        self.companies().get(company).map(|feed| Subscription {
            lines: feed.lines.subscribe(),
            position: feed.position.load(Ordering::SeqCst),
        })
    }

    /// Wakes the reader of `company`, if it has viewers.
    fn wake(&self, company: &str) {
        if let Some(feed) = self.companies().get(company) {
            feed.wake.notify_one();
        }
    }

    fn wake_all(&self) {
        for feed in self.companies().values() {
            feed.wake.notify_one();
        }
    }

    fn companies(&self) -> MutexGuard<'_, HashMap<String, Arc<CompanyFeed>>> {
        self.companies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads a company's new lines into its broadcast until its last viewer leaves.
async fn read_company(feed: Arc<LogFeed>, company: String, company_feed: Arc<CompanyFeed>) {
    loop {
        let _ = tokio::time::timeout(SWEEP, company_feed.wake.notified()).await;
        {
            // Leaving is decided under the same lock that joining takes, so a viewer who
            // joins now either keeps this reader or starts a new one.
            let mut companies = feed.companies();
            if company_feed.lines.receiver_count() == 0 {
                if companies
                    .get(&company)
                    .is_some_and(|current| Arc::ptr_eq(current, &company_feed))
                {
                    companies.remove(&company);
                }
                return;
            }
        }
        loop {
            let filter = LogFilter {
                after: Some(company_feed.position.load(Ordering::SeqCst)),
                limit: Some(READ_PAGE),
                ..LogFilter::default()
            };
            let lines = match feed.store.logs(&company, &filter).await {
                Ok(lines) => lines,
                Err(error) => {
                    tracing::warn!(%company, %error, "cannot read new log lines for the live log");
                    break;
                }
            };
            let full = i64::try_from(lines.len()).unwrap_or(i64::MAX) >= READ_PAGE;
            for line in lines {
                company_feed.position.store(line.seq, Ordering::SeqCst);
                // No receiver only means the last viewer just left.
                let _ = company_feed.lines.send(Arc::new(line));
            }
            if !full {
                break;
            }
        }
    }
}

/// Wakes readers when this process keeps lines.
async fn follow_this_process(
    feed: std::sync::Weak<LogFeed>,
    mut appends: broadcast::Receiver<Arc<str>>,
) {
    loop {
        let heard = appends.recv().await;
        let Some(feed) = feed.upgrade() else { return };
        match heard {
            Ok(company) => feed.wake(&company),
            Err(broadcast::error::RecvError::Lagged(_)) => feed.wake_all(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Wakes readers when another host sharing PostgreSQL keeps lines.
async fn follow_other_hosts(feed: std::sync::Weak<LogFeed>) {
    loop {
        let Some(store) = feed.upgrade().map(|feed| feed.store.clone()) else {
            return;
        };
        let mut listener = match store.log_appends_elsewhere().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other hosts' log lines; trying again");
                tokio::time::sleep(RELISTEN).await;
                continue;
            }
        };
        loop {
            let heard = listener.next().await;
            let Some(feed) = feed.upgrade() else { return };
            match heard {
                Ok(Heard::Company(company)) => feed.wake(&company),
                Ok(Heard::Reconnected) => feed.wake_all(),
                Err(error) => {
                    tracing::warn!(%error, "lost the listener for other hosts' log lines");
                    feed.wake_all();
                    break;
                }
            }
        }
        tokio::time::sleep(RELISTEN).await;
    }
}
