//! Colleagues' accounts on the web page. The operator creates an account with `convene web user
//! add NAME`, which prints a one-time sign-in link; following it (and pressing "Sign in") starts
//! a session held by a cookie. No password exists, so none can be stored in clear: the store
//! keeps only BLAKE3 hashes of the link's token and of each session's secret, so a copy of the
//! store signs no one in. A signed-in colleague acts for this node's organisation: the page lets
//! them see its members-only networks' records, publish, and say "we're interested too".

use serde::{Deserialize, Serialize};

use crate::{Node, NodeError, now};

/// Accounts a node keeps at most.
pub const MAX_ACCOUNTS: usize = 1_000;
/// Sessions one account keeps at most (one per browser); a new one ends the oldest.
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 10;
/// The longest account name, in characters.
pub const MAX_NAME: usize = 64;
/// How long a sign-in link works, unused.
pub const LINK_SECS: i64 = 24 * 3600;
/// How long a session lasts before its colleague signs in again.
pub const SESSION_SECS: i64 = 30 * 24 * 3600;

/// A colleague the operator lets sign in, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Account {
    name: String,
    created_at: i64,
    /// The pending one-time link: the BLAKE3 hash of its token, hex, and until when it works.
    link: Option<(String, i64)>,
    last_signed_in: Option<i64>,
}

/// A browser's session, as stored under the hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The token every form of this session carries back (cross-site request forgery guard).
    pub csrf: String,
}

/// A sign-in link's secret part, shown once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignInToken {
    pub account: String,
    pub token: String,
    pub expires_at: i64,
}

/// A session just started: the secret goes into the browser's cookie and nowhere else.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewSession {
    pub secret: String,
    pub session: Session,
}

/// What `convene web user list` shows of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub name: String,
    pub created_at: i64,
    pub last_signed_in: Option<i64>,
    /// Until when an unused sign-in link works, if one is pending.
    pub link_expires_at: Option<i64>,
    /// Browsers signed in now.
    pub sessions: usize,
}

/// A change to the accounts, as `convene web user …` asks it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AccountChange {
    /// A new account, with its first sign-in link.
    Add { name: String },
    /// A new sign-in link for an account (the earlier one stops working).
    Link { name: String },
    /// Removes an account and signs out its browsers.
    Remove { name: String },
}

/// What an [`AccountChange`] did.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "done", rename_all = "snake_case")]
pub enum AccountChanged {
    Link(SignInToken),
    Removed { name: String, sessions: usize },
}

fn secret() -> ([u8; 32], String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS gives randomness");
    let text = data_encoding::HEXLOWER.encode(&bytes);
    (*blake3::hash(text.as_bytes()).as_bytes(), text)
}

fn hash_of(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

/// Checks an account name: one line, 1 to [`MAX_NAME`] characters of letters, digits, spaces
/// and `.-_@'`.
pub fn check_name(name: &str) -> Result<&str, NodeError> {
    let name = name.trim();
    let allowed = |c: char| c.is_alphanumeric() || " .-_@'".contains(c);
    if name.is_empty() || name.chars().count() > MAX_NAME || !name.chars().all(allowed) {
        return Err(NodeError::Invalid(format!(
            "account name {name:?}: 1 to {MAX_NAME} letters, digits, spaces or .-_@'"
        )));
    }
    Ok(name)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("plain data")
}

impl Node {
    fn account(&self, name: &str) -> Result<Option<Account>, NodeError> {
        Ok(self
            .store()
            .web_accounts()?
            .into_iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, bytes)| decode(&bytes)))
    }

    /// Makes the change `convene web user …` asks for.
    pub fn change_account(&self, change: &AccountChange) -> Result<AccountChanged, NodeError> {
        match change {
            AccountChange::Add { name } => self.issue_link(check_name(name)?, true),
            AccountChange::Link { name } => self.issue_link(check_name(name)?, false),
            AccountChange::Remove { name } => {
                let name = check_name(name)?;
                if self.account(name)?.is_none() {
                    return Err(no_account(name));
                }
                let sessions = self.sessions_of(name)?;
                let count = sessions.len();
                let ends: Vec<_> = sessions.into_iter().map(|(hash, _)| (hash, None)).collect();
                self.store().write_web(&[(name, None)], &ends)?;
                Ok(AccountChanged::Removed {
                    name: name.to_string(),
                    sessions: count,
                })
            }
        }
    }

    fn issue_link(&self, name: &str, new: bool) -> Result<AccountChanged, NodeError> {
        let existing = self.account(name)?;
        let now = now();
        let mut account = match (existing, new) {
            (Some(_), true) => {
                return Err(NodeError::Invalid(format!(
                    "{name:?} already has an account; `convene web user link {name:?}` gives \
                     them a new sign-in link"
                )));
            }
            (None, false) => return Err(no_account(name)),
            (Some(account), false) => account,
            (None, true) => {
                if self.store().web_accounts()?.len() >= MAX_ACCOUNTS {
                    return Err(NodeError::Invalid(format!(
                        "this node has {MAX_ACCOUNTS} web accounts already, the most it keeps; \
                         remove some with `convene web user remove NAME`"
                    )));
                }
                Account {
                    name: name.to_string(),
                    created_at: now,
                    link: None,
                    last_signed_in: None,
                }
            }
        };
        let (hash, token) = secret();
        let expires_at = now + LINK_SECS;
        account.link = Some((data_encoding::HEXLOWER.encode(&hash), expires_at));
        self.store()
            .write_web(&[(name, Some(encode(&account)))], &[])?;
        Ok(AccountChanged::Link(SignInToken {
            account: name.to_string(),
            token,
            expires_at,
        }))
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Result<Vec<AccountView>, NodeError> {
        let now = now();
        let sessions: Vec<Session> = self
            .store()
            .web_sessions()?
            .into_iter()
            .filter_map(|(_, bytes)| decode::<Session>(&bytes))
            .filter(|session| session.expires_at > now)
            .collect();
        Ok(self
            .store()
            .web_accounts()?
            .into_iter()
            .filter_map(|(_, bytes)| decode::<Account>(&bytes))
            .map(|account| AccountView {
                sessions: sessions
                    .iter()
                    .filter(|s| s.account == account.name)
                    .count(),
                link_expires_at: account
                    .link
                    .as_ref()
                    .map(|(_, until)| *until)
                    .filter(|until| *until > now),
                name: account.name,
                created_at: account.created_at,
                last_signed_in: account.last_signed_in,
            })
            .collect())
    }

    fn sessions_of(&self, name: &str) -> Result<Vec<([u8; 32], Session)>, NodeError> {
        Ok(self
            .store()
            .web_sessions()?
            .into_iter()
            .filter_map(|(hash, bytes)| Some((hash, decode::<Session>(&bytes)?)))
            .filter(|(_, session)| session.account == name)
            .collect())
    }

    /// Redeems a one-time sign-in token: a new session for its account, or `None` when the
    /// token is unknown, used or expired. The token stops working either way it succeeds;
    /// the account's expired sessions, and its oldest beyond [`MAX_SESSIONS_PER_ACCOUNT`], end.
    pub fn sign_in(&self, token: &str) -> Result<Option<NewSession>, NodeError> {
        let token = token.trim();
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let wanted = data_encoding::HEXLOWER.encode(&hash_of(&token.to_ascii_lowercase()));
        let now = now();
        let Some(mut account) = self
            .store()
            .web_accounts()?
            .into_iter()
            .filter_map(|(_, bytes)| decode::<Account>(&bytes))
            .find(|account| {
                account
                    .link
                    .as_ref()
                    .is_some_and(|(hash, _)| *hash == wanted)
            })
        else {
            return Ok(None);
        };
        let (_, until) = account.link.take().expect("matched");
        if until <= now {
            self.store()
                .write_web(&[(account.name.as_str(), Some(encode(&account)))], &[])?;
            return Ok(None);
        }
        account.last_signed_in = Some(now);
        let (_, csrf) = secret();
        let (hash, secret) = secret();
        let session = Session {
            account: account.name.clone(),
            created_at: now,
            expires_at: now + SESSION_SECS,
            csrf,
        };
        let mut kept = self.sessions_of(&account.name)?;
        kept.sort_by_key(|(_, s)| std::cmp::Reverse(s.created_at));
        let mut writes: Vec<([u8; 32], Option<Vec<u8>>)> = kept
            .iter()
            .enumerate()
            .filter(|(i, (_, s))| s.expires_at <= now || *i + 1 >= MAX_SESSIONS_PER_ACCOUNT)
            .map(|(_, (hash, _))| (*hash, None))
            .collect();
        writes.push((hash, Some(encode(&session))));
        self.store()
            .write_web(&[(account.name.as_str(), Some(encode(&account)))], &writes)?;
        Ok(Some(NewSession { secret, session }))
    }

    /// The live session whose secret is `secret`, if there is one.
    pub fn web_session(&self, secret: &str) -> Result<Option<Session>, NodeError> {
        if secret.len() != 64 {
            return Ok(None);
        }
        let Some(bytes) = self.store().web_session(&hash_of(secret))? else {
            return Ok(None);
        };
        Ok(decode::<Session>(&bytes).filter(|session| session.expires_at > now()))
    }

    /// Ends the session whose secret is `secret`.
    pub fn sign_out(&self, secret: &str) -> Result<(), NodeError> {
        self.store().write_web(&[], &[(hash_of(secret), None)])?;
        Ok(())
    }
}

fn no_account(name: &str) -> NodeError {
    NodeError::Invalid(format!(
        "there is no web account {name:?}; `convene web user list` shows those there are"
    ))
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::create(dir.path()).unwrap();
        (dir, node)
    }

    fn link(node: &Node, name: &str) -> String {
        match node
            .change_account(&AccountChange::Add { name: name.into() })
            .unwrap()
        {
            AccountChanged::Link(link) => link.token,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_sign_in_link_works_once() {
        let (_dir, node) = node();
        let token = link(&node, "Sam Patel");
        let session = node.sign_in(&token).unwrap().expect("signed in");
        assert_eq!(session.session.account, "Sam Patel");
        assert_eq!(
            node.web_session(&session.secret).unwrap(),
            Some(session.session.clone())
        );
        assert!(node.sign_in(&token).unwrap().is_none(), "used twice");
        node.sign_out(&session.secret).unwrap();
        assert!(node.web_session(&session.secret).unwrap().is_none());
    }

    #[test]
    fn the_store_holds_no_secret() {
        let (dir, node) = node();
        let token = link(&node, "Sam Patel");
        let session = node.sign_in(&token).unwrap().unwrap();
        drop(node);
        let all: Vec<u8> = std::fs::read(dir.path().join("store.redb")).unwrap();
        for secret in [&token, &session.secret] {
            assert!(
                !all.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret was stored in clear"
            );
        }
    }

    #[test]
    fn a_new_link_ends_the_old_one_and_removal_ends_sessions() {
        let (_dir, node) = node();
        let first = link(&node, "Sam");
        let AccountChanged::Link(second) = node
            .change_account(&AccountChange::Link { name: "Sam".into() })
            .unwrap()
        else {
            panic!()
        };
        assert!(node.sign_in(&first).unwrap().is_none());
        let session = node.sign_in(&second.token).unwrap().unwrap();
        let AccountChanged::Removed { sessions, .. } = node
            .change_account(&AccountChange::Remove { name: "Sam".into() })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(sessions, 1);
        assert!(node.web_session(&session.secret).unwrap().is_none());
        assert!(node.accounts().unwrap().is_empty());
    }

    #[test]
    fn names_are_checked_and_not_added_twice() {
        let (_dir, node) = node();
        for bad in ["", "a\nb", "<script>", &"x".repeat(MAX_NAME + 1)] {
            assert!(
                node.change_account(&AccountChange::Add { name: bad.into() })
                    .is_err(),
                "{bad:?}"
            );
        }
        link(&node, "Sam");
        let error = node
            .change_account(&AccountChange::Add { name: "Sam".into() })
            .unwrap_err();
        assert!(
            error.to_string().contains("already has an account"),
            "{error}"
        );
        assert!(node.sign_in("not a token").unwrap().is_none());
    }
}
