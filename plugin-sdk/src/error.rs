//! One error type for everything a connector does, so `?` works everywhere.

use crate::bindings::sluice::connector::types as wit;

/// A result whose error is the connector's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a connector's call failed. The host shows the text to the admin as it is, so say
/// what is wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The install's configuration is wrong.
    Config(String),
    /// The service rejected the credentials.
    Auth(String),
    /// The credentials lack a permission or scope the connector needs.
    Permission(String),
    /// The service failed or answered something the connector cannot use.
    Upstream(String),
    /// The service answered an error status that means neither bad credentials nor a
    /// missing permission nor a rate limit: a 404, a 409, a 5xx. The status is kept so a
    /// connector can act on it (`Error::Http { status: 404, .. }`) rather than on the text;
    /// the host sees it as an upstream error.
    Http {
        /// The HTTP status code.
        status: u16,
        /// The request, the status and the service's own explanation.
        message: String,
    },
    /// The service is rate-limiting us for this many more seconds; the run ends keeping
    /// its cursor and is retried later.
    RateLimited(u32),
    /// A bug in the connector.
    Internal(String),
}

impl Error {
    /// The HTTP status the service answered, for [`Error::Http`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Prefixes the message with where it happened, such as the service or the stream.
    #[must_use]
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        let wrap = |message: String| format!("{context}: {message}");
        match self {
            Self::Config(m) => Self::Config(wrap(m)),
            Self::Auth(m) => Self::Auth(wrap(m)),
            Self::Permission(m) => Self::Permission(wrap(m)),
            Self::Upstream(m) => Self::Upstream(wrap(m)),
            Self::Http { status, message } => Self::Http {
                status,
                message: wrap(message),
            },
            Self::RateLimited(seconds) => Self::RateLimited(seconds),
            Self::Internal(m) => Self::Internal(wrap(m)),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(m) => write!(f, "configuration error: {m}"),
            Self::Auth(m) => write!(f, "authentication failed: {m}"),
            Self::Permission(m) => write!(f, "permission missing: {m}"),
            Self::Upstream(m) | Self::Http { message: m, .. } => write!(f, "upstream error: {m}"),
            Self::RateLimited(seconds) => write!(f, "rate limited for {seconds} s"),
            Self::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    /// JSON that does not parse came from the service: configuration and state have
    /// helpers of their own that say so.
    fn from(error: serde_json::Error) -> Self {
        Self::Upstream(format!("unexpected JSON: {error}"))
    }
}

impl From<wit::HttpError> for Error {
    fn from(error: wit::HttpError) -> Self {
        match error {
            wit::HttpError::Denied(m) => Self::Config(m),
            wit::HttpError::Timeout => Self::Upstream("the request timed out".into()),
            wit::HttpError::TooLarge => {
                Self::Upstream("the request or its response is larger than the host allows".into())
            }
            wit::HttpError::RateLimited(seconds) => Self::RateLimited(seconds),
            wit::HttpError::Network(m) => Self::Upstream(format!("network error: {m}")),
        }
    }
}

impl From<Error> for wit::ConnectorError {
    fn from(error: Error) -> Self {
        match error {
            Error::Config(m) => Self::Config(m),
            Error::Auth(m) => Self::Auth(m),
            Error::Permission(m) => Self::Permission(m),
            Error::Upstream(m) | Error::Http { message: m, .. } => Self::Upstream(m),
            Error::RateLimited(seconds) => Self::RateLimited(seconds),
            Error::Internal(m) => Self::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_error_keeps_its_status_through_context() {
        let error = Error::Http {
            status: 404,
            message: "GET /x answered 404: Not Found".into(),
        }
        .context("repositories");
        assert_eq!(error.status(), Some(404));
        assert_eq!(
            error.to_string(),
            "upstream error: repositories: GET /x answered 404: Not Found"
        );
        assert_eq!(Error::Upstream("x".into()).status(), None);
    }

    #[test]
    fn the_host_sees_an_http_error_as_upstream() {
        let error = Error::Http {
            status: 503,
            message: "down".into(),
        };
        assert!(matches!(
            wit::ConnectorError::from(error),
            wit::ConnectorError::Upstream(message) if message == "down"
        ));
    }
}
