//! The succession rules (`convene_protocol::keys::judge`) as pure functions: revocation with a
//! cut-off, rotation, recovery and their conflicts, whatever order the statements arrive in.

use std::collections::BTreeSet;

use convene_protocol::keys::{
    Authority, Statement, Succession, accept_succession, declare_recovery, judge,
};
use convene_protocol::{AuthorKey, Content, Identity, Record, RecordId};
use proptest::prelude::*;

use crate::{NOW, identity};

/// The key whose word ends, its declared recovery keys, two would-be successors, the
/// organisation it consented to act for, and a stranger.
const SUBJECT: u8 = 1;
const RECOVERY: u8 = 2;
const THIEFS_RECOVERY: u8 = 3;
const SUCCESSORS: [u8; 2] = [4, 5];
const ORGANISATION: u8 = 6;
const STRANGER: u8 = 7;

fn key(seed: u8) -> AuthorKey {
    identity(seed).author()
}

fn ids(mask: u8) -> Vec<RecordId> {
    (0..8u8)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| RecordId([bit; 32]))
        .collect()
}

/// Who signs a statement, and what it says.
#[derive(Clone, Debug)]
enum Kind {
    Rotation {
        successor: usize,
    },
    Retirement,
    Recovery {
        by: u8,
        successor: usize,
    },
    /// A "recovery" by a key the subject never declared (its declaration is for another key).
    Forged {
        successor: usize,
    },
    Revocation {
        by: u8,
    },
}

fn statement() -> impl Strategy<Value = (Kind, u8)> {
    let kind = prop_oneof![
        (0..2usize).prop_map(|successor| Kind::Rotation { successor }),
        Just(Kind::Retirement),
        (
            prop_oneof![Just(RECOVERY), Just(THIEFS_RECOVERY)],
            0..2usize
        )
            .prop_map(|(by, successor)| Kind::Recovery { by, successor }),
        (0..2usize).prop_map(|successor| Kind::Forged { successor }),
        prop_oneof![Just(ORGANISATION), Just(STRANGER)].prop_map(|by| Kind::Revocation { by }),
    ];
    (kind, any::<u8>())
}

fn build(kind: &Kind, mask: u8) -> (AuthorKey, Succession) {
    let subject = identity(SUBJECT);
    let with_successor = |n: usize| {
        let successor = identity(SUCCESSORS[n]);
        (
            Some(successor.author()),
            Some(accept_succession(&successor, &subject.author())),
        )
    };
    let (author, (successor, accepted), declaration) = match kind {
        Kind::Rotation { successor } => (SUBJECT, with_successor(*successor), None),
        Kind::Retirement => (SUBJECT, (None, None), None),
        Kind::Recovery { by, successor } => (
            *by,
            with_successor(*successor),
            Some(declare_recovery(&subject, &key(*by))),
        ),
        Kind::Forged { successor } => (
            STRANGER,
            with_successor(*successor),
            Some(declare_recovery(&subject, &key(RECOVERY))),
        ),
        Kind::Revocation { by } => (*by, (None, None), None),
    };
    (
        key(author),
        Succession {
            subject: subject.author(),
            successor,
            accepted,
            declaration,
            kept: ids(mask),
            reason: None,
        },
    )
}

fn verdict_of(held: &[(AuthorKey, Succession)]) -> Option<convene_protocol::keys::Verdict> {
    let statements: Vec<Statement<'_>> = held
        .iter()
        .map(|(author, succession)| Statement {
            author: *author,
            succession,
        })
        .collect();
    // Only the organisation holds a consented delegation of the subject.
    judge(&key(SUBJECT), &statements, |org| *org == key(ORGANISATION))
}

proptest! {
    #[test]
    fn every_order_gives_the_same_verdict_and_the_rules_hold(
        drawn in prop::collection::vec(statement(), 0..7),
        rotate in any::<usize>(),
    ) {
        let held: Vec<(AuthorKey, Succession)> =
            drawn.iter().map(|(kind, mask)| build(kind, *mask)).collect();
        let verdict = verdict_of(&held);
        // Order and repetition change nothing.
        let mut turned = held.clone();
        if !turned.is_empty() {
            let by = rotate % turned.len();
            turned.rotate_left(by);
            turned.reverse();
        }
        turned.extend(held.iter().cloned());
        prop_assert_eq!(&verdict, &verdict_of(&turned));

        let counts = |kind: &Kind| {
            !matches!(
                kind,
                Kind::Forged { .. } | Kind::Revocation { by: STRANGER }
            )
        };
        let recoveries: Vec<&(Kind, u8)> = drawn
            .iter()
            .filter(|(kind, _)| matches!(kind, Kind::Recovery { .. }))
            .collect();
        let Some(verdict) = verdict else {
            // Nothing decides only when nothing counts.
            prop_assert!(drawn.iter().all(|(kind, _)| !counts(kind)));
            return Ok(());
        };
        // A recovery outranks the key's own word (a rotation signed by a stolen key).
        if !recoveries.is_empty() {
            prop_assert_eq!(verdict.how, Authority::Recovery);
            let named: BTreeSet<AuthorKey> = recoveries
                .iter()
                .map(|(kind, _)| match kind {
                    Kind::Recovery { successor, .. } => key(SUCCESSORS[*successor]),
                    _ => unreachable!(),
                })
                .collect();
            if named.len() == 1 {
                prop_assert_eq!(verdict.successor, named.into_iter().next());
            } else {
                prop_assert!(verdict.disputed && verdict.successor.is_none());
            }
        }
        // Every counting statement of the deciding tier, and every counting revocation by
        // the organisation, keeps at least what the verdict keeps: nothing beyond a cut-off
        // comes back.
        for (kind, mask) in &drawn {
            let binding = match kind {
                Kind::Revocation { by: ORGANISATION } => true,
                Kind::Recovery { .. } => verdict.how == Authority::Recovery,
                Kind::Rotation { .. } | Kind::Retirement => verdict.how == Authority::Own,
                _ => false,
            };
            if binding {
                let theirs: BTreeSet<RecordId> = ids(*mask).into_iter().collect();
                prop_assert!(verdict.kept.is_subset(&theirs));
            }
        }
        // A stranger's or a forger's statement never names the successor.
        if verdict.how == Authority::Organisation {
            prop_assert!(verdict.successor.is_none());
        }
    }
}

#[test]
fn a_succession_is_signed_once_never_retracted_and_checked_on_receipt() {
    let subject = identity(SUBJECT);
    let (_, rotation) = build(&Kind::Rotation { successor: 0 }, 0b11);
    let signed = Record::sign(
        &subject,
        Succession::slug_for(&subject.author()),
        1,
        NOW,
        Content::Succession(rotation.clone()),
    )
    .unwrap();
    let read = Record::from_bytes(signed.bytes().to_vec(), NOW).unwrap();
    assert_eq!(read.content(), Some(&Content::Succession(rotation.clone())));
    assert!(
        Record::sign(
            &subject,
            Succession::slug_for(&subject.author()),
            2,
            NOW,
            Content::Succession(rotation.clone()),
        )
        .is_err(),
        "a second version would let a key rewrite its cut-off"
    );
    assert!(
        Record::sign_retraction(&subject, &signed.address(), 2, NOW).is_err(),
        "a retraction would bring back what the cut-off refused"
    );
    // A recovery signed by a key the subject never declared is refused on receipt.
    let (_, forged) = build(&Kind::Forged { successor: 0 }, 0);
    assert!(
        Record::sign(
            &identity(STRANGER),
            Succession::slug_for(&subject.author()),
            1,
            NOW,
            Content::Succession(forged),
        )
        .is_err()
    );
    // A successor named without its countersignature is refused too.
    let mut unaccepted = rotation;
    unaccepted.accepted = Some(accept_succession(
        &Identity::from_secret([9; 32]),
        &subject.author(),
    ));
    assert!(
        Record::sign(
            &subject,
            Succession::slug_for(&subject.author()),
            1,
            NOW,
            Content::Succession(unaccepted),
        )
        .is_err()
    );
}
