//! Keys that change, as this node applies them: the verdicts from the successions and
//! delegations it holds (the rules are [`convene_protocol::keys`]'s), and what an organisation
//! runs on its own home — hand its records over to a new key by rotation or recovery, set up a
//! recovery key, revoke a delegate.
//!
//! A verdict puts a cut-off on a key: the admission step refuses every record of the key that
//! the verdict does not keep, from every source, and the store purges those it holds (see
//! [`crate::Node::enforce_successions`]). A successor's records stand in for its
//! predecessor's: old addresses resolve to the successor's record at the same kind and slug,
//! and the successor goes by the predecessor's name and trust.

use std::collections::HashSet;

use convene_protocol::keys::{self, DelegationAsk, MAX_KEPT, Sig, Statement, Successions};
use convene_protocol::{
    Address, AuthorKey, Content, Delegation, Identity, Kind, Record, RecordError, Slug, Succession,
};
use serde::{Deserialize, Serialize};

/// The verdicts on every key, from the successions held and the delegations that let an
/// organisation revoke its delegate (those the delegate consented to).
pub fn successions(
    statements: &[(AuthorKey, Succession)],
    delegations: &[(AuthorKey, Delegation)],
) -> Successions {
    let consented: HashSet<(AuthorKey, AuthorKey)> = delegations
        .iter()
        .filter(|(organisation, delegation)| delegation.consented(organisation))
        .map(|(organisation, delegation)| (*organisation, delegation.delegate))
        .collect();
    let statements: Vec<Statement<'_>> = statements
        .iter()
        .map(|(author, succession)| Statement {
            author: *author,
            succession,
        })
        .collect();
    Successions::new(&statements, |organisation, subject| {
        consented.contains(&(*organisation, *subject))
    })
}

/// The delegations that count: those the delegate consented to, of a key whose word has not
/// ended.
pub fn counting_delegations(
    delegations: Vec<(AuthorKey, Delegation)>,
    successions: &Successions,
) -> Vec<(AuthorKey, Delegation)> {
    delegations
        .into_iter()
        .filter(|(organisation, delegation)| {
            delegation.consented(organisation)
                && successions.verdict(&delegation.delegate).is_none()
        })
        .collect()
}

/// What an organisation keeps offline to recover its key if the key is lost or stolen: the
/// recovery key's secret and the organisation's declaration of it. Written by
/// `convene org recovery add` as TOML.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecoveryKit {
    /// The organisation's key, as in its addresses.
    pub organisation: String,
    /// The recovery key's secret, hex.
    pub recovery_secret: String,
    /// The organisation's signed declaration of the recovery key.
    pub declaration: Sig,
}

/// Why a recovery kit cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("not a recovery kit: {0}")]
    Malformed(String),
    #[error("the kit's declaration was not signed by {0}, or not for this recovery key")]
    Declaration(String),
}

impl RecoveryKit {
    /// A new recovery key for `organisation`, declared by it.
    pub fn new(organisation: &Identity) -> Result<(RecoveryKit, AuthorKey), RecordError> {
        let recovery = Identity::generate().map_err(|e| RecordError::Invalid {
            field: "recovery",
            reason: format!("no randomness for a key: {e}"),
        })?;
        let declaration = keys::declare_recovery(organisation, &recovery.author());
        Ok((
            RecoveryKit {
                organisation: organisation.author().to_base32(),
                recovery_secret: data_encoding::HEXLOWER.encode(&recovery.secret()),
                declaration,
            },
            recovery.author(),
        ))
    }

    /// Reads a kit and checks its declaration: the organisation's key and the recovery
    /// identity.
    pub fn open(text: &str) -> Result<(AuthorKey, Identity, Sig), KitError> {
        let kit: RecoveryKit =
            toml::from_str(text).map_err(|e| KitError::Malformed(e.message().to_string()))?;
        let organisation = AuthorKey::from_base32(kit.organisation.trim()).ok_or_else(|| {
            KitError::Malformed(format!("{:?} is not an organisation key", kit.organisation))
        })?;
        let secret: [u8; 32] = data_encoding::HEXLOWER_PERMISSIVE
            .decode(kit.recovery_secret.trim().as_bytes())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| KitError::Malformed("recovery_secret is not 64 hex digits".into()))?;
        let recovery = Identity::from_secret(secret);
        if !keys::declaration_verifies(&kit.declaration, &organisation, &recovery.author()) {
            return Err(KitError::Declaration(kit.organisation));
        }
        Ok((organisation, recovery, kit.declaration))
    }

    pub fn to_toml(&self) -> String {
        format!(
            "# Convene recovery kit. Keep it offline (printed, or on a removable disk in a safe),\n\
             # never on the node. With it, `convene org recover --kit FILE` moves the organisation\n\
             # to a new key if its key is lost or stolen.\n{}",
            toml::to_string(self).expect("plain data")
        )
    }
}

/// A key's records handed over to its successor: the succession, and the records re-signed
/// by the successor.
#[derive(Debug)]
pub struct Handover {
    pub succession: Record,
    pub carried: Vec<Record>,
    /// How many of the subject's records the succession keeps.
    pub kept: usize,
    /// How many held records it could not keep (beyond [`MAX_KEPT`], or signed after the
    /// recovery's cut-off date).
    pub dropped: usize,
}

/// How a handover is signed.
#[derive(Debug)]
pub enum Handing<'a> {
    /// The subject's own key signs: a rotation.
    Rotation { subject: &'a Identity },
    /// A recovery key the subject declared signs; records the subject signed after `before`
    /// (unix seconds, by their own date), and those at the addresses `dropped` (what the
    /// operator saw was not theirs), are not kept.
    Recovery {
        subject: AuthorKey,
        recovery: &'a Identity,
        declaration: Sig,
        before: Option<i64>,
        dropped: &'a [Address],
    },
}

impl Handing<'_> {
    pub fn subject(&self) -> AuthorKey {
        match self {
            Handing::Rotation { subject } => subject.author(),
            Handing::Recovery { subject, .. } => *subject,
        }
    }
}

/// The records of `held` a recovery keeps: those dated up to `before` (unix seconds), and not
/// at an address in `dropped`.
pub fn kept_by_recovery(
    mut held: Vec<Record>,
    before: Option<i64>,
    dropped: &[Address],
) -> Vec<Record> {
    held.retain(|record| {
        before.is_none_or(|before| record.header().created_at <= before)
            && !dropped.contains(&record.address())
    });
    held
}

/// Prepares the handover of `held` (the subject's records this node holds, tombstones
/// included) to `successor`: the succession keeps the newest [`MAX_KEPT`] of them (a recovery
/// only those dated up to its cut-off), and the successor re-signs every kept record it can
/// continue.
pub fn hand_over(
    handing: &Handing<'_>,
    successor: &Identity,
    mut held: Vec<Record>,
    reason: Option<String>,
    now: i64,
) -> Result<Handover, RecordError> {
    let subject = handing.subject();
    let total = held.len();
    held.retain(|record| {
        record.header().author == subject && record.header().kind != Kind::Succession
    });
    if let Handing::Recovery {
        before, dropped, ..
    } = handing
    {
        held = kept_by_recovery(held, *before, dropped);
    }
    held.sort_by_key(|record| std::cmp::Reverse(record.header().created_at));
    held.truncate(MAX_KEPT);
    let mut succession = Succession {
        subject,
        successor: Some(successor.author()),
        accepted: Some(keys::accept_succession(successor, &subject)),
        declaration: None,
        kept: held.iter().map(Record::id).collect(),
        reason,
    };
    let signer = match handing {
        Handing::Rotation { subject } => *subject,
        Handing::Recovery {
            recovery,
            declaration,
            ..
        } => {
            succession.declaration = Some(*declaration);
            *recovery
        }
    };
    let succession = Record::sign(
        signer,
        Succession::slug_for(&subject),
        1,
        now,
        Content::Succession(succession),
    )?;
    let carried = carry_over(&held, &subject, successor, now)?;
    Ok(Handover {
        succession,
        kept: held.len(),
        dropped: total - held.len(),
        carried,
    })
}

/// The successor's versions of `records`: same kind, slug and version number, references to
/// the subject's own records moved to the successor's. Left where they are: tombstones,
/// charters (a network is named by its founder's key), delegations (they carry the delegate's
/// consent to the old key) and successions; a profile's recovery keys (declared by the old
/// key: declare new ones).
fn carry_over(
    records: &[Record],
    subject: &AuthorKey,
    successor: &Identity,
    now: i64,
) -> Result<Vec<Record>, RecordError> {
    let moved = |address: &mut Address| {
        if address.author == *subject {
            address.author = successor.author();
        }
    };
    let mut out = Vec::new();
    for record in records {
        let Some(content) = record.content() else {
            continue;
        };
        let mut content = content.clone();
        match &mut content {
            Content::Charter(_) | Content::Delegation(_) | Content::Succession(_) => continue,
            Content::Experiment(e) => {
                e.contacts.iter_mut().for_each(moved);
                e.adopted_from.iter_mut().for_each(moved);
            }
            Content::Lesson(l) => {
                l.about.iter_mut().for_each(moved);
                l.contacts.iter_mut().for_each(moved);
            }
            Content::Featured(f) => f.records.iter_mut().for_each(moved),
            Content::Interest(i) => moved(&mut i.experiment),
            Content::Organisation(o) => o.recovery.clear(),
            Content::Practitioner(_)
            | Content::Vouch(_)
            | Content::Binding(_)
            | Content::ContactCard(_) => {}
        }
        let slug: Slug = match &content {
            // Their slugs name what they are about, which may have moved too.
            Content::Interest(i) => convene_protocol::Interest::slug_for(&i.experiment),
            _ => record.header().slug.clone(),
        };
        out.push(Record::sign(
            successor,
            slug,
            record.header().seq,
            now,
            content,
        )?);
    }
    Ok(out)
}

/// What a rotation or recovery did to a home.
#[derive(Debug)]
pub struct Moved {
    pub from: AuthorKey,
    pub to: AuthorKey,
    /// The subject's records the succession keeps, and those it could not.
    pub kept: usize,
    pub dropped: usize,
    /// The records the new key re-signed and stored.
    pub carried: usize,
    /// Re-signed records this node refused, with why.
    pub refused: Vec<(Address, String)>,
    /// An interrupted change was finished, nothing new signed.
    pub resumed: bool,
}

/// Moves `home` to a new key: signs the succession (by the home's key for a rotation, by the
/// recovery key for a recovery), re-signs the kept records under the new key, stores all of it
/// through the admission step, and makes the new key the home's identity. The new key is
/// written before anything is signed with it, so a crash loses nothing: a later open or
/// key change finishes or forgets it. The node must not be running (it signs with the key it
/// started with).
pub fn change_key(
    home: &crate::Home,
    node: &mut crate::Node,
    handing: &Handing<'_>,
    reason: Option<String>,
) -> Result<Moved, crate::NodeError> {
    let subject = handing.subject();
    let own = home.identity()?.author();
    if let Some(staged) = home.staged_identity()? {
        // An earlier change stopped between storing its succession and taking the new key:
        // finish it.
        if node.successions()?.current(&subject) == staged.author() {
            home.adopt_staged()?;
            node.set_owner(staged.author());
            return Ok(Moved {
                from: subject,
                to: staged.author(),
                kept: 0,
                dropped: 0,
                carried: 0,
                refused: Vec::new(),
                resumed: true,
            });
        }
        home.discard_staged()?;
    }
    // A rotation needs a key whose word has not ended. A recovery outranks anything the key
    // itself said — a thief's rotation included (regression: a recovery was refused on a
    // node that had received the thief's rotation) — so only an earlier recovery stops it.
    if let Some(verdict) = node.successions()?.verdict(&subject) {
        let recovering = matches!(handing, Handing::Recovery { .. });
        if !recovering || verdict.how == keys::Authority::Recovery {
            return Err(crate::NodeError::Invalid(format!(
                "key {subject} was already revoked, rotated or recovered: {}",
                node.trust(&subject)?.path
            )));
        }
    }
    if own != subject {
        let mut signed_here = false;
        node.store().for_each(Some(&own), |_| {
            signed_here = true;
            false
        })?;
        if signed_here {
            return Err(crate::NodeError::Invalid(format!(
                "this home signs as {own}, not {subject}, and has records of its own: recover \
                 {subject} on its own home, or on a new one (`convene init`)"
            )));
        }
    }
    let successor = Identity::generate().map_err(|e| crate::NodeError::Invalid(e.to_string()))?;
    home.stage_identity(&successor)?;
    let mut held = Vec::new();
    node.store().for_each(Some(&subject), |record| {
        held.push(record);
        true
    })?;
    let handover = hand_over(handing, &successor, held, reason, crate::now())?;
    let outcomes = node.admit(
        std::slice::from_ref(&handover.succession),
        crate::Source::Own,
    )?;
    if let Some(crate::Outcome::Refused(reason)) = outcomes.first() {
        home.discard_staged()?;
        return Err(crate::NodeError::Refused {
            address: handover.succession.address(),
            reason: reason.clone(),
        });
    }
    node.set_owner(successor.author());
    let outcomes = node.admit(&handover.carried, crate::Source::Own)?;
    let mut refused = Vec::new();
    let mut carried = 0;
    for (record, outcome) in handover.carried.iter().zip(outcomes) {
        match outcome {
            crate::Outcome::Refused(reason) => refused.push((record.address(), reason)),
            outcome if outcome.is_stored() => carried += 1,
            _ => {}
        }
    }
    home.adopt_staged()?;
    Ok(Moved {
        from: subject,
        to: successor.author(),
        kept: handover.kept,
        dropped: handover.dropped,
        carried,
        refused,
        resumed: false,
    })
}

/// A person's request to publish for this node's organisation, as this node received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDelegation {
    pub ask: DelegationAsk,
    /// Unix seconds.
    pub received_at: i64,
}

const ASK_KEY_PREFIX: &[u8] = b"delegation-ask/";

fn ask_key(delegate: &AuthorKey) -> Vec<u8> {
    [ASK_KEY_PREFIX, delegate.as_bytes().as_slice()].concat()
}

impl crate::Node {
    /// Keeps a person's request to publish for this node's organisation, sent by the node
    /// `from`, for `convene org requests` (one per person: a newer one replaces it).
    pub fn receive_delegation_ask(
        &mut self,
        ask: DelegationAsk,
        from: &str,
        now: i64,
    ) -> Result<(), crate::NodeError> {
        if ask.node != from {
            return Err(crate::NodeError::Invalid(
                "the delegation request names another node than the one that sent it".into(),
            ));
        }
        if self.owner != Some(ask.organisation) {
            return Err(crate::NodeError::Invalid(format!(
                "this node does not publish for {}",
                ask.organisation
            )));
        }
        let key = ask_key(&ask.delegate);
        let pending = self.store().join_requests()?;
        if pending.len() >= crate::charters::MAX_PENDING_JOINS
            && !pending.iter().any(|(k, _)| *k == key)
        {
            return Err(crate::NodeError::Invalid(
                "too many requests wait for an answer here already; try later".into(),
            ));
        }
        let value = serde_json::to_vec(&PendingDelegation {
            ask,
            received_at: now,
        })
        .expect("plain data");
        self.store()
            .set_join_request(&key, Some(&value))
            .map_err(|e| self.write_failed(e.into()))?;
        Ok(())
    }

    /// The requests to publish for this node's organisation, oldest first; those it has
    /// answered with a consented delegation are left out.
    pub fn delegation_asks(&self) -> Result<Vec<PendingDelegation>, crate::NodeError> {
        let owner = self.owner;
        let delegated: HashSet<AuthorKey> = self
            .store()
            .delegations()?
            .into_iter()
            .filter(|(organisation, d)| Some(*organisation) == owner && d.consented(organisation))
            .map(|(_, d)| d.delegate)
            .collect();
        let mut out: Vec<PendingDelegation> = self
            .store()
            .join_requests()?
            .into_iter()
            .filter(|(key, _)| key.starts_with(ASK_KEY_PREFIX))
            .filter_map(|(_, value)| serde_json::from_slice::<PendingDelegation>(&value).ok())
            .filter(|pending| !delegated.contains(&pending.ask.delegate))
            .collect();
        out.sort_by_key(|pending| pending.received_at);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::{Experiment, Practitioner, Status};

    fn sign(identity: &Identity, slug: &str, at: i64, content: Content) -> Record {
        Record::sign(identity, Slug::new(slug).unwrap(), 1, at, content).unwrap()
    }

    #[test]
    fn a_rotation_keeps_the_subjects_records_and_moves_its_own_references() {
        let (old, new) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
        );
        let person = sign(
            &old,
            "sam",
            10,
            Content::Practitioner(Practitioner {
                name: "Sam".into(),
                ..Practitioner::default()
            }),
        );
        let experiment = sign(
            &old,
            "pilot",
            20,
            Content::Experiment(Experiment {
                title: "Pilot".into(),
                summary: "s".into(),
                status: Status::Running,
                contacts: vec![person.address()],
                ..Experiment::default()
            }),
        );
        let handover = hand_over(
            &Handing::Rotation { subject: &old },
            &new,
            vec![person.clone(), experiment.clone()],
            None,
            30,
        )
        .unwrap();
        assert_eq!(handover.kept, 2);
        let Some(Content::Succession(succession)) = handover.succession.content() else {
            panic!("a succession");
        };
        assert_eq!(succession.kept, vec![experiment.id(), person.id()]);
        let carried: Vec<Address> = handover.carried.iter().map(Record::address).collect();
        assert!(carried.iter().all(|a| a.author == new.author()));
        let Some(Content::Experiment(moved)) = handover.carried[0].content() else {
            panic!("the experiment first (newest)");
        };
        assert_eq!(moved.contacts[0].author, new.author());
    }

    #[test]
    fn a_recovery_keeps_nothing_dated_after_its_cut_off() {
        let (stolen, new) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([4; 32]),
        );
        let (kit, _) = RecoveryKit::new(&stolen).unwrap();
        let (organisation, recovery_identity, declaration) =
            RecoveryKit::open(&kit.to_toml()).unwrap();
        assert_eq!(organisation, stolen.author());
        let before = sign(
            &stolen,
            "real",
            100,
            Content::Practitioner(Practitioner {
                name: "Real".into(),
                ..Practitioner::default()
            }),
        );
        let after = sign(
            &stolen,
            "thief",
            300,
            Content::Practitioner(Practitioner {
                name: "Thief".into(),
                ..Practitioner::default()
            }),
        );
        let handover = hand_over(
            &Handing::Recovery {
                subject: stolen.author(),
                recovery: &recovery_identity,
                declaration,
                before: Some(200),
                dropped: &[],
            },
            &new,
            vec![before.clone(), after],
            Some("key stolen".into()),
            400,
        )
        .unwrap();
        assert_eq!((handover.kept, handover.dropped), (1, 1));
        assert_eq!(
            handover.succession.header().author,
            recovery_identity.author()
        );
        assert_eq!(handover.carried.len(), 1);
    }
}
