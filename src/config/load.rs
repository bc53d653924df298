//! Reading the configuration file. Never opens sockets or calls AWS.

use super::layers::{Layered, Overlay, layer};
use super::{Config, Settings, validate};
use std::path::{Path, PathBuf};

/// Names the configuration file when `--config` is not given.
pub const ENV_CONFIG: &str = "STSGATE_CONFIG";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

/// Reads the file at `path`, layers `overlay` over it, and validates the result.
pub fn load(path: &Path, overlay: &Overlay) -> Result<(Settings, Layered), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let layered = layer(&text, overlay)?;
    Ok((validate(&layered.config)?, layered))
}

/// Parses and validates TOML text.
pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
    validate(&parse(text)?)
}

/// Parses TOML text into the file's types, without validation. Unknown keys are errors, so typos
/// never pass silently.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    // toml's message shows the line, the table and the key at fault.
    toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
}
