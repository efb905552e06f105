//! The name resolver of the egress HTTP client: it answers only with addresses egress has
//! already checked, so a name cannot resolve to one address when checked and another when
//! connected (DNS rebinding).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Checked addresses by host name, shared between egress and its client.
#[derive(Debug, Clone, Default)]
pub struct PinnedResolver {
    pinned: Arc<Mutex<HashMap<String, Vec<SocketAddr>>>>,
}

impl PinnedResolver {
    /// Records the checked addresses of `host`.
    pub fn pin(&self, host: &str, addrs: Vec<SocketAddr>) {
        self.pinned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.to_owned(), addrs);
    }
}

/// A name egress never checked: refusing it keeps the client from resolving on its own.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` was not checked by egress")]
struct Unchecked(String);

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let addrs = self
            .pinned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name.as_str())
            .cloned();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            match addrs {
                Some(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                None => Err(Box::new(Unchecked(name)) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}
