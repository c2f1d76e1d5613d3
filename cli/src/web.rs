//! `convene web user …`: the colleagues who may sign in to the node's web page, and their
//! one-time sign-in links.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use convene_node::accounts::{AccountChange, AccountChanged, SignInToken};
use convene_node::{Client, Directory, Home};
use convene_protocol::Date;

use crate::output::Out;

#[derive(Debug, Subcommand)]
pub enum WebCommand {
    /// Colleagues' accounts on the web page: they publish for your organisation there, say
    /// "we're interested too" and see your members-only networks' records.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print its one-time sign-in link (it works once, for 24 hours).
    Add { name: String },
    /// Print a new sign-in link for an account (the earlier one stops working).
    Link { name: String },
    /// The accounts, when each last signed in and how many browsers are signed in now.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an account and sign out its browsers.
    Remove { name: String },
}

pub fn command(
    command: WebCommand,
    home: &Home,
    node: &mut dyn Directory,
    out: &mut Out,
) -> Result<ExitCode> {
    let WebCommand::User { command } = command;
    let change = match command {
        UserCommand::Add { name } => AccountChange::Add { name },
        UserCommand::Link { name } => AccountChange::Link { name },
        UserCommand::Remove { name } => AccountChange::Remove { name },
        UserCommand::List { json } => {
            let accounts = node.accounts()?;
            if json {
                out.line(&serde_json::to_string_pretty(&accounts)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            if accounts.is_empty() {
                say!("no web accounts yet; add one with `convene web user add NAME`");
                return Ok(ExitCode::from(1));
            }
            for account in &accounts {
                let last = account
                    .last_signed_in
                    .map_or("never signed in".to_string(), |t| {
                        format!("last signed in {}", Date::from_unix(t))
                    });
                let link = account
                    .link_expires_at
                    .map(|t| format!(", a sign-in link unused until {}", Date::from_unix(t)))
                    .unwrap_or_default();
                out.line(&format!(
                    "{}\t{last}, {} browser(s) signed in{link}",
                    account.name, account.sessions
                ))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let base = base_url(home)?;
    match node.change_account(&change)? {
        AccountChanged::Link(link) => {
            out.line(&sign_in_link(&base, &link))?;
            say!(
                "send this link to {} by a channel you trust: it signs in once, until {}",
                link.account,
                convene_node::rfc3339(link.expires_at)
            );
        }
        AccountChanged::Removed { name, sessions } => {
            say!("removed {name}'s account and signed out {sessions} browser(s)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sign_in_link(base: &str, link: &SignInToken) -> String {
    format!("{base}/sign-in?token={}", link.token)
}

/// Where colleagues reach the web page: `[node] web_url`, else the running node's web
/// listener, else `[node] web`.
fn base_url(home: &Home) -> Result<String> {
    let settings = &home.config().node;
    if let Some(url) = &settings.web_url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let running = Client::connect(home.dir())
        .and_then(|client| client.status().ok())
        .and_then(|status| status.web);
    let Some(addr) = running.or_else(|| settings.web.clone()) else {
        bail!(
            "this node serves no web page: set `web = \"127.0.0.1:4719\"` under [node] in {} \
             (or run `convene node run --web ADDR`), and `web_url` if colleagues reach it by \
             another address",
            home.dir().join("config.toml").display()
        );
    };
    if addr.starts_with("0.0.0.0") || addr.starts_with("[::]") {
        bail!(
            "the web page listens on {addr}, every address of this machine: set `web_url` under \
             [node] to the address colleagues reach it at, e.g. \"http://intranet-host:4719\""
        );
    }
    Ok(format!("http://{addr}"))
}
