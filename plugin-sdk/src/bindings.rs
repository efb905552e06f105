//! The raw bindings of the `sluice:connector` world. Private: authors use the curated
//! modules of this crate, so a new interface version does not break their code.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../wit/0.1.1",
    world: "connector",
    pub_export_macro: true,
    export_macro_name: "__export_connector_world",
    runtime_path: "::sluice_sdk::__private::wit_bindgen::rt",
});
