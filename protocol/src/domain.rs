//! Domain proofs: an organisation shows that it controls a web domain by serving, at
//! `https://DOMAIN/.well-known/convene.json`, a document that lists its keys (and the ids of its
//! nodes), each key's signature over the document's signed bytes included.
//!
//! A key counts as the domain's when both sides say so: the key's organisation profile names
//! the domain (signed by the key), and the domain serves a document listing the key (over HTTPS,
//! so the domain's owner published it) signed by the key. Each node checks this itself.

use std::collections::BTreeMap;

use data_encoding::BASE64;
use ed25519_dalek::Signature;
use ed25519_dalek::ed25519::signature::Signer;
use serde::{Deserialize, Serialize};

use crate::{AuthorKey, Identity};

/// Where a domain serves its proof.
pub const WELL_KNOWN_PATH: &str = "/.well-known/convene.json";
/// The largest proof document a node reads.
pub const MAX_PROOF_BYTES: usize = 64 * 1024;
/// Most keys, and most node ids, one proof may list.
pub const MAX_PROOF_ENTRIES: usize = 64;
/// The first bytes of what is signed: never mistaken for a record or another message.
const DOMAIN_TAG: &[u8] = b"convene-domain-proof";
/// The version of the document this code writes and reads.
pub const PROOF_VERSION: u32 = 1;

/// The document at `https://DOMAIN/.well-known/convene.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainProof {
    /// Always [`PROOF_VERSION`].
    pub convene: u32,
    /// The domain, lower case, as the profiles name it.
    pub domain: String,
    /// The organisation keys this domain stands for, as in addresses.
    pub keys: Vec<AuthorKey>,
    /// The organisation's node ids (libp2p peer ids), for reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Key (as in addresses) → its signature over [`DomainProof::signed_bytes`], base64.
    pub signatures: BTreeMap<String, String>,
}

/// Why a proof does not show that a key is a domain's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the document is version {0}; this node reads version {PROOF_VERSION}")]
    Version(u32),
    #[error("the document is for {found:?}, not {expected:?}")]
    OtherDomain { found: String, expected: String },
    #[error("the document lists {0} keys or node ids, over the limit of {MAX_PROOF_ENTRIES}")]
    TooMany(usize),
    #[error("the document does not list key {0}")]
    NotListed(AuthorKey),
    #[error("key {0} has not signed the document")]
    Unsigned(AuthorKey),
    #[error("key {0}'s signature does not verify")]
    BadSignature(AuthorKey),
}

/// `domain` in the form profiles and documents use: trimmed, lower case, no trailing dot.
pub fn normalize_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl DomainProof {
    /// The bytes each key signs: the tag, then the domain, the keys (sorted) and the node ids
    /// (sorted), each length-prefixed (u16, big-endian; a key is its 32 bytes).
    pub fn signed_bytes(domain: &str, keys: &[AuthorKey], nodes: &[String]) -> Vec<u8> {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        let mut nodes = nodes.to_vec();
        nodes.sort();
        nodes.dedup();
        let mut bytes = DOMAIN_TAG.to_vec();
        bytes.extend_from_slice(&PROOF_VERSION.to_be_bytes());
        let mut text = |text: &str| {
            bytes.extend_from_slice(&(text.len().min(u16::MAX as usize) as u16).to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        };
        text(&normalize_domain(domain));
        bytes.extend_from_slice(&(keys.len() as u16).to_be_bytes());
        for key in &keys {
            bytes.extend_from_slice(key.as_bytes());
        }
        bytes.extend_from_slice(&(nodes.len() as u16).to_be_bytes());
        for node in &nodes {
            bytes.extend_from_slice(&(node.len().min(u16::MAX as usize) as u16).to_be_bytes());
            bytes.extend_from_slice(node.as_bytes());
        }
        bytes
    }

    /// A proof for `domain` listing and signed by every one of `identities`.
    pub fn sign(domain: &str, identities: &[&Identity], nodes: Vec<String>) -> DomainProof {
        let domain = normalize_domain(domain);
        let keys: Vec<AuthorKey> = identities.iter().map(|i| i.author()).collect();
        let signed = DomainProof::signed_bytes(&domain, &keys, &nodes);
        let signatures = identities
            .iter()
            .map(|identity| {
                let signature: Signature = identity.signing_key().sign(&signed);
                (
                    identity.author().to_base32(),
                    BASE64.encode(&signature.to_bytes()),
                )
            })
            .collect();
        DomainProof {
            convene: PROOF_VERSION,
            domain,
            keys,
            nodes,
            signatures,
        }
    }

    /// Whether this document, fetched from `domain`, shows that `author` is the domain's: it is
    /// for that domain, lists the key, and carries the key's valid signature.
    pub fn check(&self, author: &AuthorKey, domain: &str) -> Result<(), ProofError> {
        if self.convene != PROOF_VERSION {
            return Err(ProofError::Version(self.convene));
        }
        let expected = normalize_domain(domain);
        if normalize_domain(&self.domain) != expected {
            return Err(ProofError::OtherDomain {
                found: self.domain.clone(),
                expected,
            });
        }
        let entries = self
            .keys
            .len()
            .max(self.nodes.len())
            .max(self.signatures.len());
        if entries > MAX_PROOF_ENTRIES {
            return Err(ProofError::TooMany(entries));
        }
        if !self.keys.contains(author) {
            return Err(ProofError::NotListed(*author));
        }
        let signature = self
            .signatures
            .get(&author.to_base32())
            .ok_or(ProofError::Unsigned(*author))?;
        let signature: [u8; 64] = BASE64
            .decode(signature.as_bytes())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ProofError::BadSignature(*author))?;
        let signed = DomainProof::signed_bytes(&self.domain, &self.keys, &self.nodes);
        crate::ids::verifying_key(author)
            .map_err(|_| ProofError::BadSignature(*author))?
            .verify_strict(&signed, &Signature::from_bytes(&signature))
            .map_err(|_| ProofError::BadSignature(*author))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_proof_checks_for_its_keys_and_domain_only() {
        let ours = Identity::from_secret([1; 32]);
        let other = Identity::from_secret([2; 32]);
        let proof = DomainProof::sign("Leics.Police.UK.", &[&ours], vec!["12D3KooWx".into()]);
        assert_eq!(proof.domain, "leics.police.uk");
        assert_eq!(proof.check(&ours.author(), "leics.police.uk"), Ok(()));
        assert_eq!(
            proof.check(&other.author(), "leics.police.uk"),
            Err(ProofError::NotListed(other.author()))
        );
        assert!(matches!(
            proof.check(&ours.author(), "evil.example"),
            Err(ProofError::OtherDomain { .. })
        ));
        // Listing a key without its signature proves nothing.
        let mut forged = proof.clone();
        forged.keys.push(other.author());
        assert_eq!(
            forged.check(&other.author(), "leics.police.uk"),
            Err(ProofError::Unsigned(other.author()))
        );
        // Any change to what was signed breaks every signature.
        assert_eq!(
            forged.check(&ours.author(), "leics.police.uk"),
            Err(ProofError::BadSignature(ours.author()))
        );
    }

    #[test]
    fn the_document_round_trips_as_json() {
        let ours = Identity::from_secret([1; 32]);
        let proof = DomainProof::sign("example.gov.uk", &[&ours], Vec::new());
        let text = serde_json::to_string(&proof).unwrap();
        let back: DomainProof = serde_json::from_str(&text).unwrap();
        assert_eq!(back.check(&ours.author(), "example.gov.uk"), Ok(()));
    }
}
