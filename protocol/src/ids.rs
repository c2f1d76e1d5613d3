//! Names for records and their authors: keys, ids, kinds, slugs and addresses.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::RecordError;

/// An author's ed25519 public key. Every record names the key that signed it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorKey(pub [u8; 32]);

impl AuthorKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as lowercase base32 without padding (52 characters), as used in addresses.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0).to_ascii_lowercase()
    }

    pub fn from_base32(text: &str) -> Option<AuthorKey> {
        let bytes = BASE32_NOPAD
            .decode(text.to_ascii_uppercase().as_bytes())
            .ok()?;
        Some(AuthorKey(bytes.try_into().ok()?))
    }
}

impl fmt::Display for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base32())
    }
}

impl fmt::Debug for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorKey({})", self.to_base32())
    }
}

/// A record's id: the BLAKE3 hash of its complete bytes (signed bytes plus signature).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub [u8; 32]);

impl RecordId {
    pub fn of(record_bytes: &[u8]) -> RecordId {
        RecordId(*blake3::hash(record_bytes).as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<RecordId> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .ok()?;
        Some(RecordId(bytes.try_into().ok()?))
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", &self.to_hex()[..16])
    }
}

/// What a record describes. The byte is part of the signed layout and never changes meaning.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Kind {
    Experiment = 1,
    Practitioner = 2,
    Lesson = 3,
    Organisation = 4,
    /// An organisation's signed word about another key (see [`crate::Vouch`]).
    Vouch = 5,
    /// One version of a convened network's charter (see [`crate::network::Charter`]).
    Charter = 6,
    /// An organisation's list of its nodes' peer ids (see [`crate::network::Binding`]).
    Binding = 7,
    /// A convenor's featured records in a network (see [`crate::network::Featured`]).
    Featured = 8,
    /// A practitioner's contact details for its networks' members (see
    /// [`crate::network::ContactCard`]).
    Contact = 9,
    /// An organisation's statement that a person's key acts for it (see
    /// [`crate::network::Delegation`]).
    Delegation = 10,
    /// An organisation's interest in an experiment's idea (see [`crate::network::Interest`]).
    Interest = 11,
    /// A statement that a key's word ends: revocation, rotation or recovery (see
    /// [`crate::keys::Succession`]).
    Succession = 12,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Experiment,
        Kind::Practitioner,
        Kind::Lesson,
        Kind::Organisation,
        Kind::Vouch,
        Kind::Charter,
        Kind::Binding,
        Kind::Featured,
        Kind::Contact,
        Kind::Delegation,
        Kind::Interest,
        Kind::Succession,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Experiment => "experiment",
            Kind::Practitioner => "practitioner",
            Kind::Lesson => "lesson",
            Kind::Organisation => "organisation",
            Kind::Vouch => "vouch",
            Kind::Charter => "charter",
            Kind::Binding => "binding",
            Kind::Featured => "featured",
            Kind::Contact => "contact",
            Kind::Delegation => "delegation",
            Kind::Interest => "interest",
            Kind::Succession => "succession",
        }
    }

    pub fn from_byte(byte: u8) -> Result<Kind, RecordError> {
        Kind::ALL
            .into_iter()
            .find(|kind| *kind as u8 == byte)
            .ok_or(RecordError::UnknownKind(byte))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;

    /// Accepts the kind's name in either number, and the American spelling of organisation.
    fn from_str(text: &str) -> Result<Kind, String> {
        let lower = text.trim().to_ascii_lowercase();
        let singular = lower
            .strip_suffix("es")
            .filter(|stem| *stem == "vouch")
            .or_else(|| lower.strip_suffix('s'))
            .unwrap_or(&lower);
        let singular = if singular == "organization" {
            "organisation"
        } else {
            singular
        };
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == singular)
            .ok_or_else(|| {
                format!(
                    "unknown kind {text:?}: expected experiment, practitioner, lesson, organisation, \
                     vouch, charter, binding, featured, contact, delegation, interest \
                     or succession"
                )
            })
    }
}

/// The author's name for a record, unique per author and kind: 1 to 64 characters of `a-z`,
/// `0-9` and `-`, neither starting nor ending with `-`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 64;

    pub fn new(text: &str) -> Result<Slug, RecordError> {
        let bad = |reason| RecordError::BadSlug {
            slug: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > Slug::MAX_LEN {
            return Err(bad("it is longer than 64 characters"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad("only a-z, 0-9 and - are allowed"));
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(bad("it may not start or end with -"));
        }
        Ok(Slug(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a record lives: (author, kind, slug). All versions of a record share one address.
///
/// Text form: `convene://<author base32>/<kind>/<slug>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Address {
    pub author: AuthorKey,
    pub kind: Kind,
    pub slug: Slug,
}

/// Why a piece of text is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {text:?}: {reason} (expected convene://<author>/<kind>/<slug>)")]
pub struct AddressError {
    pub text: String,
    pub reason: String,
}

impl Address {
    pub const SCHEME: &'static str = "convene://";

    /// The address as a store key: author (32 bytes), kind (1 byte), slug bytes.
    /// Keys sort by author first, so one author's records form a contiguous range.
    pub fn to_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(33 + self.slug.0.len());
        key.extend_from_slice(&self.author.0);
        key.push(self.kind as u8);
        key.extend_from_slice(self.slug.0.as_bytes());
        key
    }

    pub fn from_key(key: &[u8]) -> Option<Address> {
        if key.len() < 34 {
            return None;
        }
        Some(Address {
            author: AuthorKey(key[..32].try_into().ok()?),
            kind: Kind::from_byte(key[32]).ok()?,
            slug: Slug::new(std::str::from_utf8(&key[33..]).ok()?).ok()?,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}/{}/{}",
            Address::SCHEME,
            self.author,
            self.kind,
            self.slug
        )
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Address, AddressError> {
        let fail = |reason: &str| AddressError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = text
            .trim()
            .strip_prefix(Address::SCHEME)
            .ok_or_else(|| fail("it does not start with convene://"))?;
        let mut parts = rest.split('/');
        let (Some(author), Some(kind), Some(slug), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("it needs exactly three parts"));
        };
        let author = AuthorKey::from_base32(author)
            .ok_or_else(|| fail("the author key is not 52 base32 characters"))?;
        let kind = Kind::from_str(kind).map_err(|e| fail(&e))?;
        let slug = Slug::new(slug).map_err(|e| fail(&e.to_string()))?;
        Ok(Address { author, kind, slug })
    }
}

/// An author's signing identity: an ed25519 key pair. The secret half never leaves the node.
pub struct Identity {
    signing: SigningKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.author())
    }
}

impl Identity {
    /// A fresh identity from the operating system's random number generator.
    pub fn generate() -> Result<Identity, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        Ok(Identity::from_secret(secret))
    }

    pub fn from_secret(secret: [u8; 32]) -> Identity {
        Identity {
            signing: SigningKey::from_bytes(&secret),
        }
    }

    pub fn secret(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    pub fn author(&self) -> AuthorKey {
        AuthorKey(self.signing.verifying_key().to_bytes())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

pub(crate) fn verifying_key(author: &AuthorKey) -> Result<VerifyingKey, RecordError> {
    VerifyingKey::from_bytes(&author.0).map_err(|_| RecordError::BadAuthorKey)
}

impl FromStr for Slug {
    type Err = RecordError;

    fn from_str(text: &str) -> Result<Slug, RecordError> {
        Slug::new(text)
    }
}

impl FromStr for AuthorKey {
    type Err = String;

    fn from_str(text: &str) -> Result<AuthorKey, String> {
        AuthorKey::from_base32(text)
            .ok_or_else(|| format!("{text:?} is not an author key (52 base32 characters)"))
    }
}

impl FromStr for RecordId {
    type Err = String;

    fn from_str(text: &str) -> Result<RecordId, String> {
        RecordId::from_hex(text)
            .ok_or_else(|| format!("{text:?} is not a record id (64 hex digits)"))
    }
}

/// Serde as the text form (`Display` out, `FromStr` in), as in addresses and the API.
macro_rules! serde_as_text {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(AuthorKey, RecordId, Kind, Slug);
