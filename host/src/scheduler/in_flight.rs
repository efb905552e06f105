//! The runs this host is running, so a cancel (from here or, through the database, from
//! another host) and a shutdown can stop them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// One run going on here.
struct Running {
    install: String,
    task: tokio::task::AbortHandle,
    /// Set once the run commits: from then on it is not stopped, the commit decides.
    committing: Arc<AtomicBool>,
}

/// The runs going on in this host, by run id.
#[derive(Default)]
pub(super) struct InFlight {
    runs: Mutex<HashMap<String, Running>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The map stays consistent whatever panicked while it was held.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InFlight {
    /// Notes a run that started here.
    pub(super) fn insert(
        &self,
        run: &str,
        install: &str,
        task: tokio::task::AbortHandle,
        committing: Arc<AtomicBool>,
    ) {
        lock(&self.runs).insert(
            run.to_owned(),
            Running {
                install: install.to_owned(),
                task,
                committing,
            },
        );
    }

    /// Forgets a run that ended.
    pub(super) fn remove(&self, run: &str) {
        lock(&self.runs).remove(run);
    }

    /// How many runs go on.
    pub(super) fn len(&self) -> usize {
        lock(&self.runs).len()
    }

    /// The ids of the runs going on.
    pub(super) fn ids(&self) -> Vec<String> {
        lock(&self.runs).keys().cloned().collect()
    }

    /// Stops a run unless it is committing.
    pub(super) fn abort_run(&self, run: &str) -> bool {
        let mut runs = lock(&self.runs);
        match runs.get(run) {
            Some(running) if !running.committing.load(Ordering::SeqCst) => {
                running.task.abort();
                runs.remove(run);
                true
            }
            _ => false,
        }
    }

    /// Stops an install's runs.
    pub(super) fn abort_install(&self, install: &str) {
        let ids: Vec<String> = lock(&self.runs)
            .iter()
            .filter(|(_, r)| r.install == install)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.abort_run(&id);
        }
    }

    /// Stops every run; how many were stopped.
    pub(super) fn abort_all(&self) -> usize {
        let mut runs = lock(&self.runs);
        for running in runs.values() {
            running.task.abort();
        }
        let stopped = runs.len();
        runs.clear();
        stopped
    }
}
