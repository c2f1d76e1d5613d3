//! The charter rules (`convene_protocol::network::resolve`) as pure functions: who may amend,
//! concurrent amendments, removal, and independence from the order versions arrive in.

use convene_protocol::network::{CharterVersion, Resolved, resolve};
use convene_protocol::{
    AuthorKey, Charter, Content, NetworkId, NetworkPolicy, Record, RecordId, Slug,
};
use proptest::prelude::*;

use crate::{NOW, identity};

fn key(seed: u8) -> AuthorKey {
    identity(seed).author()
}

fn founding(convenors: &[u8], members: &[u8]) -> Charter {
    Charter {
        founder: key(convenors[0]),
        network: Slug::new("innopints").unwrap(),
        version: 1,
        previous: None,
        name: "innopints".into(),
        purpose: None,
        policy: NetworkPolicy::Members,
        convenors: convenors.iter().map(|&s| key(s)).collect(),
        members: members.iter().map(|&s| key(s)).collect(),
        federates: Vec::new(),
    }
}

/// A held version: its id is made up (distinct per version), its signer the seed's key.
#[derive(Clone, Debug)]
struct Held {
    id: RecordId,
    signer: u8,
    charter: Charter,
}

fn id(n: u8, salt: u8) -> RecordId {
    let mut bytes = [0; 32];
    bytes[0] = salt;
    bytes[1] = n;
    RecordId(bytes)
}

fn resolved(held: &[Held]) -> Option<Resolved> {
    let versions: Vec<CharterVersion<'_>> = held
        .iter()
        .map(|h| CharterVersion {
            id: h.id,
            author: key(h.signer),
            charter: &h.charter,
        })
        .collect();
    let network = held.first()?.charter.id();
    resolve(&network, &versions)
}

fn amend(parent: &Held, signer: u8, id: RecordId, change: impl FnOnce(&mut Charter)) -> Held {
    let mut charter = parent.charter.amend(parent.id);
    change(&mut charter);
    Held {
        id,
        signer,
        charter,
    }
}

#[test]
fn the_founding_charter_counts_only_when_its_founder_signed_it() {
    let charter = founding(&[1, 2], &[3]);
    let forged = Held {
        id: id(1, 0),
        signer: 2,
        charter: charter.clone(),
    };
    assert_eq!(resolved(std::slice::from_ref(&forged)), None);
    let real = Held {
        signer: 1,
        ..forged
    };
    assert_eq!(resolved(std::slice::from_ref(&real)).unwrap().head, charter);
}

#[test]
fn an_amendment_counts_only_when_a_convenor_of_the_replaced_version_signed_it() {
    let v1 = Held {
        id: id(1, 0),
        signer: 1,
        charter: founding(&[1, 2], &[3]),
    };
    // Member 3 is not a convenor: its amendment making itself one does not count.
    let by_member = amend(&v1, 3, id(2, 0), |c| c.convenors.push(key(3)));
    let now = resolved(&[v1.clone(), by_member]).unwrap();
    assert_eq!(now.chain, vec![v1.id]);
    // Convenor 2 may amend.
    let by_convenor = amend(&v1, 2, id(2, 1), |c| c.members.push(key(4)));
    let now = resolved(&[v1.clone(), by_convenor.clone()]).unwrap();
    assert_eq!(now.chain, vec![v1.id, by_convenor.id]);
    assert!(now.head.is_member(&key(4)));
}

#[test]
fn a_removed_convenor_can_no_longer_amend() {
    let v1 = Held {
        id: id(1, 0),
        signer: 1,
        charter: founding(&[1, 2], &[]),
    };
    let removal = amend(&v1, 1, id(2, 0), |c| c.convenors.retain(|k| *k != key(2)));
    let after = amend(&removal, 2, id(3, 0), |c| c.members.push(key(9)));
    let now = resolved(&[v1, removal.clone(), after]).unwrap();
    assert_eq!(now.head_id(), removal.id);
    assert!(!now.head.is_member(&key(2)));
    assert!(!now.head.is_member(&key(9)));
}

#[test]
fn concurrent_amendments_resolve_to_the_higher_ranked_convenors() {
    let v1 = Held {
        id: id(1, 0),
        signer: 1,
        charter: founding(&[1, 2], &[]),
    };
    // Convenor 2's amendment has the lower id, but convenor 1 is listed first.
    let by_two = amend(&v1, 2, id(2, 0), |c| c.members.push(key(5)));
    let by_one = amend(&v1, 1, id(2, 9), |c| c.members.push(key(6)));
    for order in [
        vec![v1.clone(), by_two.clone(), by_one.clone()],
        vec![by_one.clone(), by_two.clone(), v1.clone()],
    ] {
        let now = resolved(&order).unwrap();
        assert_eq!(now.head_id(), by_one.id);
    }
}

#[test]
fn an_old_charter_delivered_late_changes_nothing() {
    let v1 = Held {
        id: id(1, 0),
        signer: 1,
        charter: founding(&[1, 2], &[3]),
    };
    let v2 = amend(&v1, 2, id(2, 0), |c| c.members.push(key(4)));
    let v3 = amend(&v2, 1, id(3, 0), |c| c.members.retain(|k| *k != key(3)));
    // A competing amendment of version 1 by the lower-ranked convenor, arriving last.
    let stale = amend(&v1, 2, id(2, 1), |c| c.members.push(key(7)));
    let before = resolved(&[v1.clone(), v2.clone(), v3.clone()]).unwrap();
    let after = resolved(&[v3.clone(), v2.clone(), v1.clone(), stale]).unwrap();
    assert_eq!(before, after);
    assert_eq!(after.head_id(), v3.id);
    assert!(!after.head.is_member(&key(3)), "the removal stands");
}

#[test]
fn charter_versions_are_signed_once_and_never_retracted() {
    let founder = identity(1);
    let charter = founding(&[1, 2], &[]);
    let at = |seq| {
        Record::sign(
            &founder,
            charter.slug(),
            seq,
            NOW,
            Content::Charter(charter.clone()),
        )
    };
    let v1 = at(1).unwrap();
    assert_eq!(v1.address().slug.as_str(), "innopints-v1");
    assert!(at(2).unwrap_err().to_string().contains("seq 1"));
    let retraction = Record::sign_retraction(&founder, &v1.address(), 2, NOW);
    assert!(
        retraction
            .unwrap_err()
            .to_string()
            .contains("cannot be retracted")
    );
    // Signed by anyone but its founder, a founding charter is invalid.
    let forged = Record::sign(
        &identity(2),
        charter.slug(),
        1,
        NOW,
        Content::Charter(charter.clone()),
    );
    assert!(forged.unwrap_err().to_string().contains("founder"));
    assert_eq!(
        charter.id().to_string().parse::<NetworkId>().unwrap(),
        charter.id()
    );
}

/// A random history: each step amends some earlier version, signed by one of five keys (a
/// convenor of it or not), adding or removing a member or a convenor.
fn arb_history() -> impl Strategy<Value = Vec<Held>> {
    proptest::collection::vec((any::<u8>(), 1u8..=5, 0u8..4, 1u8..=8), 0..24).prop_map(|steps| {
        let mut held = vec![Held {
            id: id(0, 0),
            signer: 1,
            charter: founding(&[1, 2, 3], &[6]),
        }];
        for (n, (pick, signer, change, who)) in steps.into_iter().enumerate() {
            let parent = held[usize::from(pick) % held.len()].clone();
            let step = u8::try_from(n + 1).unwrap();
            held.push(amend(&parent, signer, id(step, pick), |c| match change {
                0 => {
                    if !c.members.contains(&key(who)) {
                        c.members.push(key(who));
                    }
                }
                1 => c.members.retain(|k| *k != key(who)),
                2 => {
                    if !c.convenors.contains(&key(who)) {
                        c.convenors.push(key(who));
                    }
                }
                _ => {
                    if c.convenors.len() > 1 {
                        c.convenors.retain(|k| *k != key(who));
                    }
                }
            }));
        }
        held
    })
}

proptest! {
    #[test]
    fn the_charter_does_not_depend_on_arrival_order(
        history in arb_history(),
        seed in any::<u64>(),
    ) {
        let expected = resolved(&history).unwrap();
        let mut shuffled = history.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(resolved(&shuffled).unwrap(), expected);
    }

    #[test]
    fn every_counting_version_was_signed_by_a_convenor_of_the_one_it_replaced(
        history in arb_history(),
    ) {
        let now = resolved(&history).unwrap();
        let by_id = |id: RecordId| history.iter().find(|h| h.id == id).unwrap();
        for pair in now.chain.windows(2) {
            let (parent, child) = (by_id(pair[0]), by_id(pair[1]));
            prop_assert_eq!(child.charter.previous, Some(parent.id));
            prop_assert!(parent.charter.convenors.contains(&key(child.signer)));
        }
    }

    #[test]
    fn a_version_arriving_late_that_loses_at_its_place_changes_nothing(
        history in arb_history(),
        late_signer in 1u8..=5,
        at in any::<u8>(),
    ) {
        // Every version of the chain but the last has a successor in it; a late competitor to
        // that successor, signed by a convenor ranked after the successor's signer (or not a
        // convenor at all), must not change the charter.
        let now = resolved(&history).unwrap();
        prop_assume!(now.chain.len() > 1);
        let place = 1 + usize::from(at) % (now.chain.len() - 1);
        let parent = history.iter().find(|h| h.id == now.chain[place - 1]).unwrap();
        let winner = now.signers[place];
        let rank = |k: &AuthorKey| parent.charter.convenors.iter().position(|c| c == k);
        prop_assume!(rank(&key(late_signer)).is_none_or(|r| r > rank(&winner).unwrap()));
        let late = amend(parent, late_signer, id(200, 200), |c| c.members.clear());
        let mut more = history.clone();
        more.push(late);
        prop_assert_eq!(resolved(&more).unwrap(), now);
    }
}

#[test]
fn a_join_request_verifies_and_any_change_to_it_does_not() {
    use convene_protocol::network::JoinRequest;
    let asker = identity(7);
    let network = founding(&[1], &[]).id();
    let node = "12D3KooWLRPJAA5o6nqPQhvgT36NeLjVCYKTRQxWQLf6bFJUTzsS";
    let bytes = JoinRequest::sign(
        &asker,
        network.clone(),
        node,
        Some("we run the triage pilot".into()),
        NOW,
    )
    .unwrap();
    let request = JoinRequest::verify(&bytes).unwrap();
    assert_eq!(request.organisation, asker.author());
    assert_eq!(request.network, network);
    assert_eq!(request.node, node);
    assert_eq!(request.note.as_deref(), Some("we run the triage pilot"));
    for at in [25, bytes.len() / 2, bytes.len() - 1] {
        let mut tampered = bytes.clone();
        tampered[at] ^= 1;
        assert!(JoinRequest::verify(&tampered).is_err(), "byte {at}");
    }
    assert!(JoinRequest::verify(&bytes[..bytes.len() - 1]).is_err());
    assert!(JoinRequest::sign(&asker, NetworkId::Commons, node, None, NOW).is_err());
}
