//! Keys that change, from the command line: a person's consent to act for an organisation,
//! delegations and their revocation, key rotation, recovery kits and recovery.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use convene_node::keys::{Handing, Moved, RecoveryKit};
use convene_node::{AskDelegation, Client, Directory, Home, ListFilter, Node, now};
use convene_protocol::keys::{self as rules, MAX_KEPT, Sig};
use convene_protocol::{Address, AuthorKey, Content, Date, Delegation, Kind, Succession};

use crate::output::Out;

/// A person's consent as one line to send to the organisation: `KEY:SIGNATURE`.
pub fn consent_token(home: &Home, organisation: &AuthorKey) -> Result<String> {
    let identity = home.identity()?;
    if identity.author() == *organisation {
        bail!("this is your own key: a delegation is for another person's key");
    }
    let consent = rules::consent(&identity, organisation);
    Ok(format!("{}:{}", identity.author(), consent.to_hex()))
}

/// Reads a consent token for `organisation`, checking it was given to it by `delegate`.
fn parse_consent(token: &str, organisation: &AuthorKey, delegate: &AuthorKey) -> Result<Sig> {
    let (key, signature) = token.trim().rsplit_once(':').with_context(|| {
        format!("{token:?} is not a consent token (KEY:SIGNATURE, from `convene org consent`)")
    })?;
    let key = key.trim().trim_start_matches(Address::SCHEME);
    let key = AuthorKey::from_base32(key)
        .with_context(|| format!("{key:?} in the consent token is not a key"))?;
    if key != *delegate {
        bail!("the consent token was given by {key}, not by {delegate}");
    }
    let consent =
        Sig::from_hex(signature).context("the consent token's signature is not 128 hex digits")?;
    if !rules::consent_verifies(&consent, organisation, delegate) {
        bail!(
            "the consent token does not verify for your organisation ({organisation}): ask \
             {delegate} to run `convene org consent {organisation}` and send you what it prints"
        );
    }
    Ok(consent)
}

/// `convene delegate KEY --as ROLE --consent TOKEN`: publishes (or renews) a delegation. A
/// renewal may leave out the token: the held delegation's consent is reused.
pub fn delegate(
    node: &mut dyn Directory,
    home: &Home,
    mut delegation: Delegation,
    consent: Option<String>,
    out: &mut Out,
) -> Result<ExitCode> {
    let organisation = home.identity()?.author();
    let key = delegation.delegate;
    let consent = match consent {
        Some(token) => parse_consent(&token, &organisation, &key)?,
        None => match held_delegation(node, &organisation, &key)
            .and_then(|d| d.consent.filter(|_| d.consented(&organisation)))
        {
            Some(consent) => consent,
            None => bail!(
                "a delegation needs the person's consent: ask them to run `convene org consent \
                 {organisation}` and pass what it prints with --consent"
            ),
        },
    };
    delegation.consent = Some(consent);
    if delegation.person.is_none() {
        delegation.person = practitioner_name(node, &key)?;
    }
    let expires = delegation.expires;
    let record = crate::publish_statement(node, Content::Delegation(delegation))?;
    out.line(&record.address().to_string())?;
    say!("{key} publishes for your organisation until {expires}");
    Ok(ExitCode::SUCCESS)
}

fn held_delegation(
    node: &dyn Directory,
    organisation: &AuthorKey,
    delegate: &AuthorKey,
) -> Option<Delegation> {
    let address = Address {
        author: *organisation,
        kind: Kind::Delegation,
        slug: Delegation::slug_for(delegate),
    };
    match node.get(&address).ok()?.content() {
        Some(Content::Delegation(delegation)) => Some(delegation.clone()),
        _ => None,
    }
}

/// `convene org revoke KEY`: ends a delegate's word with a cut-off at what this node holds.
pub fn revoke(
    node: &mut dyn Directory,
    home: &Home,
    key: AuthorKey,
    reason: Option<String>,
    out: &mut Out,
) -> Result<ExitCode> {
    let organisation = home.identity()?.author();
    match held_delegation(node, &organisation, &key) {
        Some(delegation) if delegation.consented(&organisation) => {}
        Some(_) => bail!(
            "your delegation of {key} carries no consent from it, so it never counted and \
             there is nothing to revoke"
        ),
        None => bail!("{key} is not your delegate (`convene org delegates` lists them)"),
    }
    let mut records = node.list(&ListFilter {
        author: Some(key),
        kind: None,
        stale: false,
        now: now(),
    })?;
    records.retain(|record| record.header().kind != Kind::Succession);
    records.sort_by_key(|record| std::cmp::Reverse(record.header().created_at));
    let dropped = records.len().saturating_sub(MAX_KEPT);
    records.truncate(MAX_KEPT);
    let record = crate::publish_statement(
        node,
        Content::Succession(Succession {
            subject: key,
            successor: None,
            accepted: None,
            declaration: None,
            kept: records.iter().map(|record| record.id()).collect(),
            reason,
        }),
    )?;
    out.line(&record.address().to_string())?;
    say!(
        "revoked {key}: the {} records of it this node holds stay valid; anything else it \
         signs, whatever date it carries, is refused by every node that holds this revocation",
        records.len()
    );
    if dropped > 0 {
        say!("warning: {dropped} older records of it are beyond the {MAX_KEPT} a revocation keeps");
    }
    Ok(ExitCode::SUCCESS)
}

/// `convene org delegates`: this organisation's delegations and where each stands.
pub fn delegates(node: &dyn Directory, home: &Home, json: bool, out: &mut Out) -> Result<ExitCode> {
    let organisation = home.identity()?.author();
    let today = Date::from_unix(now());
    let delegations = node.list(&ListFilter {
        author: Some(organisation),
        kind: Some(Kind::Delegation),
        stale: false,
        now: now(),
    })?;
    let mut rows = Vec::new();
    for record in &delegations {
        let Some(Content::Delegation(delegation)) = record.content() else {
            continue;
        };
        let trust = node.trust(&delegation.delegate)?;
        let revoked = trust.path.contains("this key was ");
        let status = if !delegation.consented(&organisation) {
            "no consent (does not count)"
        } else if revoked {
            "revoked"
        } else if delegation.expires < today {
            "expired"
        } else {
            "active"
        };
        let person = practitioner_name(node, &delegation.delegate)?;
        rows.push(serde_json::json!({
            "delegate": delegation.delegate.to_string(),
            "person": person,
            "role": delegation.role,
            "kinds": delegation.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "expires": delegation.expires.to_string(),
            "status": status,
            "trust_path": trust.path,
        }));
    }
    if json {
        out.line(&serde_json::to_string_pretty(&rows)?)?;
    } else if rows.is_empty() {
        say!("no delegations: `convene delegate KEY --as ROLE --consent TOKEN` makes one");
    } else {
        for row in &rows {
            out.line(&format!(
                "{}\t{}\t{}\tuntil {}\t{}",
                row["delegate"].as_str().unwrap_or_default(),
                row["person"]
                    .as_str()
                    .unwrap_or("(no practitioner record yet)"),
                row["role"].as_str().unwrap_or_default(),
                row["expires"].as_str().unwrap_or_default(),
                row["status"].as_str().unwrap_or_default(),
            ))?;
        }
    }
    Ok(crate::found(!rows.is_empty()))
}

/// `convene org recovery-kit --out FILE`: a new recovery key, written with the organisation's
/// declaration of it to FILE, and named in the organisation's profile.
pub fn recovery_kit(
    node: &mut dyn Directory,
    home: &Home,
    path: &Path,
    out: &mut Out,
) -> Result<ExitCode> {
    let identity = home.identity()?;
    let (profile, organisation) = own_profile(node, home, "the recovery key")?;
    let (kit, recovery) = RecoveryKit::new(&identity)?;
    convene_node::write_secret_file(path, kit.to_toml().as_bytes())
        .with_context(|| format!("writing the recovery kit to {}", path.display()))?;
    let mut organisation = organisation;
    organisation.recovery.push(recovery);
    crate::publish_statement_at(
        node,
        profile.header().slug.clone(),
        Content::Organisation(organisation),
    )?;
    out.line(&path.display().to_string())?;
    say!(
        "wrote a recovery kit to {} and named its key ({recovery}) in your profile. Print it or \
         copy it to a removable disk, keep it somewhere safe, and delete it from this machine: \
         whoever holds it can move your organisation to a new key",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `convene org rotate` and `convene org recover`: moves the home to a new key. Refused while
/// a node runs on the home (it signs with the key it started with).
/// How `convene org recover` was asked to recover.
#[derive(Debug)]
pub struct Recovering {
    pub kit: PathBuf,
    /// The last day the key was surely safe.
    pub before: Option<Date>,
    /// Records of the key that are not the organisation's.
    pub drop: Vec<Address>,
    /// Only list what would be kept.
    pub dry_run: bool,
}

pub fn change_key(
    home: &Home,
    recover: Option<Recovering>,
    reason: Option<String>,
    out: &mut Out,
) -> Result<ExitCode> {
    if let Some(client) = Client::find(home.dir())? {
        bail!(
            "a node is running on this home (its API at {}); stop it first: a key change \
             replaces the key it signs with",
            client.address()
        );
    }
    let mut node = Node::open(&home.data_dir())
        .with_context(|| format!("opening the store in {}", home.data_dir().display()))?;
    let identity = home.identity()?;
    node.set_owner(identity.author());
    let moved = match recover {
        None => convene_node::keys::change_key(
            home,
            &mut node,
            &Handing::Rotation { subject: &identity },
            reason,
        )?,
        Some(recovering) => {
            let kit = &recovering.kit;
            let text = std::fs::read_to_string(kit)
                .with_context(|| format!("reading the recovery kit {}", kit.display()))?;
            let (subject, recovery, declaration) =
                RecoveryKit::open(&text).with_context(|| kit.display().to_string())?;
            // The end of the day given: records the key signed later are not kept.
            let before = recovering
                .before
                .map(|day| (day.unix_days() + 1) * 86_400 - 1);
            if recovering.dry_run {
                let mut held = Vec::new();
                node.store().for_each(Some(&subject), |record| {
                    held.push(record);
                    true
                })?;
                let kept = convene_node::keys::kept_by_recovery(held, before, &recovering.drop);
                for record in &kept {
                    out.line(&format!(
                        "{}\t{}\t{}",
                        Date::from_unix(record.header().created_at),
                        record.address(),
                        record.content().map_or("(retracted)", |c| c.title())
                    ))?;
                }
                node.close()?;
                say!(
                    "a recovery would keep these {} records of {subject} and re-sign them under a \
                     new key; anything else it signed would be refused everywhere. Leave out what \
                     is not yours with --drop ADDRESS, then run again without --dry-run",
                    kept.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            convene_node::keys::change_key(
                home,
                &mut node,
                &Handing::Recovery {
                    subject,
                    recovery: &recovery,
                    declaration,
                    before,
                    dropped: &recovering.drop,
                },
                reason,
            )?
        }
    };
    node.close()?;
    report(&moved);
    Ok(ExitCode::SUCCESS)
}

fn report(moved: &Moved) {
    if moved.resumed {
        say!(
            "finished an interrupted key change: this home now signs as {}",
            moved.to
        );
        return;
    }
    say!(
        "moved {} to the new key {}: {} records kept under the old key, {} re-signed under the \
         new one",
        moved.from,
        moved.to,
        moved.kept,
        moved.carried
    );
    if moved.dropped > 0 {
        say!(
            "{} records of the old key are not kept (signed after the cut-off, or beyond the {} \
             a succession keeps): every node that holds the succession refuses them",
            moved.dropped,
            MAX_KEPT
        );
    }
    for (address, reason) in &moved.refused {
        say!("warning: {address} was not re-signed: {reason}");
    }
    say!("the old key was deleted from this home: the succession keeps its records without it");
    say!(
        "start the node (`convene node run`) to send the change to your peers. If your profile \
         names a domain, list the new key in https://DOMAIN/.well-known/convene.json \
         (`convene org domain DOMAIN` prints it). Recovery keys belong to the old key: make a \
         new kit with `convene org recovery-kit`"
    );
}

/// `convene org ask ORG_KEY TICKET`: sends this home's request to publish for an organisation
/// to the organisation's node (through this home's running node).
pub fn ask(
    node: &mut dyn Directory,
    home: &Home,
    organisation: AuthorKey,
    ticket: &str,
    note: Option<String>,
) -> Result<ExitCode> {
    let own = home.identity()?.author();
    if own == organisation {
        bail!("this is your own key: a delegation is for another person's key");
    }
    let entry = crate::add_peer(home, ticket).context("connecting to the node in the ticket")?;
    let peer = entry.peer.context("the ticket names no peer id")?;
    let person = practitioner_name(node, &own)?;
    node.ask_for_delegation(&AskDelegation {
        organisation,
        peer: peer.to_string(),
        person,
        note,
    })?;
    say!(
        "asked {organisation} to let you publish for it: its administrator sees the request \
         with `convene org requests` and answers with `convene org approve {own} --as ROLE`"
    );
    Ok(ExitCode::SUCCESS)
}

/// `convene org requests`: people's requests to publish for this organisation.
pub fn requests(node: &dyn Directory, json: bool, out: &mut Out) -> Result<ExitCode> {
    let pending = node.delegation_asks()?;
    if json {
        out.line(&serde_json::to_string_pretty(&pending)?)?;
    } else if pending.is_empty() {
        say!("no requests to publish for your organisation wait for an answer");
    } else {
        for request in &pending {
            let ask = &request.ask;
            out.line(&format!(
                "{}\t{}\t{}\t{}",
                ask.delegate,
                ask.person.as_deref().unwrap_or("(no name given)"),
                ask.note.as_deref().unwrap_or(""),
                Date::from_unix(request.received_at),
            ))?;
        }
        say!("answer with `convene org approve KEY --as ROLE`");
    }
    Ok(crate::found(!pending.is_empty()))
}

/// `convene org approve KEY --as ROLE`: the delegation a person asked for, with the consent
/// and name their request carried.
pub fn approve(
    node: &mut dyn Directory,
    home: &Home,
    mut delegation: Delegation,
    out: &mut Out,
) -> Result<ExitCode> {
    let key = delegation.delegate;
    let Some(pending) = node
        .delegation_asks()?
        .into_iter()
        .find(|pending| pending.ask.delegate == key)
    else {
        bail!(
            "{key} has not asked to publish for your organisation (`convene org requests` lists \
             who has); with a consent line from them, use `convene delegate {key} --as ROLE \
             --consent LINE`"
        );
    };
    delegation.person = delegation.person.or(pending.ask.person);
    delegate(
        node,
        home,
        delegation,
        Some(format!("{key}:{}", pending.ask.consent.to_hex())),
        out,
    )
}

/// The name on `key`'s practitioner record, if this node holds one.
fn practitioner_name(node: &dyn Directory, key: &AuthorKey) -> Result<Option<String>> {
    Ok(node
        .list(&ListFilter {
            author: Some(*key),
            kind: Some(Kind::Practitioner),
            stale: false,
            now: now(),
        })?
        .first()
        .and_then(|record| record.content().map(|c| c.title().to_string())))
}

/// This home's organisation profile, to name `what` in; an error says to publish one first.
pub fn own_profile(
    node: &dyn Directory,
    home: &Home,
    what: &str,
) -> Result<(convene_protocol::Record, convene_protocol::Organisation)> {
    let profiles = node.list(&ListFilter {
        author: Some(home.identity()?.author()),
        kind: Some(Kind::Organisation),
        stale: false,
        now: now(),
    })?;
    let Some(profile) = profiles.into_iter().next() else {
        bail!(
            "this home has no organisation profile to name {what} in: publish one first (a \
             draft with kind = \"organisation\")"
        );
    };
    let Some(Content::Organisation(organisation)) = profile.content().cloned() else {
        unreachable!("listed as an organisation")
    };
    Ok((profile, organisation))
}
