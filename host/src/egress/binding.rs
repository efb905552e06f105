//! Where a secret may go: the hosts its manifest binds it to, and the one header besides
//! `Authorization` it may travel in. A connector names a secret at run time, but it cannot
//! send it anywhere else, so a hostile connector cannot hand a company's token to another
//! host it was granted.

use std::collections::BTreeMap;

use super::HostPattern;

/// The hosts a secret may be sent to and the header it may be sent in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretBinding {
    /// Hosts the secret may be sent to, as the manifest's `hosts` of that secret resolve
    /// under the install's configuration.
    pub hosts: Vec<HostPattern>,
    /// The header, lower-case, the secret may travel in besides `Authorization`.
    pub header: Option<String>,
}

/// Every secret's binding, by the secret's name in the manifest.
pub type SecretBindings = BTreeMap<String, SecretBinding>;

impl SecretBinding {
    /// Keeps only the hosts of `to` that fit within this binding: an install's grant may
    /// narrow where a secret goes, never widen it.
    pub fn narrow(&mut self, to: &[HostPattern]) {
        self.hosts = to
            .iter()
            .filter(|p| self.hosts.iter().any(|bound| p.within(bound)))
            .cloned()
            .collect();
    }

    /// Whether the secret `name` may be sent to `host:port`, or why not.
    pub fn check_host(
        &self,
        name: &str,
        host: &str,
        port: u16,
        default_port: u16,
    ) -> Result<(), String> {
        if self
            .hosts
            .iter()
            .any(|p| p.matches(host, port, default_port))
        {
            return Ok(());
        }
        let shown = if port == default_port {
            host.to_owned()
        } else {
            format!("{host}:{port}")
        };
        let bound: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        Err(format!(
            "secret `{name}` may be sent only to the hosts it is bound to ({}), not to `{shown}`",
            if bound.is_empty() {
                "none under this configuration".to_owned()
            } else {
                bound.join(", ")
            }
        ))
    }

    /// Whether the secret `name` may travel in `header`, or why not.
    pub fn check_header(&self, name: &str, header: &str) -> Result<(), String> {
        let header = header.to_ascii_lowercase();
        if header == "authorization" || self.header.as_deref() == Some(header.as_str()) {
            return Ok(());
        }
        Err(format!(
            "secret `{name}` may be sent only in `authorization`{}, as its manifest declares, not in `{header}`",
            self.header
                .as_deref()
                .map(|h| format!(" or `{h}`"))
                .unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(hosts: &[&str], header: Option<&str>) -> SecretBinding {
        SecretBinding {
            hosts: hosts
                .iter()
                .map(|h| HostPattern::parse(h).expect("a host pattern"))
                .collect(),
            header: header.map(str::to_owned),
        }
    }

    #[test]
    fn a_secret_goes_only_to_its_hosts() {
        let github = binding(&["api.github.com", "ghe.acme.test:8443"], None);
        assert_eq!(
            github.check_host("github_token", "api.github.com", 443, 443),
            Ok(())
        );
        assert_eq!(
            github.check_host("github_token", "ghe.acme.test", 8443, 443),
            Ok(())
        );
        assert_eq!(
            github.check_host("github_token", "uploads.github.com", 443, 443),
            Err("secret `github_token` may be sent only to the hosts it is bound to (api.github.com, ghe.acme.test:8443), not to `uploads.github.com`".to_owned())
        );
    }

    #[test]
    fn a_grant_narrows_a_binding_but_never_widens_it() {
        let mut github = binding(&["api.github.com", "ghe.acme.test"], None);
        github.narrow(&binding(&["ghe.acme.test", "evil.example"], None).hosts);
        assert_eq!(github, binding(&["ghe.acme.test"], None));
    }

    #[test]
    fn a_secret_travels_only_in_authorization_or_its_declared_header() {
        let grafana = binding(&["grafana.acme.test"], Some("x-api-key"));
        assert_eq!(grafana.check_header("key", "Authorization"), Ok(()));
        assert_eq!(grafana.check_header("key", "X-Api-Key"), Ok(()));
        assert_eq!(
            grafana.check_header("key", "x-forwarded-token"),
            Err("secret `key` may be sent only in `authorization` or `x-api-key`, as its manifest declares, not in `x-forwarded-token`".to_owned())
        );
        assert_eq!(
            binding(&[], None).check_header("key", "x-api-key"),
            Err("secret `key` may be sent only in `authorization`, as its manifest declares, not in `x-api-key`".to_owned())
        );
    }
}
