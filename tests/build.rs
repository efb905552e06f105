//! Builds the test guests and the connectors into real components, and writes their
//! paths into `guests.rs` for the tests (so nothing built is committed).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A component to record: (const prefix, crate dir, artifact name).
type Component = (&'static str, &'static str, &'static str);

/// Workspaces of components, with the components to record.
const WORKSPACES: &[(&str, &[Component])] = &[
    (
        "guests",
        &[
            ("TRIVIAL", "trivial", "guest_trivial"),
            ("HOSTILE", "hostile", "guest_hostile"),
            ("PEOPLE", "people", "guest_people"),
            ("STATE", "state", "guest_state"),
            ("API_0_1_0", "api-0-1-0", "guest_api_0_1_0"),
        ],
    ),
    (
        "../plugins",
        &[
            ("GITHUB", "github", "sluice_github"),
            ("JIRA", "jira", "sluice_jira"),
            ("SLACK", "slack", "sluice_slack"),
            ("GRAFANA", "grafana", "sluice_grafana"),
            ("COPILOT", "copilot", "sluice_copilot"),
            ("SURVEY", "survey", "sluice_survey"),
        ],
    ),
];

fn main() {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = tests.join("../target/guests");
    let mut consts = String::new();
    for (workspace, crates) in WORKSPACES {
        let dir = tests.join(workspace);
        println!("cargo:rerun-if-changed={}", dir.display());
        build(&dir, &target);
        for (name, crate_dir, artifact) in *crates {
            let wasm = target.join(format!("wasm32-wasip2/release/{artifact}.wasm"));
            let manifest = dir.join(crate_dir).join("sluice.toml");
            consts.push_str(&format!(
                "/// The `{crate_dir}` component.\npub const {name}_WASM: &str = {:?};\n/// Its manifest.\npub const {name}_MANIFEST: &str = {:?};\n",
                path_text(&wasm),
                path_text(&manifest),
            ));
        }
    }
    for watched in ["../plugin-sdk", "../wit"] {
        println!("cargo:rerun-if-changed={}", tests.join(watched).display());
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("guests.rs"), consts).expect("write guests.rs");
}

fn build(workspace: &Path, target: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target)
        .current_dir(workspace);
    // The flag `sluice` adds when it builds connectors (`cargo_home_remap` in
    // host/src/cli/plugin_build.rs): the same flags, so `serve` in the tests finds these
    // builds fresh, and the same bytes.
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".cargo")));
    if let Some(home) = home {
        let flag = format!("--remap-path-prefix={}=/cargo", home.display());
        command.arg("--config").arg(format!(
            "target.wasm32-wasip2.rustflags=[{}]",
            toml::Value::String(flag)
        ));
    }
    // The outer build's flags are for the host target, not for wasm.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("run cargo for the wasm guests");
    assert!(
        status.success(),
        "building the components in {} failed; is the target installed? `rustup target add wasm32-wasip2`",
        workspace.display()
    );
}

fn path_text(path: &Path) -> String {
    path.canonicalize()
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}
