//! A packaged connector: the component with its manifest embedded in a custom section,
//! so one file carries everything the host needs to know about it.

use std::borrow::Cow;

use wasm_encoder::{CustomSection, Encode as _};

use crate::manifest::MANIFEST_SECTION;

/// `component` with `manifest` appended as a custom section.
pub fn embed_manifest(component: &[u8], manifest: &str) -> Vec<u8> {
    let mut bytes = component.to_vec();
    let section = CustomSection {
        name: Cow::Borrowed(MANIFEST_SECTION),
        data: Cow::Borrowed(manifest.as_bytes()),
    };
    bytes.push(0); // the custom section id
    section.encode(&mut bytes);
    bytes
}

/// The manifest embedded at the top level of a component, if any.
pub fn embedded_manifest(component: &[u8]) -> Option<String> {
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.ok()? {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::CustomSection(section)
                if depth == 0 && section.name() == MANIFEST_SECTION =>
            {
                return String::from_utf8(section.data().to_vec()).ok();
            }
            _ => {}
        }
    }
    None
}
