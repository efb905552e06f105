//! Egress: every outbound HTTP request a connector makes goes through here.
//!
//! A request goes out only if its host is both requested by the manifest and granted by
//! the admin; its name is resolved here and every address must be public unless that exact
//! host was granted as private and the server's operator allows that address; redirects
//! are followed here and checked again at each hop; credentials are injected by secret
//! name, only toward the hosts and in the headers the manifest binds the secret to, and
//! only over HTTPS unless the operator allowed that private host; answers are redacted of
//! every secret before the connector reads them; sizes and times are capped; rate limits
//! are waited out when the run has time left, and reported otherwise.

mod address;
mod allowlist;
mod binding;
mod private;
mod rate_limit;
mod resolver;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use futures::StreamExt as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::{Host, Url};

pub use address::non_public_reason;
pub use allowlist::{Allowlist, Grants, HostPattern, HostPatternError, Reach};
pub use binding::{SecretBinding, SecretBindings};
pub use private::{
    PrivateEntry, PrivateEntryError, PrivateReach, PrivateRefusal, Refused, is_metadata,
};

use crate::secrets::{Redactor, SecretSet};
use resolver::PinnedResolver;

/// Caps on what a connector sends and receives.
#[derive(Debug, Clone)]
pub struct EgressLimits {
    /// Largest request body.
    pub request_body_bytes: usize,
    /// Largest response body.
    pub response_body_bytes: usize,
    /// Most request headers.
    pub request_headers: usize,
    /// Longest request header name + value.
    pub header_bytes: usize,
    /// Longest a single request may take.
    pub request_timeout: Duration,
    /// Most redirects followed for one request.
    pub redirects: usize,
    /// Most times one request is retried after a rate limit.
    pub rate_limit_retries: usize,
}

impl Default for EgressLimits {
    fn default() -> Self {
        Self {
            request_body_bytes: 8 << 20,
            response_body_bytes: 32 << 20,
            request_headers: 64,
            header_bytes: 8 << 10,
            request_timeout: Duration::from_secs(60),
            redirects: 10,
            rate_limit_retries: 5,
        }
    }
}

/// Credentials the host injects, by secret name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Bearer <secret>`.
    Bearer {
        /// Secret name.
        secret: String,
    },
    /// `Authorization: Basic base64(username:<secret>)`.
    Basic {
        /// Plain-text user part.
        username: String,
        /// Secret name of the password.
        secret: String,
    },
    /// `<header>: <secret>`.
    Header {
        /// Header name.
        header: String,
        /// Secret name.
        secret: String,
    },
}

impl Credentials {
    /// The name of the secret injected.
    pub fn secret(&self) -> &str {
        match self {
            Self::Bearer { secret } | Self::Basic { secret, .. } | Self::Header { secret, .. } => {
                secret
            }
        }
    }

    /// The header the secret travels in, lower-case.
    fn header(&self) -> String {
        match self {
            Self::Bearer { .. } | Self::Basic { .. } => "authorization".to_owned(),
            Self::Header { header, .. } => header.to_ascii_lowercase(),
        }
    }
}

/// An outbound request as a connector asked for it.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Credentials to inject.
    pub credentials: Option<Credentials>,
}

/// A response handed back to the connector.
#[derive(Debug, Clone)]
pub struct InboundResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request got no response. Messages never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Refused before sending.
    #[error("denied: {0}")]
    Denied(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// Request or response over the caps.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The service asks for a longer wait than the run has; seconds to wait.
    #[error("rate limited for {0} s, longer than the run has left")]
    RateLimited(u32),
    /// Resolution, connection or TLS failure.
    #[error("network error: {0}")]
    Network(String),
}

/// Headers a connector may not set: the host owns them. Every `proxy-*` header is the
/// host's too: requests never go through a proxy, and one that did must not be steered by
/// a connector.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "user-agent",
];

/// Whether the host sets `header` itself, so neither a connector nor a manifest may name it.
pub fn host_owned_header(header: &str) -> bool {
    let header = header.to_ascii_lowercase();
    RESERVED_HEADERS.contains(&header.as_str()) || header.starts_with("proxy-")
}

/// Whether a connector's own `header` would carry credentials: those travel only as
/// secrets the host injects, checked against where the secret may go. A secret may still
/// be declared to travel in `cookie`; only the connector's own value is refused.
fn carries_credentials(header: &str) -> bool {
    let header = header.to_ascii_lowercase();
    header == "authorization" || header == "cookie" || header == "proxy-authorization"
}

/// One run's door to the outside.
#[derive(Debug)]
pub struct Egress {
    allowlist: Allowlist,
    secrets: SecretSet,
    bindings: SecretBindings,
    private: Arc<PrivateReach>,
    redactor: Redactor,
    limits: EgressLimits,
    deadline: Instant,
    resolver: PinnedResolver,
    client: OnceLock<reqwest::Client>,
    requests: AtomicU64,
}

impl Egress {
    /// Egress for one run, which must be over by `deadline`: `secrets` go only where
    /// `bindings` say, and private addresses are reached only as far as `private` allows.
    pub fn new(
        allowlist: Allowlist,
        secrets: SecretSet,
        bindings: SecretBindings,
        private: Arc<PrivateReach>,
        limits: EgressLimits,
        deadline: Instant,
    ) -> Self {
        Self {
            redactor: secrets.redactor(),
            allowlist,
            secrets,
            bindings,
            private,
            limits,
            deadline,
            resolver: PinnedResolver::default(),
            client: OnceLock::new(),
            requests: AtomicU64::new(0),
        }
    }

    /// How many requests went out, redirects and retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The client is built on the first request: runs that send none pay nothing for it.
    fn client(&self) -> Result<&reqwest::Client, EgressError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(self.resolver.clone()))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| EgressError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client))
    }

    /// Sends a request, waiting out rate limits that fit in the run.
    pub async fn send(&self, request: OutboundRequest) -> Result<InboundResponse, EgressError> {
        self.validate(&request)?;
        let mut attempt = 0;
        loop {
            let (response, headers) = self.send_following_redirects(&request).await?;
            let Some(wait) = rate_limit::wait(response.status, &headers, SystemTime::now()) else {
                return Ok(response);
            };
            let seconds = u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX);
            let fits = Instant::now() + wait + Duration::from_secs(1) < self.deadline;
            if !fits || attempt >= self.limits.rate_limit_retries {
                return Err(EgressError::RateLimited(seconds));
            }
            tracing::info!(
                seconds,
                status = response.status,
                "rate limited; waiting before retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn validate(&self, request: &OutboundRequest) -> Result<(), EgressError> {
        if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&request.method.as_str()) {
            return Err(EgressError::Denied(format!(
                "method `{}` is not allowed (GET, POST, PUT, PATCH, DELETE, HEAD)",
                request.method
            )));
        }
        if request.headers.len() > self.limits.request_headers {
            return Err(EgressError::TooLarge(format!(
                "{} request headers, over the cap of {}",
                request.headers.len(),
                self.limits.request_headers
            )));
        }
        for (name, value) in &request.headers {
            if name.len() + value.len() > self.limits.header_bytes {
                return Err(EgressError::TooLarge(format!(
                    "header `{name}` is {} bytes, over the cap of {}",
                    name.len() + value.len(),
                    self.limits.header_bytes
                )));
            }
            if carries_credentials(name) {
                return Err(EgressError::Denied(format!(
                    "header `{name}` carries credentials, which only the host injects; name a secret with `auth` to send credentials"
                )));
            }
            if host_owned_header(name) {
                return Err(EgressError::Denied(format!(
                    "header `{name}` is set by the host"
                )));
            }
        }
        if let Some(body) = &request.body
            && body.len() > self.limits.request_body_bytes
        {
            return Err(EgressError::TooLarge(format!(
                "request body of {} bytes, over the cap of {}",
                body.len(),
                self.limits.request_body_bytes
            )));
        }
        Ok(())
    }

    async fn send_following_redirects(
        &self,
        request: &OutboundRequest,
    ) -> Result<(InboundResponse, HeaderMap), EgressError> {
        let mut url = Url::parse(&request.url).map_err(|e| {
            EgressError::Denied(format!("`{}` is not a valid URL: {e}", request.url))
        })?;
        let first_origin = url.origin();
        let mut method = request.method.clone();
        let mut body = request.body.clone();
        let redactor = self.answer_redactor(request.credentials.as_ref());
        for _ in 0..=self.limits.redirects {
            refuse_userinfo(&url)?;
            let operator_private = self.check_destination(&url).await?;
            // Credentials go only to the origin the connector named, never to where a
            // redirect points.
            let credentials = (url.origin() == first_origin)
                .then_some(request.credentials.as_ref())
                .flatten();
            if let Some(credentials) = credentials {
                self.authorize(credentials, &url, operator_private)?;
            }
            let response = self
                .send_once(&method, &url, &request.headers, body.clone(), credentials)
                .await?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => {
                    url = url.join(location).map_err(|e| {
                        EgressError::Network(format!(
                            "redirect to an invalid location `{location}`: {e}"
                        ))
                    })?;
                    if status == 303 || (matches!(status, 301 | 302) && method == "POST") {
                        method = "GET".into();
                        body = None;
                    }
                }
                _ => return self.read_response(response, &redactor).await,
            }
        }
        Err(EgressError::Network(format!(
            "more than {} redirects starting at {}",
            self.limits.redirects, request.url
        )))
    }

    /// Checks scheme, grant and every resolved address, and pins the addresses. True when
    /// every address is a private one the server's operator allows.
    async fn check_destination(&self, url: &Url) -> Result<bool, EgressError> {
        let default_port = match url.scheme() {
            "https" => 443,
            "http" => 80,
            other => {
                return Err(EgressError::Denied(format!(
                    "scheme `{other}` is not allowed, only http and https"
                )));
            }
        };
        let host = url
            .host()
            .ok_or_else(|| EgressError::Denied(format!("`{url}` has no host")))?;
        let port = url.port().unwrap_or(default_port);
        let host_text = url.host_str().unwrap_or_default().to_owned();
        let reach = self
            .allowlist
            .check(&host_text, port, default_port)
            .map_err(EgressError::Denied)?;
        let addrs: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Host::Domain(domain) => {
                let lookup = tokio::net::lookup_host((domain, port));
                tokio::time::timeout(Duration::from_secs(10), lookup)
                    .await
                    .map_err(|_| EgressError::Network(format!("resolving `{domain}` timed out")))?
                    .map_err(|e| EgressError::Network(format!("cannot resolve `{domain}`: {e}")))?
                    .collect()
            }
        };
        if addrs.is_empty() {
            return Err(EgressError::Network(format!(
                "`{host_text}` has no addresses"
            )));
        }
        let mut every_private = true;
        for addr in &addrs {
            let Some(reason) = non_public_reason(addr.ip()) else {
                every_private = false;
                continue;
            };
            let subject = match host {
                Host::Domain(_) => format!("`{host_text}` resolves to {}, a", addr.ip()),
                _ => format!("`{host_text}` is a"),
            };
            if reach == Reach::PublicOnly {
                return Err(EgressError::Denied(format!(
                    "{subject} {reason} address; connectors reach non-public addresses only when the server's operator allows them ({} {host_text}:{port}) and an admin grants that exact host as private",
                    self.private.flag()
                )));
            }
            if let Err(refusal) = self.private.check(&host_text, port, addr.ip()) {
                let refused = Refused {
                    subject: &subject,
                    reason,
                    host: &host_text,
                    port,
                    ip: addr.ip(),
                };
                return Err(EgressError::Denied(self.private.refusal(refused, refusal)));
            }
        }
        self.resolver.pin(&host_text, addrs);
        Ok(every_private)
    }

    /// Whether `credentials` may go to `url`: toward a host and in a header the secret is
    /// bound to, and over HTTPS unless the operator allowed this private host.
    fn authorize(
        &self,
        credentials: &Credentials,
        url: &Url,
        operator_private: bool,
    ) -> Result<(), EgressError> {
        let name = credentials.secret();
        let binding = self
            .bindings
            .get(name)
            .ok_or_else(|| self.not_granted(name))?;
        let host = url.host_str().unwrap_or_default();
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        binding
            .check_host(name, host, port, default_port)
            .map_err(EgressError::Denied)?;
        binding
            .check_header(name, &credentials.header())
            .map_err(EgressError::Denied)?;
        if url.scheme() != "https" && !operator_private {
            return Err(EgressError::Denied(format!(
                "secret `{name}` is sent only over HTTPS; `{}` is plain HTTP, and only to a private host the server's operator allows may a secret go that way",
                url.origin().ascii_serialization()
            )));
        }
        Ok(())
    }

    /// The refusal of a secret the install was not given.
    fn not_granted(&self, name: &str) -> EgressError {
        let granted: Vec<&str> = self.secrets.names().collect();
        EgressError::Denied(format!(
            "secret `{name}` was not granted to this install (granted: {})",
            if granted.is_empty() {
                "none".to_owned()
            } else {
                granted.join(", ")
            }
        ))
    }

    /// What an answer is redacted with: every secret in every form the host sends one,
    /// including this request's `username:secret` pair when it authenticates with Basic.
    fn answer_redactor(&self, credentials: Option<&Credentials>) -> Redactor {
        match credentials {
            Some(Credentials::Basic { username, secret }) => match self.secrets.get(secret) {
                Some(value) => self.secrets.redactor_with(&format!("{username}:{value}")),
                None => self.redactor.clone(),
            },
            _ => self.redactor.clone(),
        }
    }

    async fn send_once(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        credentials: Option<&Credentials>,
    ) -> Result<reqwest::Response, EgressError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(EgressError::Timeout);
        }
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| EgressError::Denied(format!("method `{method}` is not valid")))?;
        let mut builder = self
            .client()?
            .request(method, url.clone())
            .timeout(remaining.min(self.limits.request_timeout));
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| EgressError::Denied(format!("`{name}` is not a valid header name")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                EgressError::Denied(format!("the value of header `{name}` is not valid"))
            })?;
            builder = builder.header(name, value);
        }
        if let Some(credentials) = credentials {
            let (name, value) = self.inject(credentials)?;
            builder = builder.header(name, value);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        builder.send().await.map_err(|e| self.network_error(&e))
    }

    /// The header carrying a secret's value. The value is marked sensitive so that no
    /// debug output of the client shows it.
    fn inject(&self, credentials: &Credentials) -> Result<(HeaderName, HeaderValue), EgressError> {
        let secret = |name: &str| self.secrets.get(name).ok_or_else(|| self.not_granted(name));
        let (name, text) = match credentials {
            Credentials::Bearer { secret: s } => (
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", secret(s)?),
            ),
            Credentials::Basic {
                username,
                secret: s,
            } => {
                let pair = format!("{username}:{}", secret(s)?);
                (
                    reqwest::header::AUTHORIZATION,
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    ),
                )
            }
            Credentials::Header { header, secret: s } => {
                let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    EgressError::Denied(format!("`{header}` is not a valid header name"))
                })?;
                if host_owned_header(name.as_str()) && name != reqwest::header::AUTHORIZATION {
                    return Err(EgressError::Denied(format!(
                        "header `{header}` is set by the host"
                    )));
                }
                (name, secret(s)?.to_owned())
            }
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            EgressError::Denied("a secret's value is not valid in an HTTP header".into())
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }

    /// The answer, redacted with `redactor` before the connector reads it: a service that
    /// echoes the credentials it got must not hand the connector the secret's value.
    async fn read_response(
        &self,
        response: reqwest::Response,
        redactor: &Redactor,
    ) -> Result<(InboundResponse, HeaderMap), EgressError> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let cap = self.limits.response_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(EgressError::TooLarge(format!(
                "response body over the cap of {cap} bytes"
            )));
        }
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.network_error(&e))?;
            if body.len() + chunk.len() > cap {
                return Err(EgressError::TooLarge(format!(
                    "response body over the cap of {cap} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let pairs = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    redactor.redact(&String::from_utf8_lossy(value.as_bytes())),
                )
            })
            .collect();
        Ok((
            InboundResponse {
                status,
                headers: pairs,
                body: redactor.redact_bytes(&body),
            },
            headers,
        ))
    }

    fn network_error(&self, error: &reqwest::Error) -> EgressError {
        if error.is_timeout() {
            return EgressError::Timeout;
        }
        // The chain holds the root cause (connection refused, TLS); the top only says
        // "error sending request".
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        EgressError::Network(self.redactor.redact(&message))
    }
}

/// Refuses a URL carrying a user name or password: credentials travel only as secrets the
/// host injects, and the URL's own would go wherever the URL points. The message leaves
/// them out.
fn refuse_userinfo(url: &Url) -> Result<(), EgressError> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    Err(EgressError::Denied(format!(
        "a URL to `{}` carries a user name or password (user:password@host); name a secret with `auth` to send credentials",
        url.host_str().unwrap_or_default()
    )))
}
