//! `sluice plugin new`: scaffolds a connector crate that builds as it is.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Options of `sluice plugin new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The connector's name: lower-case letters, digits and `-`.
    name: String,
    /// Where to create it (default: a directory named after it).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The `sluice-sdk` crate to depend on (default: the SDK this `sluice` was built with).
    #[arg(long, env = "SLUICE_SDK_PATH")]
    sdk: Option<PathBuf>,
}

const CARGO_TOML: &str = include_str!("../../../plugin-sdk/template/Cargo.toml");
const MANIFEST: &str = include_str!("../../../plugin-sdk/template/sluice.toml");
const LIB_RS: &str = include_str!("../../../plugin-sdk/template/src/lib.rs");
const CARGO_CONFIG: &str = include_str!("../../../plugin-sdk/template/.cargo/config.toml");

/// Writes the new crate.
pub fn new(args: &NewArgs) -> anyhow::Result<()> {
    let name = &args.name;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.starts_with(|c: char| c.is_ascii_digit() || c == '-')
    {
        bail!(
            "`{name}` is not a connector name: use lower-case letters, digits and `-`, starting with a letter"
        );
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() {
        bail!(
            "{} already exists; choose another name or --dir",
            dir.display()
        );
    }
    let sdk = match &args.sdk {
        Some(sdk) => sdk.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk"),
    };
    let sdk = sdk.canonicalize().with_context(|| {
        format!(
            "cannot find the Sluice SDK at {}; pass --sdk PATH",
            sdk.display()
        )
    })?;
    let sdk_text = sdk
        .to_str()
        .context("the SDK's path is not UTF-8")?
        .replace('\\', "/");
    for sub in ["src", ".cargo"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let files = [
        (
            "Cargo.toml",
            CARGO_TOML
                .replace("{name}", name)
                .replace("{sdk}", &sdk_text),
        ),
        ("sluice.toml", MANIFEST.replace("{name}", name)),
        ("src/lib.rs", LIB_RS.to_owned()),
        (".cargo/config.toml", CARGO_CONFIG.to_owned()),
        (".gitignore", "/target\n".to_owned()),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("created connector `{name}` in {}", dir.display());
    println!("next: sluice plugin build {}", dir.display());
    Ok(())
}
