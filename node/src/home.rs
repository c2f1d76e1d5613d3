//! A node's home directory: its identity, its configuration and its data. Its files are named
//! in [`layout`], and only there.

use std::fs;
use std::path::{Path, PathBuf};

use convene_protocol::Identity;
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, Access, Existing};
use crate::settings::NodeSettings;

/// The files of a home, the one place that names them:
///
/// ```text
/// HOME/
///   config.toml     settings, commented; written by `convene init`
///   identity.key    the organisation's ed25519 secret key, hex, mode 0600
///   identity.next.key  during a key rotation or recovery: the new key, until it replaces
///                   identity.key (a crash in between is finished by the next key change)
///   node.key        the node's network (libp2p) key, written by the first `convene node run`
///   peers.json      peers added with `convene peers add`, redialled after restarts
///   blocked-peers.json  peers blocked with `convene block PEER`, never connected to
///   node.api        while a node runs: the address of its local API
///   api.token       the token the local API wants for writes, mode 0600
///   data/store.redb the record store (source of truth)
///   data/index/     the search index (derived; safe to delete)
/// ```
pub mod layout {
    pub const CONFIG_FILE: &str = "config.toml";
    pub const IDENTITY_FILE: &str = "identity.key";
    pub const NEXT_IDENTITY_FILE: &str = "identity.next.key";
    pub const NODE_KEY_FILE: &str = "node.key";
    pub const PEERS_FILE: &str = "peers.json";
    pub const BLOCKED_PEERS_FILE: &str = "blocked-peers.json";
    pub const API_FILE: &str = "node.api";
    pub const TOKEN_FILE: &str = "api.token";
    pub const DATA_DIR: &str = "data";
    /// In the data directory.
    pub const STORE_FILE: &str = "store.redb";
    /// In the data directory.
    pub const INDEX_DIR: &str = "index";
}

use layout::{CONFIG_FILE, DATA_DIR, IDENTITY_FILE, NEXT_IDENTITY_FILE, STORE_FILE};

/// Errors about the home directory.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(
        "{path} is already a Convene home (it has {found}); refusing to overwrite it. Use another --home, or delete that directory first"
    )]
    AlreadyInitialised { path: PathBuf, found: &'static str },
    #[error("{path} is not a Convene home yet: run `convene init` first (or pass --home)")]
    NotInitialised { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid identity key (expected 64 hex digits)")]
    BadKey { path: PathBuf },
    #[error("{path}: invalid configuration: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    #[error("could not get randomness for a new key: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings from `config.toml`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The organisation this node publishes for: filled into drafts that name no organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// The networks `convene publish` publishes into when neither the draft nor `--network`
    /// names any (names or addresses of networks this node joined; `commons` for the public
    /// commons). Empty: the commons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// How `convene node run` connects to the network.
    #[serde(default)]
    pub node: NodeSettings,
}

/// An initialised home directory.
#[derive(Debug)]
pub struct Home {
    dir: PathBuf,
    config: Config,
}

impl Home {
    /// Creates a home in `dir` (which may exist, but not as a home) with a new identity.
    pub fn init(dir: &Path, organisation: Option<String>) -> Result<Home, HomeError> {
        for (file, found) in [
            (CONFIG_FILE, "a config.toml"),
            (IDENTITY_FILE, "an identity.key"),
        ] {
            if dir.join(file).exists() {
                return Err(HomeError::AlreadyInitialised {
                    path: dir.to_path_buf(),
                    found,
                });
            }
        }
        fs::create_dir_all(dir.join(DATA_DIR)).map_err(io(dir))?;
        // The store exists from the start: later opens refuse a missing one (a disk that did
        // not mount) instead of silently starting an empty directory.
        crate::Store::open(&dir.join(DATA_DIR).join(STORE_FILE)).map_err(|error| {
            HomeError::Io {
                path: dir.join(DATA_DIR),
                source: std::io::Error::other(error.to_string()),
            }
        })?;
        let identity = Identity::generate().map_err(|e| HomeError::Random(e.to_string()))?;
        let key_path = dir.join(IDENTITY_FILE);
        write_new(
            &key_path,
            format!("{}\n", hex(&identity.secret())).as_bytes(),
            true,
        )?;
        let config = Config {
            networks: Vec::new(),
            organisation,
            node: NodeSettings::default(),
        };
        let config_path = dir.join(CONFIG_FILE);
        write_new(&config_path, render_config(&config).as_bytes(), false)?;
        Ok(Home {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// Opens an existing home.
    pub fn open(dir: &Path) -> Result<Home, HomeError> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() || !dir.join(IDENTITY_FILE).exists() {
            return Err(HomeError::NotInitialised {
                path: dir.to_path_buf(),
            });
        }
        let text = fs::read_to_string(&config_path).map_err(io(&config_path))?;
        let config = toml::from_str(&text).map_err(|e| HomeError::BadConfig {
            path: config_path.clone(),
            reason: e.message().to_string(),
        })?;
        Ok(Home {
            dir: dir.to_path_buf(),
            config,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join(DATA_DIR)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Reads the signing identity from `identity.key`.
    pub fn identity(&self) -> Result<Identity, HomeError> {
        read_identity(&self.dir.join(IDENTITY_FILE))
    }

    /// Writes the key a rotation or recovery moves this home to, before anything is signed
    /// with it, so a crash cannot lose it (`identity.next.key`, mode 0600).
    pub fn stage_identity(&self, next: &Identity) -> Result<(), HomeError> {
        write_new(
            &self.dir.join(NEXT_IDENTITY_FILE),
            format!("{}\n", hex(&next.secret())).as_bytes(),
            true,
        )
    }

    /// The key a rotation or recovery that did not finish was moving to.
    pub fn staged_identity(&self) -> Result<Option<Identity>, HomeError> {
        let path = self.dir.join(NEXT_IDENTITY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        read_identity(&path).map(Some)
    }

    /// Forgets a staged key (its change never took effect).
    pub fn discard_staged(&self) -> Result<(), HomeError> {
        let path = self.dir.join(NEXT_IDENTITY_FILE);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(error)),
            _ => Ok(()),
        }
    }

    /// Makes the staged key this home's identity, and deletes the old key: the succession
    /// that keeps its records needs it no more, and a retired key left on disk could only
    /// serve a thief (to dispute the change). Durable on return.
    pub fn adopt_staged(&self) -> Result<(), HomeError> {
        let current = self.dir.join(IDENTITY_FILE);
        let next = self.dir.join(NEXT_IDENTITY_FILE);
        fs::rename(&next, &current).map_err(io(&next))?;
        fsutil::sync_dir(&current).map_err(io(&self.dir))?;
        Ok(())
    }
}

fn read_identity(path: &Path) -> Result<Identity, HomeError> {
    let path = path.to_path_buf();
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.trim().as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(HomeError::BadKey { path })?;
    Ok(Identity::from_secret(bytes))
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn render_config(config: &Config) -> String {
    let mut text = String::from(
        "# Convene node configuration.\n\
         #\n\
         # organisation: the name of the organisation this node publishes for. Drafts that name\n\
         # no organisation get this one.\n",
    );
    match &config.organisation {
        Some(name) => {
            let line = toml::to_string(&Config {
                networks: Vec::new(),
                organisation: Some(name.clone()),
                node: NodeSettings::default(),
            })
            .unwrap_or_default();
            let line = line.split("\n[node]").next().unwrap_or_default();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        None => text.push_str("# organisation = \"Example Borough Council\"\n"),
    }
    text.push_str(NodeSettings::COMMENTED);
    text
}

/// Writes a file that must not exist yet, durably; `secret` files are readable by the owner only.
pub(crate) fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), HomeError> {
    let access = if secret {
        Access::Secret
    } else {
        Access::Public
    };
    fsutil::write_file(path, contents, access, Existing::Refuse).map_err(io(path))
}
