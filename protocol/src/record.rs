//! A signed record: its exact bytes, how they are made and how they are checked.

use std::cmp::Ordering;

use ed25519_dalek::{Signature, Signer};

use crate::ids::verifying_key;
use crate::{
    Address, AuthorKey, Content, DOMAIN_TAG, FORMAT_VERSION, Identity, Kind, RecordError, RecordId,
    Slug, codec,
};

/// The largest record, signature included, that any node accepts.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// How far ahead of the receiver's clock a record's `created_at` may be.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

const SIGNATURE_LEN: usize = 64;
/// Flag bit 0: the record is a retraction (a tombstone with an empty body).
const FLAG_RETRACTION: u8 = 0b0000_0001;
const KNOWN_FLAGS: u8 = FLAG_RETRACTION;

/// Everything in a record except its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub author: AuthorKey,
    pub kind: Kind,
    pub slug: Slug,
    /// The version number; the author increases it with each edit.
    pub seq: u64,
    /// Unix seconds at signing, by the author's clock.
    pub created_at: i64,
    pub retraction: bool,
}

impl Header {
    pub fn address(&self) -> Address {
        Address {
            author: self.author,
            kind: self.kind,
            slug: self.slug.clone(),
        }
    }
}

/// Which of two versions at one address wins: the higher `seq`, and on equal `seq` the lower id.
/// `Ord` is arranged so that the winner is the greater value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub seq: u64,
    pub id: RecordId,
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.seq
            .cmp(&other.seq)
            .then_with(|| other.id.cmp(&self.id))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A verified record. Its bytes are exactly what was signed plus the signature; they are stored
/// and forwarded unchanged, including fields this version does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    bytes: Vec<u8>,
    id: RecordId,
    header: Header,
    content: Option<Content>,
    unknown_fields: Vec<u16>,
}

impl Record {
    /// Validates `content`, then signs it as version `seq` of `slug`.
    pub fn sign(
        identity: &Identity,
        slug: Slug,
        seq: u64,
        created_at: i64,
        content: Content,
    ) -> Result<Record, RecordError> {
        content.validate()?;
        check_header(&identity.author(), &slug, seq, &content)?;
        let header = Header {
            author: identity.author(),
            kind: content.kind(),
            slug,
            seq,
            created_at,
            retraction: false,
        };
        let body = codec::encode(&content);
        Record::seal(identity, header, &body, Some(content))
    }

    /// Signs a retraction of `address` (which must be the identity's own) as version `seq`.
    pub fn sign_retraction(
        identity: &Identity,
        address: &Address,
        seq: u64,
        created_at: i64,
    ) -> Result<Record, RecordError> {
        check_retractable(address.kind)?;
        let header = Header {
            author: identity.author(),
            kind: address.kind,
            slug: address.slug.clone(),
            seq,
            created_at,
            retraction: true,
        };
        Record::seal(identity, header, &[], None)
    }

    fn seal(
        identity: &Identity,
        header: Header,
        body: &[u8],
        content: Option<Content>,
    ) -> Result<Record, RecordError> {
        if header.seq == 0 {
            return Err(RecordError::ZeroSeq);
        }
        let mut bytes = Vec::with_capacity(70 + header.slug.as_str().len() + body.len() + 64);
        bytes.extend_from_slice(DOMAIN_TAG);
        bytes.push(FORMAT_VERSION);
        bytes.extend_from_slice(header.author.as_bytes());
        bytes.push(header.kind as u8);
        bytes.push(if header.retraction {
            FLAG_RETRACTION
        } else {
            0
        });
        bytes.extend_from_slice(&header.seq.to_be_bytes());
        bytes.extend_from_slice(&header.created_at.to_be_bytes());
        let slug = header.slug.as_str().as_bytes();
        bytes.push(u8::try_from(slug.len()).expect("slugs are at most 64 bytes"));
        bytes.extend_from_slice(slug);
        let body_len = u32::try_from(body.len()).map_err(|_| RecordError::TooLarge {
            size: body.len(),
            max: MAX_RECORD_BYTES,
        })?;
        bytes.extend_from_slice(&body_len.to_be_bytes());
        bytes.extend_from_slice(body);
        let size = bytes.len() + SIGNATURE_LEN;
        if size > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                size,
                max: MAX_RECORD_BYTES,
            });
        }
        let signature = identity.signing_key().sign(&bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(Record {
            id: RecordId::of(&bytes),
            bytes,
            header,
            content,
            unknown_fields: Vec::new(),
        })
    }

    /// Checks bytes received from anywhere: layout, signature (`verify_strict`), content and
    /// clock. `now` is the receiver's unix time in seconds.
    pub fn from_bytes(bytes: Vec<u8>, now: i64) -> Result<Record, RecordError> {
        let record = Record::parse(bytes, true)?;
        let max_created_at = now.saturating_add(MAX_CLOCK_SKEW_SECS);
        if record.header.created_at > max_created_at {
            return Err(RecordError::FromTheFuture {
                created_at: record.header.created_at,
                now,
                max_skew: MAX_CLOCK_SKEW_SECS,
            });
        }
        if let Some(content) = &record.content {
            content.validate()?;
            let header = &record.header;
            check_header(&header.author, &header.slug, header.seq, content)?;
        }
        if record.header.retraction {
            check_retractable(record.header.kind)?;
        }
        Ok(record)
    }

    /// Decodes bytes that this node verified before it stored them. Skips the signature check,
    /// which dominates the cost of decoding; never use it on bytes from outside the store.
    pub fn from_stored_bytes(bytes: Vec<u8>) -> Result<Record, RecordError> {
        Record::parse(bytes, false)
    }

    fn parse(bytes: Vec<u8>, verify: bool) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                size: bytes.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        let mut reader = Reader {
            bytes: &bytes,
            at: 0,
        };
        if reader.take(DOMAIN_TAG.len(), "the domain tag")? != DOMAIN_TAG {
            return Err(RecordError::BadDomainTag);
        }
        let version = reader.byte("the format version")?;
        if version != FORMAT_VERSION {
            return Err(RecordError::UnsupportedVersion(version, FORMAT_VERSION));
        }
        let author = AuthorKey(reader.array("the author key")?);
        let kind = Kind::from_byte(reader.byte("the kind")?)?;
        let flags = reader.byte("the flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(RecordError::UnknownFlags(flags & !KNOWN_FLAGS));
        }
        let seq = u64::from_be_bytes(reader.array("seq")?);
        if seq == 0 {
            return Err(RecordError::ZeroSeq);
        }
        let created_at = i64::from_be_bytes(reader.array("created_at")?);
        let slug_len = usize::from(reader.byte("the slug length")?);
        let slug = reader.take(slug_len, "the slug")?;
        let slug =
            std::str::from_utf8(slug).map_err(|_| RecordError::InvalidUtf8 { field: "slug" })?;
        let slug = Slug::new(slug)?;
        let body_len = u32::from_be_bytes(reader.array("the body length")?) as usize;
        let body_start = reader.at;
        reader.take(body_len, "the body")?;
        let signed_len = reader.at;
        let signature: [u8; SIGNATURE_LEN] = reader.array("the signature")?;
        if reader.at != bytes.len() {
            return Err(RecordError::TrailingBytes {
                trailing: bytes.len() - reader.at,
            });
        }
        if verify {
            verifying_key(&author)?
                .verify_strict(&bytes[..signed_len], &Signature::from_bytes(&signature))
                .map_err(|_| RecordError::BadSignature)?;
        }
        let retraction = flags & FLAG_RETRACTION != 0;
        let header = Header {
            author,
            kind,
            slug,
            seq,
            created_at,
            retraction,
        };
        let body = &bytes[body_start..signed_len];
        let (content, unknown_fields) = if retraction {
            if !body.is_empty() {
                return Err(RecordError::RetractionWithBody);
            }
            (None, Vec::new())
        } else {
            let (content, unknown) = codec::decode(kind, body)?;
            (Some(content), unknown)
        };
        Ok(Record {
            id: RecordId::of(&bytes),
            bytes,
            header,
            content,
            unknown_fields,
        })
    }

    /// The exact bytes: signed bytes followed by the 64-byte signature.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn id(&self) -> RecordId {
        self.id
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn address(&self) -> Address {
        self.header.address()
    }

    pub fn version(&self) -> Version {
        Version {
            seq: self.header.seq,
            id: self.id,
        }
    }

    /// The content, or `None` for a retraction.
    pub fn content(&self) -> Option<&Content> {
        self.content.as_ref()
    }

    pub fn is_retraction(&self) -> bool {
        self.header.retraction
    }

    /// Numbers of body fields this version of the protocol does not know (kept in the bytes).
    pub fn unknown_fields(&self) -> &[u16] {
        &self.unknown_fields
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(RecordError::Truncated { what })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, RecordError> {
        Ok(self.take(1, what)?[0])
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], RecordError> {
        Ok(self
            .take(N, what)?
            .try_into()
            .expect("take returns N bytes"))
    }
}

/// Where some kinds must live. A vouch lives at the one slug for its subject (`for-<key>`), so
/// that a newer vouch about the same key is a newer version of the same record and a retraction
/// takes it back; a binding at `nodes`; a charter version at `<network>-v<version>`, signed
/// once (see [`crate::network`]).
fn check_header(
    author: &AuthorKey,
    slug: &Slug,
    seq: u64,
    content: &Content,
) -> Result<(), RecordError> {
    let expected = match content {
        Content::Vouch(vouch) => crate::Vouch::slug_for(&vouch.subject),
        Content::Binding(_) => crate::Binding::slug(),
        Content::Featured(featured) => crate::network::Featured::slug_for(&featured.network),
        Content::Delegation(delegation) => {
            crate::network::Delegation::slug_for(&delegation.delegate)
        }
        Content::Interest(interest) => crate::network::Interest::slug_for(&interest.experiment),
        Content::Charter(charter) => {
            return crate::network::check_charter_header(author, slug, seq, charter);
        }
        Content::Succession(succession) => return succession.check_header(author, slug, seq),
        _ => return Ok(()),
    };
    if *slug != expected {
        return Err(RecordError::Invalid {
            field: "slug",
            reason: format!("a {} is published at {}", content.kind(), expected.as_str()),
        });
    }
    Ok(())
}

/// A charter version is never retracted: the chain of versions is what every node resolves
/// the charter from, and a hole in it would roll the charter back. Amend it instead.
fn check_retractable(kind: Kind) -> Result<(), RecordError> {
    if kind == Kind::Charter {
        return Err(RecordError::Invalid {
            field: "kind",
            reason: "a charter version cannot be retracted; amend the charter instead".into(),
        });
    }
    if kind == Kind::Succession {
        return Err(RecordError::Invalid {
            field: "kind",
            reason: "a succession cannot be retracted: a key's word, once ended, stays ended"
                .into(),
        });
    }
    Ok(())
}
