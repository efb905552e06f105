//! Host-side bindings of the `sluice:connector` world.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "connector",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::sluice::connector::types;
