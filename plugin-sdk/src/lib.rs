//! Write Sluice connectors.
//!
//! A connector is a WebAssembly component that the Sluice host runs in a sandbox. It
//! reads its configuration, talks to one service through the host's HTTP door, and hands
//! back records. This crate is all a connector author needs: implement [`Connector`],
//! call [`export_connector!`], build for `wasm32-wasip2`.
//!
//! ```ignore
//! use sluice_sdk::{http::{self, Auth}, log, records, Connector, Result, Summary};
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn sync(&mut self) -> Result<Summary> {
//!         let user: serde_json::Value = http::get("https://api.github.com/user")
//!             .auth(Auth::bearer("github_token"))
//!             .send()?
//!             .error_for_status()?
//!             .json()?;
//!         log::info!("hello, {}", user["login"]; plugin = "hello");
//!         records::emit_one("users", user["login"].to_string(), &user)?;
//!         Ok(Summary::default())
//!     }
//! }
//!
//! sluice_sdk::export_connector!(Hello);
//! ```
//!
//! Secrets are never in a connector's hands: it names a secret ([`http::Auth`]) and the
//! host injects the value after checking that the install was granted it.

// The bindings name this crate by its public path, so the export macro works in authors' crates.
extern crate self as sluice_sdk;

mod bindings;
mod connector;
mod error;

pub mod config;
pub mod event;
pub mod http;
pub mod listing;
pub mod log;
pub mod people;
pub mod records;
pub mod state;

pub use connector::{Connector, Summary};
pub use error::{Error, Result};
pub use event::Event;
pub use serde_json::{Value, json};

/// Items the [`export_connector!`] macro expands to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::sluice::connector::types::{ConnectorError, Event, Summary};
    pub use crate::bindings::{__export_connector_world, Guest};
    pub use crate::connector::{check, handle_event, sync};
    pub use wit_bindgen;

    /// The generated bindings, for the export macro's type paths.
    pub mod bindings {
        pub use crate::bindings::*;
    }
}

/// Exports a [`Connector`] implementation as the component's entry points.
///
/// Call it once, at the top level of the connector's crate, with a type that implements
/// [`Connector`] and [`Default`]; the host calls `check`, `sync` and `handle_event` on a
/// fresh value of that type for each run.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        const _: () = {
            struct SluiceExports;

            impl $crate::__private::Guest for SluiceExports {
                fn check() -> ::core::result::Result<(), $crate::__private::ConnectorError> {
                    $crate::__private::check::<$connector>()
                }

                fn sync() -> ::core::result::Result<
                    $crate::__private::Summary,
                    $crate::__private::ConnectorError,
                > {
                    $crate::__private::sync::<$connector>()
                }

                fn handle_event(
                    event: $crate::__private::Event,
                ) -> ::core::result::Result<(), $crate::__private::ConnectorError> {
                    $crate::__private::handle_event::<$connector>(event)
                }
            }

            $crate::__private::__export_connector_world!(
                SluiceExports with_types_in $crate::__private::bindings
            );
        };
    };
}
