//! The console's files — its stylesheet, icon and JavaScript modules from `host/console/` —
//! compiled into the binary, so `sluice serve` needs nothing beside it and no Node
//! toolchain. They are served under a path that carries a digest of them all, so a browser
//! keeps them until the binary changes and never runs a stale mix of old and new modules.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

/// One embedded file.
struct Asset {
    /// Its path under `host/console/` and under the asset prefix.
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }),*]
    };
}

/// Every file the console loads. `index.html` is not here: it is the page shell
/// (`pages.rs`), never cached, because it names the current digest.
const FILES: &[Asset] = embed![
    "console.css",
    "icon.svg",
    "js/api.js",
    "js/app.js",
    "js/dom.js",
    "js/format.js",
    "js/logview.js",
    "js/router.js",
    "js/schema_form.js",
    "js/session.js",
    "js/text.js",
    "js/pages/audit.js",
    "js/pages/deliveries.js",
    "js/pages/home.js",
    "js/pages/install.js",
    "js/pages/installs.js",
    "js/pages/logs.js",
    "js/pages/marketplace.js",
    "js/pages/members.js",
    "js/pages/password.js",
    "js/pages/people.js",
    "js/pages/run.js",
    "js/pages/runs.js",
    "js/pages/secrets.js",
    "js/pages/signin.js",
    "js/pages/tokens.js",
];

/// The digest of every file, the shell included: the version in asset paths.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = sha2::Sha256::new();
    digest.update(super::pages::SHELL_TEMPLATE.as_bytes());
    for file in FILES {
        digest.update(file.path.as_bytes());
        digest.update((file.bytes.len() as u64).to_le_bytes());
        digest.update(file.bytes);
    }
    hex::encode(&digest.finalize()[..8])
});

/// Where the current files are served: `/assets/{digest}`.
pub fn prefix() -> String {
    format!("/assets/{}", *VERSION)
}

/// The content type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// `GET /assets/{version}/{*path}`: a console file. Under the current digest it is kept a
/// year; under another (a page from before an upgrade, or from another host of a fleet
/// mid-upgrade) it is served but revalidated, so the page still works.
pub async fn serve(Path((version, path)): Path<(String, String)>) -> Response {
    let Some(file) = FILES.iter().find(|f| f.path == path) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(file.path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to `host/console/` but not to `FILES` would answer 404 in the browser.
    #[test]
    fn every_console_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("the console folder") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(&root).expect("under the root");
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.retain(|p| p != "index.html");
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|f| f.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn files_get_their_content_types() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("console.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
