//! The console's pages: one HTML shell for every page path, whose modules draw the page
//! from the JSON API with the session cookie. The shell and its files are answered with a
//! Content-Security-Policy that allows scripts only from this server and no inline script,
//! and refuses HTML built from strings (Trusted Types), so text a connector logged can
//! never run in a person's browser.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The shell as written; `{{assets}}` stands for the current asset prefix.
pub(super) const SHELL_TEMPLATE: &str = include_str!("../../console/index.html");

/// The shell with the current asset prefix.
static SHELL: LazyLock<String> =
    LazyLock::new(|| SHELL_TEMPLATE.replace("{{assets}}", &super::assets::prefix()));

/// What a console page may load and do: its own scripts, styles and API, nothing inline,
/// no framing, no HTML from strings.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
     trusted-types 'none'";

/// The console's routes: the pages and their files. Every page path answers the same
/// shell, so a link to any page (a filtered logs view, one log line) opens directly.
pub fn console<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(shell))
        .route("/signin", get(shell))
        .route("/password", get(shell))
        .route("/companies/{company}", get(shell))
        .route("/companies/{company}/{*page}", get(shell))
        .route("/assets/{version}/{*path}", get(super::assets::serve))
}

/// The page shell.
async fn shell() -> Response {
    let mut response = axum::response::Html(SHELL.as_str()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (
            HeaderName::from_static("content-security-policy"),
            CONTENT_SECURITY_POLICY,
        ),
        // The shell names the current files; a browser must ask again for it.
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Page URLs carry filters and search text; no other site needs them.
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy forbids inline script, so the shell must have none: every script loads
    /// from a file.
    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        let shell = SHELL.as_str();
        for (at, _) in shell.match_indices("<script") {
            let tag = &shell[at..at + shell[at..].find('>').expect("a closed tag")];
            assert!(tag.contains(" src="), "an inline script: {tag}");
        }
        assert!(!shell.contains("<style"), "an inline stylesheet");
        assert!(!shell.contains(" style="), "an inline style attribute");
        for (at, _) in shell.match_indices(" on") {
            let name: String = shell[at + 1..]
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            assert!(
                !shell[at + 1 + name.len()..].starts_with('='),
                "an inline event handler: {name}"
            );
        }
        assert!(!shell.contains("{{"), "a placeholder left: {shell}");
    }
}
