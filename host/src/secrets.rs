//! The secret values a run may use, and the redaction that keeps them out of logs and errors.

use std::collections::BTreeMap;
use std::fmt;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use zeroize::Zeroizing;

/// What replaces a secret value wherever it would be shown.
pub const REDACTED: &str = "[redacted]";

/// Secret values by name, as granted to one run. `Debug` never prints a value, and the
/// values are wiped from memory when the set is dropped.
#[derive(Clone, Default)]
pub struct SecretSet {
    values: BTreeMap<String, Zeroizing<String>>,
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl SecretSet {
    /// A set holding these `name → value` pairs.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self {
            values: values
                .into_iter()
                .map(|(name, value)| (name, Zeroizing::new(value)))
                .collect(),
        }
    }

    /// The value of a secret, if the run was given it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|value| value.as_str())
    }

    /// The names of the secrets, for messages.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// A redactor for every value of this set and the encodings the host sends it in.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.values.values().map(|value| value.as_str()))
    }

    /// [`SecretSet::redactor`] that also redacts `extra`, such as the `username:secret` pair
    /// of a Basic credential, in the same encodings.
    pub fn redactor_with(&self, extra: &str) -> Redactor {
        Redactor::new(
            self.values
                .values()
                .map(|value| value.as_str())
                .chain(std::iter::once(extra)),
        )
    }
}

/// Replaces secret values in text before it is logged, stored or shown. `Debug` prints no
/// value: the matcher holds every value it redacts.
#[derive(Clone)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "patterns",
                &self.matcher.as_ref().map_or(0, AhoCorasick::patterns_len),
            )
            .finish()
    }
}

impl Redactor {
    /// Values shorter than this are not redacted: they would blank out ordinary words.
    const MIN_LEN: usize = 4;

    /// A redactor for these values in every form the host sends one: raw, base64 (with
    /// and without padding, and URL-safe) and URL-encoded (spaces as `+` and as `%20`).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};

        let mut patterns: Vec<String> = Vec::new();
        for value in values.into_iter().filter(|v| v.len() >= Self::MIN_LEN) {
            let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            patterns.extend([
                value.to_owned(),
                STANDARD.encode(value),
                STANDARD_NO_PAD.encode(value),
                URL_SAFE.encode(value),
                form.replace('+', "%20"),
                form,
            ]);
        }
        patterns.sort();
        patterns.dedup();
        // Longest first, so a value that contains another is replaced whole.
        patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let matcher = (!patterns.is_empty())
            .then(|| {
                aho_corasick::AhoCorasickBuilder::new()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .ok()
            })
            .flatten();
        Self { matcher }
    }

    /// `text` with every secret value replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        match &self.matcher {
            Some(matcher) => matcher.replace_all(text, &vec![REDACTED; matcher.patterns_len()]),
            None => text.to_owned(),
        }
    }

    /// [`Redactor::redact`] of bytes that may not be text, such as an answer's body.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.matcher {
            Some(matcher) => {
                matcher.replace_all_bytes(bytes, &vec![REDACTED.as_bytes(); matcher.patterns_len()])
            }
            None => bytes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_values_and_their_base64_forms() {
        let set = SecretSet::new(BTreeMap::from([(
            "token".to_owned(),
            "s3cr3t-value".to_owned(),
        )]));
        let redactor = set.redactor();
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t-value");
        assert_eq!(
            redactor.redact(&format!("a s3cr3t-value b {b64} c")),
            "a [redacted] b [redacted] c"
        );
    }

    #[test]
    fn redacts_the_url_encoded_and_basic_forms() {
        let set = SecretSet::new(BTreeMap::from([(
            "token".to_owned(),
            "p@ss word/+".to_owned(),
        )]));
        let redactor = set.redactor_with("ada@acme.test:p@ss word/+");
        let basic = base64::engine::general_purpose::STANDARD.encode("ada@acme.test:p@ss word/+");
        let text = format!("q=p%40ss+word%2F%2B r=p%40ss%20word%2F%2B basic {basic}");
        assert_eq!(
            redactor.redact(&text),
            "q=[redacted] r=[redacted] basic [redacted]"
        );
        assert_eq!(
            redactor.redact_bytes(b"raw p@ss word/+ end"),
            b"raw [redacted] end"
        );
    }

    #[test]
    fn debug_shows_names_only() {
        let set = SecretSet::new(BTreeMap::from([(
            "token".to_owned(),
            "s3cr3t-value".to_owned(),
        )]));
        assert_eq!(format!("{set:?}"), r#"{"token"}"#);
        let redactor = set.redactor_with("ada:s3cr3t-value");
        let shown = format!("{redactor:?}");
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t-value");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains(&b64[..8]),
            "{shown}"
        );
        assert!(shown.starts_with("Redactor { patterns: "), "{shown}");
    }
}
