//! Host-side bindings of the `sluice:connector` world, at its newest version.
//!
//! One version is enough: wasmtime's linker resolves an import of `…@0.1.0` to the
//! definition of `…@0.1.1` (semver-compatible names, see `wasmtime::component::Linker`),
//! and 0.1.1 only adds functions, so a component built against 0.1.0 links unchanged.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit/0.1.1",
    world: "connector",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::sluice::connector::types;
