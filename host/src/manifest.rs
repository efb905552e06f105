//! A connector's manifest, `sluice.toml`: the static facts the host checks a connector
//! against — the hosts and secrets it asks for, its streams, its configuration schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::egress::{HostPattern, SecretBinding, SecretBindings};

/// The interface versions this host can run: 0.1.1 only adds to 0.1.0, so one linker runs
/// components built against either.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["0.1.0", "0.1.1"];

/// The name of the custom section `sluice plugin build` embeds the manifest in.
pub const MANIFEST_SECTION: &str = "sluice-manifest";

/// Why a manifest or a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the manifest's shape.
    #[error("manifest is not valid: {0}")]
    Parse(String),
    /// The manifest parses but says something impossible.
    #[error("manifest is not valid: {0}")]
    Invalid(String),
    /// A configuration does not match the connector's schema; one line per problem.
    #[error("configuration does not match the `{plugin}` connector's schema:\n{}", .problems.join("\n"))]
    Config {
        /// The connector.
        plugin: String,
        /// What is wrong, each with the JSON path it is at.
        problems: Vec<String>,
    },
}

/// A connector's manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The connector's name: lower-case letters, digits and `-`.
    pub name: String,
    /// The connector's version (semver).
    pub version: String,
    /// The `sluice:connector` interface version it was built against.
    pub api_version: String,
    /// One paragraph for the marketplace.
    pub description: String,
    /// When a new install runs unless its admin sets another schedule: a cron expression
    /// (5 fields, or 6 with seconds first), read in UTC.
    #[serde(default)]
    pub default_schedule: Option<String>,
    /// Hosts it asks to reach: `host`, `host:port`, `*.domain`, or `{config.FIELD}` for the
    /// host of the URL in that configuration field (self-hosted or enterprise servers).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Event kinds it handles, such as `github.pull_request`.
    #[serde(default)]
    pub events: Vec<String>,
    /// Secrets it asks for, by name.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRequest>,
    /// The streams it emits.
    #[serde(default)]
    pub streams: Vec<Stream>,
    /// The JSON Schema its configuration must match.
    #[serde(default = "empty_object_schema")]
    pub config_schema: Value,
}

/// A secret a connector asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    /// What the secret is and which permissions it needs, for the admin.
    pub description: String,
    /// The hosts the secret may be sent to, each one of the manifest's `hosts` (the same
    /// entry, or a narrower one): the host refuses to inject it toward any other.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The header the secret may travel in besides `Authorization`, such as `x-api-key`.
    #[serde(default)]
    pub header: Option<String>,
}

/// A stream of records a connector emits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// The stream's name.
    pub name: String,
    /// What a record's key is made of.
    pub key: String,
    /// What the stream holds.
    #[serde(default)]
    pub description: String,
    /// Every successful run emits the whole stream: an item a successful run does not
    /// emit was deleted at the service, and its record is marked deleted.
    #[serde(default)]
    pub full_refresh: bool,
}

fn empty_object_schema() -> Value {
    serde_json::json!({ "type": "object" })
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn from_toml(text: &str) -> Result<Self, ManifestError> {
        let manifest: Self =
            toml::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The streams every successful run emits whole.
    pub fn full_refresh_streams(&self) -> Vec<String> {
        self.streams
            .iter()
            .filter(|stream| stream.full_refresh)
            .map(|stream| stream.name.clone())
            .collect()
    }

    /// Reads, parses and checks a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(m));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return invalid(format!(
                "name `{}` must be lower-case letters, digits and `-`",
                self.name
            ));
        }
        // The version names the connector's folder in the marketplace: only a semantic
        // version, which has no path characters, becomes a path.
        if let Err(error) = semver::Version::parse(&self.version) {
            return invalid(format!(
                "version `{}` is not a semantic version such as 1.2.0 ({error})",
                self.version
            ));
        }
        if !SUPPORTED_API_VERSIONS.contains(&self.api_version.as_str()) {
            return invalid(format!(
                "api_version `{}` is not one this host runs (it runs {})",
                self.api_version,
                SUPPORTED_API_VERSIONS.join(", ")
            ));
        }
        if let Some(cron) = &self.default_schedule
            && let Err(error) = crate::scheduler::parse_cron(cron)
        {
            return invalid(format!("default_schedule: {}", error.message));
        }
        let mut names = BTreeSet::new();
        for stream in &self.streams {
            if !names.insert(stream.name.as_str()) {
                return invalid(format!("stream `{}` is declared twice", stream.name));
            }
        }
        for host in &self.hosts {
            if config_field(host).is_none() {
                HostPattern::parse(host)
                    .map_err(|e| ManifestError::Invalid(format!("hosts: {e}")))?;
            }
        }
        for (name, secret) in &self.secrets {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return invalid(format!(
                    "secret `{name}` must be lower-case letters, digits and `_`"
                ));
            }
            self.validate_secret(name, secret)?;
        }
        self.config_validator()?;
        Ok(())
    }

    /// Checks where a secret may go: hosts among the manifest's own, a header the host
    /// does not set itself.
    fn validate_secret(&self, name: &str, secret: &SecretRequest) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(format!("secrets.{name}.{m}")));
        if secret.hosts.is_empty() {
            return invalid(format!(
                "hosts: name the hosts the secret may be sent to, from the manifest's `hosts` ({})",
                self.hosts.join(", ")
            ));
        }
        for host in &secret.hosts {
            let among = match config_field(host) {
                Some(_) => self.hosts.contains(host),
                None => {
                    let pattern = HostPattern::parse(host).map_err(|e| {
                        ManifestError::Invalid(format!("secrets.{name}.hosts: {e}"))
                    })?;
                    self.hosts.iter().any(|entry| {
                        config_field(entry).is_none()
                            && HostPattern::parse(entry).is_ok_and(|wider| pattern.within(&wider))
                    })
                }
            };
            if !among {
                return invalid(format!(
                    "hosts: `{host}` is not among the manifest's `hosts` ({})",
                    self.hosts.join(", ")
                ));
            }
        }
        if let Some(header) = &secret.header {
            let valid = http::HeaderName::from_bytes(header.as_bytes()).is_ok();
            if !valid || crate::egress::host_owned_header(header) {
                return invalid(format!(
                    "header: `{header}` is not a header a secret may travel in; name a valid header the host does not set itself, such as `x-api-key` (`authorization` needs no declaring)"
                ));
            }
        }
        Ok(())
    }

    /// The compiled configuration schema; compile it once per connector, not per run.
    pub fn config_validator(&self) -> Result<jsonschema::Validator, ManifestError> {
        jsonschema::validator_for(&self.config_schema)
            .map_err(|e| ManifestError::Invalid(format!("config_schema: {e}")))
    }

    /// Checks a configuration against the schema, listing every problem with its path.
    pub fn validate_config(&self, config: &Value) -> Result<(), ManifestError> {
        self.validate_config_with(&self.config_validator()?, config)
    }

    /// [`Manifest::validate_config`] with a validator from [`Manifest::config_validator`].
    pub fn validate_config_with(
        &self,
        validator: &jsonschema::Validator,
        config: &Value,
    ) -> Result<(), ManifestError> {
        let problems: Vec<String> = validator
            .iter_errors(config)
            .map(|error| {
                let path = error.instance_path().to_string();
                let at = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("  at {at}: {error}")
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Config {
                plugin: self.name.clone(),
                problems,
            })
        }
    }

    /// The hosts this connector asks for under this configuration: `{config.FIELD}`
    /// entries become the host (and port) of the URL in that field, when it is set.
    pub fn requested_hosts(&self, config: &Value) -> Result<Vec<HostPattern>, ManifestError> {
        self.resolve_hosts(&self.hosts, config)
    }

    /// Where each secret may go under this configuration: its `hosts`, resolved as
    /// [`Manifest::requested_hosts`] resolves the manifest's, and its header.
    pub fn secret_bindings(&self, config: &Value) -> Result<SecretBindings, ManifestError> {
        self.secrets
            .iter()
            .map(|(name, secret)| {
                let binding = SecretBinding {
                    hosts: self.resolve_hosts(&secret.hosts, config)?,
                    header: secret.header.as_deref().map(str::to_ascii_lowercase),
                };
                Ok((name.clone(), binding))
            })
            .collect()
    }

    /// Host entries with `{config.FIELD}` replaced by the host of the URL in that field.
    fn resolve_hosts(
        &self,
        entries: &[String],
        config: &Value,
    ) -> Result<Vec<HostPattern>, ManifestError> {
        let mut hosts = Vec::new();
        for entry in entries {
            match config_field(entry) {
                None => hosts.push(
                    HostPattern::parse(entry)
                        .map_err(|e| ManifestError::Invalid(format!("hosts: {e}")))?,
                ),
                Some(field) => {
                    let Some(value) = config.get(field).and_then(Value::as_str) else {
                        continue;
                    };
                    let url = url::Url::parse(value).map_err(|e| ManifestError::Config {
                        plugin: self.name.clone(),
                        problems: vec![format!("  at /{field}: `{value}` is not a URL: {e}")],
                    })?;
                    hosts.push(
                        HostPattern::from_url(&url).map_err(|e| ManifestError::Config {
                            plugin: self.name.clone(),
                            problems: vec![format!("  at /{field}: {e}")],
                        })?,
                    );
                }
            }
        }
        Ok(hosts)
    }
}

/// `FIELD` of a `{config.FIELD}` host entry.
fn config_field(entry: &str) -> Option<&str> {
    entry.strip_prefix("{config.")?.strip_suffix('}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
name = "github"
version = "0.1.0"
api_version = "0.1.0"
description = "GitHub"
hosts = ["api.github.com", "{config.api_base_url}"]
[secrets.github_token]
description = "token"
hosts = ["api.github.com", "{config.api_base_url}"]
[[streams]]
name = "members"
key = "login"
[config_schema]
type = "object"
required = ["org"]
[config_schema.properties.org]
type = "string"
"#;

    #[test]
    fn a_config_url_field_becomes_a_requested_host() {
        let manifest = Manifest::from_toml(MANIFEST).expect("valid manifest");
        let hosts = manifest
            .requested_hosts(
                &serde_json::json!({"org": "acme", "api_base_url": "http://127.0.0.1:9000/api/v3"}),
            )
            .expect("hosts");
        let shown: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["api.github.com", "127.0.0.1:9000"]);
    }

    #[test]
    fn a_secret_is_bound_to_its_hosts_under_the_configuration() {
        let manifest = Manifest::from_toml(MANIFEST).expect("valid manifest");
        let bindings = manifest
            .secret_bindings(
                &serde_json::json!({"org": "acme", "api_base_url": "https://ghe.acme.test/api/v3"}),
            )
            .expect("bindings");
        let hosts: Vec<String> = bindings["github_token"]
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["api.github.com", "ghe.acme.test"]);
        assert_eq!(bindings["github_token"].header, None);
    }

    #[test]
    fn secret_hosts_and_headers_are_checked() {
        // The secret's own line, not the manifest's `hosts` above it.
        let bound = "token\"\nhosts = [\"api.github.com\", \"{config.api_base_url}\"]";
        for (replacement, expected) in [
            (
                "hosts = []",
                "secrets.github_token.hosts: name the hosts the secret may be sent to, from the manifest's `hosts` (api.github.com, {config.api_base_url})",
            ),
            (
                "hosts = [\"uploads.github.com\"]",
                "secrets.github_token.hosts: `uploads.github.com` is not among the manifest's `hosts` (api.github.com, {config.api_base_url})",
            ),
            (
                "hosts = [\"{config.other_url}\"]",
                "secrets.github_token.hosts: `{config.other_url}` is not among the manifest's `hosts`",
            ),
            (
                "hosts = [\"api.github.com\"]\nheader = \"host\"",
                "secrets.github_token.header: `host` is not a header a secret may travel in",
            ),
            (
                "hosts = [\"api.github.com\"]\nheader = \"x api key\"",
                "secrets.github_token.header: `x api key` is not a header a secret may travel in",
            ),
        ] {
            let error =
                Manifest::from_toml(&MANIFEST.replace(bound, &format!("token\"\n{replacement}")))
                    .expect_err(replacement)
                    .to_string();
            assert!(error.contains(expected), "{replacement}: {error}");
        }
        let keyed = MANIFEST.replace(
            bound,
            "token\"\nhosts = [\"api.github.com\"]\nheader = \"X-Api-Key\"",
        );
        let manifest = Manifest::from_toml(&keyed).expect("a declared header");
        let bindings = manifest
            .secret_bindings(&serde_json::json!({"org": "acme"}))
            .expect("bindings");
        assert_eq!(
            bindings["github_token"].header.as_deref(),
            Some("x-api-key")
        );
    }

    #[test]
    fn config_errors_name_the_path() {
        let manifest = Manifest::from_toml(MANIFEST).expect("valid manifest");
        let error = manifest
            .validate_config(&serde_json::json!({"org": 7}))
            .expect_err("org must be a string");
        assert!(
            error
                .to_string()
                .contains("at /org: 7 is not of type \"string\""),
            "{error}"
        );
        let error = manifest
            .validate_config(&serde_json::json!({}))
            .expect_err("org is required");
        assert!(
            error.to_string().contains("\"org\" is a required property"),
            "{error}"
        );
    }

    #[test]
    fn a_version_must_be_semantic_before_it_names_a_folder() {
        let with = |version: &str| {
            Manifest::from_toml(&MANIFEST.replacen(
                "version = \"0.1.0\"",
                &format!("version = \"{version}\""),
                1,
            ))
        };
        for bad in ["../../etc", "1.0", "1.0.0/../x", "v1.0.0", ""] {
            let error = with(bad).expect_err(bad).to_string();
            assert!(
                error.starts_with(&format!(
                    "manifest is not valid: version `{bad}` is not a semantic version such as 1.2.0 ("
                )),
                "{error}"
            );
        }
        assert_eq!(
            with("1.0").expect_err("two parts").to_string(),
            "manifest is not valid: version `1.0` is not a semantic version such as 1.2.0 \
             (unexpected end of input while parsing minor version number)"
        );
        let manifest = with("1.2.3-beta.1+build.5").expect("a semantic version");
        assert_eq!(manifest.version, "1.2.3-beta.1+build.5");
    }

    #[test]
    fn unknown_keys_and_api_versions_are_refused() {
        let with = |api: &str| {
            Manifest::from_toml(&MANIFEST.replace(
                "api_version = \"0.1.0\"",
                &format!("api_version = \"{api}\""),
            ))
        };
        for runs in ["0.1.0", "0.1.1"] {
            assert_eq!(
                with(runs).expect("a version this host runs").api_version,
                runs
            );
        }
        for refused in ["9.0.0", "0.1.2", "0.2.0", "0.1"] {
            assert_eq!(
                with(refused).expect_err("unsupported version").to_string(),
                format!(
                    "manifest is not valid: api_version `{refused}` is not one this host runs (it runs 0.1.0, 0.1.1)"
                )
            );
        }
        let error =
            Manifest::from_toml(&format!("colour = \"red\"\n{MANIFEST}")).expect_err("unknown key");
        assert!(
            error.to_string().contains("unknown field `colour`"),
            "{error}"
        );
    }
}
