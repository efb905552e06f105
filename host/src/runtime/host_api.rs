//! The host side of the connector's imports: log, http, records, state, config.
//!
//! Every size that comes from the guest is checked here before the host keeps anything.
//! An import returns `Ok(Err(..))` for what the connector can handle, and `Err(..)` (a
//! trap) for a broken cap, which ends the run with a precise message.

use super::bindings::sluice::connector::{config, http, log, people, records, state};
use super::bindings::types::{self, Auth, HttpError, HttpRequest, HttpResponse, Item};
use super::log_sink::{Level, Source};
use super::outcome::{EmittedRecord, RunError};
use super::run_state::RunState;
use crate::egress::{Credentials, EgressError, OutboundRequest};
use crate::people::{Identity, Observation};

impl types::Host for RunState {}

impl log::Host for RunState {
    async fn write(
        &mut self,
        level: types::Level,
        message: String,
        fields: Vec<types::Header>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            types::Level::Trace => Level::Trace,
            types::Level::Debug => Level::Debug,
            types::Level::Info => Level::Info,
            types::Level::Warn => Level::Warn,
            types::Level::Error => Level::Error,
        };
        let fields = fields
            .into_iter()
            .take(self.limits.log_fields)
            .map(|h| (h.name, h.value))
            .collect();
        self.log.write(level, Source::Plugin, &message, fields);
        Ok(())
    }
}

impl http::Host for RunState {
    async fn send(
        &mut self,
        request: HttpRequest,
    ) -> wasmtime::Result<Result<HttpResponse, HttpError>> {
        let outbound = OutboundRequest {
            method: request.method.to_ascii_uppercase(),
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: request.body,
            credentials: request.auth.map(|auth| match auth {
                Auth::Bearer(secret) => Credentials::Bearer { secret },
                Auth::Basic(basic) => Credentials::Basic {
                    username: basic.username,
                    secret: basic.secret,
                },
                Auth::Header(header) => Credentials::Header {
                    header: header.name,
                    secret: header.secret,
                },
            }),
        };
        let method = outbound.method.clone();
        let url = without_userinfo(&outbound.url);
        match self.egress.send(outbound).await {
            Ok(response) => Ok(Ok(HttpResponse {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| types::Header { name, value })
                    .collect(),
                body: response.body,
            })),
            Err(error) => {
                // The connector gets a short variant; the admin reads the whole reason.
                self.log
                    .host(Level::Warn, &format!("{method} {url}: {error}"));
                Ok(Err(match error {
                    EgressError::Denied(message) => HttpError::Denied(message),
                    EgressError::Timeout => HttpError::Timeout,
                    EgressError::TooLarge(_) => HttpError::TooLarge,
                    EgressError::RateLimited(seconds) => HttpError::RateLimited(seconds),
                    EgressError::Network(message) => HttpError::Network(message),
                }))
            }
        }
    }
}

impl records::Host for RunState {
    async fn emit(
        &mut self,
        stream: String,
        items: Vec<Item>,
    ) -> wasmtime::Result<Result<(), String>> {
        if !self.streams.contains(&stream) {
            let declared: Vec<&str> = self.streams.iter().map(String::as_str).collect();
            return Ok(Err(format!(
                "stream `{}` is not declared in the manifest (declared: {})",
                cut_name(&stream),
                declared.join(", ")
            )));
        }
        if items.len() > self.limits.batch_items {
            return Ok(Err(format!(
                "a batch of {} records is over the cap of {}",
                items.len(),
                self.limits.batch_items
            )));
        }
        for item in &items {
            if let Err(problem) = self.check_item(item) {
                return Ok(Err(format!(
                    "record `{}` of `{stream}`: {problem}",
                    cut_name(&item.key)
                )));
            }
        }
        let batch_bytes: usize = items.iter().map(|i| i.key.len() + i.json.len()).sum();
        if self.record_bytes + batch_bytes > self.limits.run_record_bytes {
            let cap = self.limits.run_record_bytes;
            return Err(self.stop(RunError::Cap(format!(
                "the connector emitted more than {cap} bytes of records in one run"
            ))));
        }
        self.record_bytes += batch_bytes;
        *self.records_by_stream.entry(stream.clone()).or_default() += items.len() as u64;
        self.records
            .extend(items.into_iter().map(|item| EmittedRecord {
                stream: stream.clone(),
                key: item.key,
                json: item.json,
            }));
        Ok(Ok(()))
    }
}

impl RunState {
    fn check_item(&self, item: &Item) -> Result<(), String> {
        if item.key.is_empty() || item.key.len() > self.limits.name_bytes {
            return Err(format!(
                "the key must be 1 to {} bytes, not {}",
                self.limits.name_bytes,
                item.key.len()
            ));
        }
        let size = item.key.len() + item.json.len();
        if size > self.limits.record_bytes {
            return Err(format!(
                "{size} bytes, over the cap of {} bytes",
                self.limits.record_bytes
            ));
        }
        if !item.json.trim_start().starts_with('{') {
            return Err("the record must be a JSON object".into());
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&item.json)
            .map(|_| ())
            .map_err(|e| format!("not valid JSON: {e}"))
    }
}

impl state::Host for RunState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.state.get(&key).cloned())
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        if key.is_empty() || key.len() > self.limits.name_bytes {
            let cap = self.limits.name_bytes;
            return Err(self.stop(RunError::Cap(format!(
                "a state key must be 1 to {cap} bytes, not {}",
                key.len()
            ))));
        }
        if value.len() > self.limits.state_value_bytes {
            let cap = self.limits.state_value_bytes;
            return Err(self.stop(RunError::Cap(format!(
                "state value `{key}` of {} bytes is over the cap of {cap} bytes",
                value.len()
            ))));
        }
        if !self.state.contains_key(&key) && self.state.len() >= self.limits.state_entries {
            let cap = self.limits.state_entries;
            return Err(self.stop(RunError::Cap(format!("more than {cap} state entries"))));
        }
        let replaced = self.state.get(&key).map_or(0, |old| key.len() + old.len());
        let held = self.state_bytes - replaced + key.len() + value.len();
        // A run that starts over the cap (it was lowered) may still shrink its state.
        if held > self.limits.state_bytes && held > self.state_bytes {
            let cap = self.limits.state_bytes;
            return Err(self.stop(RunError::Cap(format!(
                "state value `{key}` would take the run's state to {held} bytes, over the cap of {cap} bytes"
            ))));
        }
        self.state_bytes = held;
        self.state.insert(key, value);
        Ok(())
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        // The run's state is what it commits, so a key gone from it reads as absent for the
        // rest of the run and is absent from the commit; its room is free again.
        if let Some(old) = self.state.remove(&key) {
            self.state_bytes -= key.len() + old.len();
        }
        Ok(())
    }
}

impl config::Host for RunState {
    async fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.config.clone())
    }
}

impl people::Host for RunState {
    async fn observe(
        &mut self,
        identity: people::Identity,
        verified_email: Option<String>,
        name: Option<String>,
    ) -> wasmtime::Result<()> {
        let cap = self.limits.name_bytes;
        let too_long = [
            Some(&identity.system),
            Some(&identity.id),
            verified_email.as_ref(),
            name.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|text| text.len() > cap);
        if too_long || identity.system.is_empty() || identity.id.is_empty() {
            return Err(self.stop(RunError::Cap(format!(
                "an identity's system, id, email and name must be 1 to {cap} bytes"
            ))));
        }
        if self.observations.len() >= self.limits.identities {
            let cap = self.limits.identities;
            return Err(self.stop(RunError::Cap(format!(
                "more than {cap} identities reported in one run"
            ))));
        }
        self.observations.push(Observation {
            identity: Identity {
                system: identity.system,
                id: identity.id,
            },
            verified_email,
            name,
        });
        Ok(())
    }

    async fn find(
        &mut self,
        identity: people::Identity,
    ) -> wasmtime::Result<Option<people::Person>> {
        let wanted = Identity {
            system: identity.system,
            id: identity.id,
        };
        Ok(self.people.find(&wanted).map(|person| people::Person {
            id: person.id,
            name: person.name,
            identities: person
                .identities
                .into_iter()
                .map(|i| people::Identity {
                    system: i.system,
                    id: i.id,
                })
                .collect(),
        }))
    }
}

/// The URL as the run's log shows it: without a user name or password it may carry.
fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            // Either fails only for URLs that cannot carry userinfo at all.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// A guest-chosen name shortened for an error message.
fn cut_name(name: &str) -> &str {
    let end = (0..=name.len().min(80))
        .rev()
        .find(|i| name.is_char_boundary(*i))
        .unwrap_or(0);
    &name[..end]
}
