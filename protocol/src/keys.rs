//! Keys that change: a delegate's consent, revocation with a cut-off, rotation and recovery.
//!
//! A **succession** (kind 12) is a signed statement that a key's word ends: from now on only
//! the records it lists as *kept* count for that key; anything else the key signed — before or
//! after, whatever date it carries — is refused everywhere. It may name a *successor*, the key
//! that continues the subject's records (the successor countersigns, so a key cannot be named
//! successor against its will). Who signs it decides what it can do:
//!
//! - the **subject itself**: a rotation (with a successor) or a retirement (without);
//! - a **recovery key** of the subject: the statement carries the subject's signed
//!   declaration naming that key, made while the subject's key was still safe;
//! - an **organisation that delegated to the subject** (with the subject's consent): a
//!   revocation; it never names a successor.
//!
//! [`judge`] turns the statements a node holds about one key into a [`Verdict`], as a pure
//! function of the set: every node holding the same statements, in any order, reaches the same
//! verdict. The rule, in full:
//!
//! 1. Statements that do not count are dropped: an organisation's without a consented
//!    delegation of the subject.
//! 2. The deciding tier is the recovery statements if any count, else the subject's own, else
//!    the organisations'. **A recovery therefore wins any conflict with a rotation signed by the
//!    (stolen) key**: once one recovery statement counts, the subject's own statements decide
//!    nothing.
//! 3. The kept records are those every statement of the deciding tier keeps *and* every
//!    counting organisation's revocation keeps (an organisation's cut-off always applies).
//! 4. The successor is the one the deciding tier names; if its statements name different
//!    successors, none is recognised and the verdict is *disputed* (a thief who also planted a
//!    recovery key can stop a recovery from naming a successor, never make its own win).

use std::collections::{BTreeSet, HashMap};

use ed25519_dalek::{Signature, Signer};
use serde::{Deserialize, Serialize};

use crate::ids::verifying_key;
use crate::{AuthorKey, Identity, RecordError, RecordId, Slug};

/// The most records one succession keeps (they fit, with room to spare, in one record).
pub const MAX_KEPT: usize = 1_800;
/// The longest reason a succession gives.
pub const MAX_REASON: usize = 500;

const CONSENT_TAG: &[u8] = b"convene/delegate-consent/1";
const RECOVERY_TAG: &[u8] = b"convene/recovery-key/1";
const SUCCESSOR_TAG: &[u8] = b"convene/successor/1";

/// An ed25519 signature carried inside a record's body (hex in JSON).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig(pub [u8; 64]);

impl Sig {
    fn by(identity: &Identity, message: &[u8]) -> Sig {
        Sig(identity.signing_key().sign(message).to_bytes())
    }

    fn verifies(&self, signer: &AuthorKey, message: &[u8]) -> bool {
        verifying_key(signer).is_ok_and(|key| {
            key.verify_strict(message, &Signature::from_bytes(&self.0))
                .is_ok()
        })
    }

    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Sig> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.trim().as_bytes())
            .ok()?;
        Some(Sig(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sig({}…)", &self.to_hex()[..16])
    }
}

impl Serialize for Sig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Sig, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sig::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a signature is 128 hex digits"))
    }
}

fn message(tag: &[u8], first: &AuthorKey, second: &AuthorKey) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(tag.len() + 64);
    bytes.extend_from_slice(tag);
    bytes.extend_from_slice(first.as_bytes());
    bytes.extend_from_slice(second.as_bytes());
    bytes
}

/// A person's consent to act for `organisation`: its key signs `convene/delegate-consent/1 ‖
/// organisation ‖ delegate`. A delegation counts only with it, so no organisation can claim a
/// key that did not ask.
pub fn consent(delegate: &Identity, organisation: &AuthorKey) -> Sig {
    Sig::by(
        delegate,
        &message(CONSENT_TAG, organisation, &delegate.author()),
    )
}

/// Whether `consent` is `delegate`'s consent to act for `organisation`.
pub fn consent_verifies(consent: &Sig, organisation: &AuthorKey, delegate: &AuthorKey) -> bool {
    consent.verifies(delegate, &message(CONSENT_TAG, organisation, delegate))
}

/// The subject's declaration that `recovery` may recover it: the subject signs
/// `convene/recovery-key/1 ‖ subject ‖ recovery`. Made while the key is safe and kept offline
/// with the recovery key.
pub fn declare_recovery(subject: &Identity, recovery: &AuthorKey) -> Sig {
    Sig::by(subject, &message(RECOVERY_TAG, &subject.author(), recovery))
}

/// Whether `declaration` is `subject`'s declaration of `recovery` as its recovery key.
pub fn declaration_verifies(declaration: &Sig, subject: &AuthorKey, recovery: &AuthorKey) -> bool {
    declaration.verifies(subject, &message(RECOVERY_TAG, subject, recovery))
}

/// The successor's countersignature: it signs `convene/successor/1 ‖ subject ‖ successor`.
pub fn accept_succession(successor: &Identity, subject: &AuthorKey) -> Sig {
    Sig::by(
        successor,
        &message(SUCCESSOR_TAG, subject, &successor.author()),
    )
}

/// The largest delegation ask, signature included.
pub const MAX_ASK_BYTES: usize = 1_024;
const ASK_TAG: &[u8] = b"convene/delegation-ask/1";
const MAX_ASK_NODE: usize = 100;
const MAX_ASK_TEXT: usize = 200;

/// A person's signed request, sent to an organisation's node, to publish for the organisation:
/// their consent, their name and a word for whoever approves it. Not a record: it is kept by
/// the organisation's node until answered (`convene org requests`, `convene org approve`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationAsk {
    pub organisation: AuthorKey,
    pub delegate: AuthorKey,
    /// The delegate's consent ([`consent`]), which the delegation will carry.
    pub consent: Sig,
    /// The asking node's libp2p peer id.
    pub node: String,
    /// The person's name, as their practitioner record gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Unix seconds, by the asker's clock.
    pub created_at: i64,
}

/// Why delegation ask bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    #[error("malformed delegation request: {0}")]
    Malformed(&'static str),
    #[error("the delegation request's signature or consent does not verify")]
    BadSignature,
}

impl DelegationAsk {
    /// The bytes the delegate signs: tag ‖ organisation (32) ‖ delegate (32) ‖ consent (64) ‖
    /// node (length u8) ‖ created_at (i64) ‖ person (length u16, empty when none) ‖ note
    /// (length u16, empty when none).
    fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = ASK_TAG.to_vec();
        bytes.extend_from_slice(self.organisation.as_bytes());
        bytes.extend_from_slice(self.delegate.as_bytes());
        bytes.extend_from_slice(&self.consent.0);
        bytes.push(self.node.len() as u8);
        bytes.extend_from_slice(self.node.as_bytes());
        bytes.extend_from_slice(&self.created_at.to_be_bytes());
        for text in [&self.person, &self.note] {
            let text = text.as_deref().unwrap_or("");
            bytes.extend_from_slice(&(text.len() as u16).to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes
    }

    /// Signs `delegate`'s request to publish for `organisation`, sent by `node`: the signed
    /// bytes followed by the 64-byte signature.
    pub fn sign(
        delegate: &Identity,
        organisation: AuthorKey,
        node: &str,
        person: Option<String>,
        note: Option<String>,
        created_at: i64,
    ) -> Result<Vec<u8>, RecordError> {
        let tidy =
            |text: Option<String>| text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let (person, note) = (tidy(person), tidy(note));
        if node.is_empty() || node.len() > MAX_ASK_NODE {
            return Err(RecordError::Invalid {
                field: "node",
                reason: "not a node id".into(),
            });
        }
        for (field, text) in [("person", &person), ("note", &note)] {
            if text.as_ref().is_some_and(|t| {
                t.chars().count() > MAX_ASK_TEXT || t.chars().any(char::is_control)
            }) {
                return Err(RecordError::Invalid {
                    field,
                    reason: format!("one line of at most {MAX_ASK_TEXT} characters"),
                });
            }
        }
        let ask = DelegationAsk {
            organisation,
            delegate: delegate.author(),
            consent: consent(delegate, &organisation),
            node: node.to_string(),
            person,
            note,
            created_at,
        };
        let mut bytes = ask.signed_bytes();
        bytes.extend_from_slice(&delegate.signing_key().sign(&bytes).to_bytes());
        Ok(bytes)
    }

    /// Reads and verifies a signed request: the delegate's signature, and its consent.
    pub fn verify(bytes: &[u8]) -> Result<DelegationAsk, AskError> {
        let malformed = AskError::Malformed;
        if bytes.len() > MAX_ASK_BYTES {
            return Err(malformed("too long"));
        }
        let (signed, signature) = bytes
            .split_at_checked(bytes.len().saturating_sub(64))
            .filter(|(signed, _)| !signed.is_empty())
            .ok_or(malformed("too short"))?;
        let mut rest = signed
            .strip_prefix(ASK_TAG)
            .ok_or(malformed("not a delegation request"))?;
        let mut take = |len: usize| -> Result<&[u8], AskError> {
            let (head, tail) = rest.split_at_checked(len).ok_or(malformed("truncated"))?;
            rest = tail;
            Ok(head)
        };
        let key = |bytes: &[u8]| AuthorKey(bytes.try_into().expect("32 bytes"));
        let organisation = key(take(32)?);
        let delegate = key(take(32)?);
        let consent_sig = Sig(take(64)?.try_into().expect("64 bytes"));
        let node_len = usize::from(take(1)?[0]);
        let node = String::from_utf8(take(node_len)?.to_vec()).map_err(|_| malformed("node"))?;
        let created_at = i64::from_be_bytes(take(8)?.try_into().expect("8 bytes"));
        let mut text = || -> Result<Option<String>, AskError> {
            let len = usize::from(u16::from_be_bytes(take(2)?.try_into().expect("2 bytes")));
            let text = String::from_utf8(take(len)?.to_vec()).map_err(|_| malformed("text"))?;
            Ok(Some(text).filter(|t| !t.is_empty()))
        };
        let person = text()?;
        let note = text()?;
        if !rest.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        let ask = DelegationAsk {
            organisation,
            delegate,
            consent: consent_sig,
            node,
            person,
            note,
            created_at,
        };
        let signature = Sig(signature.try_into().expect("64 bytes"));
        if !signature.verifies(&delegate, signed)
            || !consent_verifies(&ask.consent, &organisation, &delegate)
        {
            return Err(AskError::BadSignature);
        }
        Ok(ask)
    }
}

/// A statement that `subject`'s word ends (see the module documentation). Published by its
/// author at [`Succession::slug_for`] the subject, once (`seq` 1), and never retracted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Succession {
    /// The key whose word ends.
    pub subject: AuthorKey,
    /// The key that continues the subject's records, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<AuthorKey>,
    /// The successor's countersignature (see [`accept_succession`]); given with a successor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Sig>,
    /// For a recovery: the subject's declaration of the author as its recovery key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration: Option<Sig>,
    /// The subject's records that still count, by id; all others are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<RecordId>,
    /// Why, for a reader ("key stolen on 3 May", "Sam left the team").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Succession {
    /// The slug a succession about `subject` is published at.
    pub fn slug_for(subject: &AuthorKey) -> Slug {
        Slug::new(&format!("succession-{}", subject.to_base32())).expect("base32 is slug-safe")
    }

    pub(crate) fn validate(&self) -> Result<(), RecordError> {
        let invalid = |field, reason: &str| RecordError::Invalid {
            field,
            reason: reason.to_string(),
        };
        if self.kept.len() > MAX_KEPT {
            return Err(RecordError::Invalid {
                field: "kept",
                reason: format!("at most {MAX_KEPT} records, not {}", self.kept.len()),
            });
        }
        let distinct: BTreeSet<&RecordId> = self.kept.iter().collect();
        if distinct.len() != self.kept.len() {
            return Err(invalid("kept", "a record is listed twice"));
        }
        if self.successor == Some(self.subject) {
            return Err(invalid("successor", "a key cannot succeed itself"));
        }
        if self.successor.is_some() != self.accepted.is_some() {
            return Err(invalid(
                "accepted",
                "a successor is named with its countersignature, and only then",
            ));
        }
        if let Some(reason) = &self.reason
            && (reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control))
        {
            return Err(RecordError::Invalid {
                field: "reason",
                reason: format!("one line of at most {MAX_REASON} characters"),
            });
        }
        Ok(())
    }

    /// The checks that need the author: the countersignature, the declaration (only a key
    /// other than the subject recovers it), and `seq` 1 at the subject's slug.
    pub(crate) fn check_header(
        &self,
        author: &AuthorKey,
        slug: &Slug,
        seq: u64,
    ) -> Result<(), RecordError> {
        let invalid = |field, reason: &str| RecordError::Invalid {
            field,
            reason: reason.to_string(),
        };
        if *slug != Succession::slug_for(&self.subject) {
            return Err(RecordError::Invalid {
                field: "slug",
                reason: format!(
                    "a succession is published at {}",
                    Succession::slug_for(&self.subject).as_str()
                ),
            });
        }
        if seq != 1 {
            return Err(invalid(
                "seq",
                "a succession is signed once, as version 1; it cannot be amended",
            ));
        }
        if let (Some(successor), Some(accepted)) = (&self.successor, &self.accepted)
            && !accepted.verifies(successor, &message(SUCCESSOR_TAG, &self.subject, successor))
        {
            return Err(invalid(
                "accepted",
                "the successor's countersignature does not verify",
            ));
        }
        match &self.declaration {
            Some(_) if *author == self.subject => Err(invalid(
                "declaration",
                "a key does not recover itself; only its own statement needs no declaration",
            )),
            Some(declaration) if !declaration_verifies(declaration, &self.subject, author) => {
                Err(invalid(
                    "declaration",
                    "the subject's declaration of this recovery key does not verify",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Who a counting statement speaks as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// An organisation that delegated to the subject.
    Organisation,
    /// The subject's own key.
    Own,
    /// A recovery key the subject declared.
    Recovery,
}

/// One held succession and who signed it.
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    pub author: AuthorKey,
    pub succession: &'a Succession,
}

/// What the statements about one key decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub subject: AuthorKey,
    /// The tier that decided.
    pub how: Authority,
    /// The authors of that tier's statements, sorted.
    pub by: Vec<AuthorKey>,
    /// The subject's records that still count.
    pub kept: BTreeSet<RecordId>,
    /// The key that continues the subject's records.
    pub successor: Option<AuthorKey>,
    /// The deciding statements name different successors, so none is recognised.
    pub disputed: bool,
}

impl Verdict {
    /// What ended the key, in words: "revoked by the organisation it acted for", "rotated to
    /// a new key", "retired", "recovered with a recovery key".
    pub fn describe(&self) -> &'static str {
        match (self.how, self.successor.is_some() || self.disputed) {
            (Authority::Organisation, _) => "revoked by the organisation it acted for",
            (Authority::Own, true) => "rotated to a new key",
            (Authority::Own, false) => "retired by its holder",
            (Authority::Recovery, _) => "recovered with a recovery key",
        }
    }

    /// Whether a record of the subject with this id still counts.
    pub fn keeps(&self, id: &RecordId) -> bool {
        self.kept.contains(id)
    }
}

/// The verdict on `subject` from the statements about it (any order, duplicates harmless).
/// `delegated(organisation)` says whether `organisation` holds a consented delegation of the
/// subject. `None`: no statement counts, the key's word stands.
pub fn judge(
    subject: &AuthorKey,
    statements: &[Statement<'_>],
    delegated: impl Fn(&AuthorKey) -> bool,
) -> Option<Verdict> {
    let mut counting: Vec<(Authority, &Statement<'_>)> = Vec::new();
    for statement in statements {
        if statement.succession.subject != *subject {
            continue;
        }
        let authority = if statement.author == *subject {
            Authority::Own
        } else if statement
            .succession
            .declaration
            .is_some_and(|d| declaration_verifies(&d, subject, &statement.author))
        {
            Authority::Recovery
        } else if statement.succession.declaration.is_none() && delegated(&statement.author) {
            Authority::Organisation
        } else {
            continue;
        };
        counting.push((authority, statement));
    }
    let how = counting.iter().map(|(authority, _)| *authority).max()?;
    let mut kept: Option<BTreeSet<RecordId>> = None;
    let mut by = BTreeSet::new();
    let mut successors = BTreeSet::new();
    for (authority, statement) in &counting {
        if *authority != how && *authority != Authority::Organisation {
            continue;
        }
        let theirs: BTreeSet<RecordId> = statement.succession.kept.iter().copied().collect();
        kept = Some(match kept {
            None => theirs,
            Some(ours) => ours.intersection(&theirs).copied().collect(),
        });
        if *authority == how {
            by.insert(statement.author);
            if how != Authority::Organisation
                && let Some(successor) = statement.succession.successor
            {
                successors.insert(successor);
            }
        }
    }
    let disputed = successors.len() > 1;
    Some(Verdict {
        subject: *subject,
        how,
        by: by.into_iter().collect(),
        kept: kept.unwrap_or_default(),
        successor: if disputed {
            None
        } else {
            successors.into_iter().next()
        },
        disputed,
    })
}

/// The verdicts on every key from all the statements held.
#[derive(Clone, Debug, Default)]
pub struct Successions {
    verdicts: HashMap<AuthorKey, Verdict>,
    /// Successor → the keys it succeeds directly.
    predecessors: HashMap<AuthorKey, Vec<AuthorKey>>,
}

/// How long a chain of successions is followed (a longer one is cut, never looped).
pub const MAX_CHAIN: usize = 16;

impl Successions {
    /// Judges every subject the statements name. `delegated(organisation, subject)`: whether
    /// the organisation holds a consented delegation of the subject.
    pub fn new(
        statements: &[Statement<'_>],
        delegated: impl Fn(&AuthorKey, &AuthorKey) -> bool,
    ) -> Successions {
        let subjects: BTreeSet<AuthorKey> =
            statements.iter().map(|s| s.succession.subject).collect();
        let mut verdicts = HashMap::new();
        let mut predecessors: HashMap<AuthorKey, Vec<AuthorKey>> = HashMap::new();
        for subject in subjects {
            if let Some(verdict) = judge(&subject, statements, |org| delegated(org, &subject)) {
                if let Some(successor) = verdict.successor {
                    predecessors.entry(successor).or_default().push(subject);
                }
                verdicts.insert(subject, verdict);
            }
        }
        for keys in predecessors.values_mut() {
            keys.sort();
        }
        Successions {
            verdicts,
            predecessors,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }

    /// The verdict on `key`, if any statement about it counts.
    pub fn verdict(&self, key: &AuthorKey) -> Option<&Verdict> {
        self.verdicts.get(key)
    }

    pub fn verdicts(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.values()
    }

    /// Whether a record by `author` with this id counts: the author's word has not ended, or
    /// the record is among those its verdict keeps.
    pub fn counts(&self, author: &AuthorKey, id: &RecordId) -> bool {
        self.verdicts
            .get(author)
            .is_none_or(|verdict| verdict.keeps(id))
    }

    /// The key that now speaks for `key`: its successor's successor and so on, to the end of
    /// the chain (`key` itself when it has none).
    pub fn current(&self, key: &AuthorKey) -> AuthorKey {
        let mut at = *key;
        for _ in 0..MAX_CHAIN {
            match self.verdicts.get(&at).and_then(|v| v.successor) {
                Some(next) if next != *key => at = next,
                _ => break,
            }
        }
        at
    }

    /// Every key `key` succeeds, directly or through a chain, nearest first.
    pub fn predecessors(&self, key: &AuthorKey) -> Vec<AuthorKey> {
        let mut out = Vec::new();
        let mut frontier = vec![*key];
        while let Some(at) = frontier.pop() {
            for before in self.predecessors.get(&at).into_iter().flatten() {
                if *before != *key && !out.contains(before) && out.len() < MAX_CHAIN {
                    out.push(*before);
                    frontier.push(*before);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(n: u8) -> Identity {
        Identity::from_secret([n; 32])
    }

    fn id(n: u8) -> RecordId {
        RecordId([n; 32])
    }

    fn rotation(subject: &Identity, successor: &Identity, kept: &[u8]) -> Succession {
        Succession {
            subject: subject.author(),
            successor: Some(successor.author()),
            accepted: Some(accept_succession(successor, &subject.author())),
            declaration: None,
            kept: kept.iter().map(|n| id(*n)).collect(),
            reason: None,
        }
    }

    #[test]
    fn a_consent_and_a_declaration_bind_both_keys() {
        let (org, person, other) = (identity(1), identity(2), identity(3));
        let consent = consent(&person, &org.author());
        assert!(consent_verifies(&consent, &org.author(), &person.author()));
        assert!(!consent_verifies(
            &consent,
            &other.author(),
            &person.author()
        ));
        let declaration = declare_recovery(&org, &person.author());
        assert!(declaration_verifies(
            &declaration,
            &org.author(),
            &person.author()
        ));
        assert!(!declaration_verifies(
            &declaration,
            &org.author(),
            &other.author()
        ));
    }

    #[test]
    fn a_successor_must_countersign_and_only_a_declared_key_recovers() {
        let (old, new, recovery) = (identity(1), identity(2), identity(3));
        let mut statement = rotation(&old, &new, &[1]);
        let slug = Succession::slug_for(&old.author());
        assert!(statement.check_header(&old.author(), &slug, 1).is_ok());
        assert!(statement.check_header(&old.author(), &slug, 2).is_err());
        statement.accepted = Some(accept_succession(&recovery, &old.author()));
        assert!(statement.check_header(&old.author(), &slug, 1).is_err());
        let recovering = Succession {
            declaration: Some(declare_recovery(&old, &recovery.author())),
            ..rotation(&old, &new, &[1])
        };
        assert!(
            recovering
                .check_header(&recovery.author(), &slug, 1)
                .is_ok()
        );
        assert!(recovering.check_header(&new.author(), &slug, 1).is_err());
    }

    #[test]
    fn an_organisation_without_a_delegation_decides_nothing() {
        let (person, rogue) = (identity(2), identity(9));
        let revocation = Succession {
            kept: vec![],
            ..Succession {
                subject: person.author(),
                successor: None,
                accepted: None,
                declaration: None,
                kept: vec![],
                reason: Some("not ours".into()),
            }
        };
        let statements = [Statement {
            author: rogue.author(),
            succession: &revocation,
        }];
        assert_eq!(judge(&person.author(), &statements, |_| false), None);
        let verdict = judge(&person.author(), &statements, |_| true).unwrap();
        assert_eq!(verdict.how, Authority::Organisation);
        assert!(verdict.kept.is_empty() && verdict.successor.is_none());
    }

    #[test]
    fn a_delegation_ask_verifies_and_any_change_breaks_it() {
        let (org, person) = (identity(1), identity(2));
        let bytes = DelegationAsk::sign(
            &person,
            org.author(),
            "12D3KooWexample",
            Some("Sam Patel".into()),
            Some("digital lead from May".into()),
            1_700_000_000,
        )
        .unwrap();
        let ask = DelegationAsk::verify(&bytes).unwrap();
        assert_eq!(ask.person.as_deref(), Some("Sam Patel"));
        assert!(consent_verifies(
            &ask.consent,
            &org.author(),
            &person.author()
        ));
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            assert!(DelegationAsk::verify(&changed).is_err(), "byte {at}");
        }
        assert!(DelegationAsk::verify(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn a_chain_of_rotations_leads_to_the_current_key() {
        let (a, b, c) = (identity(1), identity(2), identity(3));
        let (ab, bc) = (rotation(&a, &b, &[1]), rotation(&b, &c, &[2]));
        let statements = [
            Statement {
                author: b.author(),
                succession: &bc,
            },
            Statement {
                author: a.author(),
                succession: &ab,
            },
        ];
        let successions = Successions::new(&statements, |_, _| false);
        assert_eq!(successions.current(&a.author()), c.author());
        assert_eq!(
            successions.predecessors(&c.author()),
            vec![b.author(), a.author()]
        );
        assert!(successions.counts(&a.author(), &id(1)));
        assert!(!successions.counts(&a.author(), &id(2)));
        assert!(successions.counts(&c.author(), &id(7)));
    }
}
