//! Test support for Sluice: the paths of the built test components, and fakes of the
//! outside services connectors talk to.

pub mod fakes;

/// Paths of the components `build.rs` built, and of their manifests.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}
