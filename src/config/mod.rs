//! Configuration: the TOML file as the operator wrote it ([`Config`], in `file.rs`), reading it
//! (`load.rs`), and validation (`validate/`), which checks every key, reports all problems at once
//! and builds the typed [`Settings`] (`settings.rs`) that the stages are made from. Never opens
//! sockets or calls AWS.

mod file;
mod load;
pub mod settings;
mod validate;

pub use file::*;
pub use load::{ConfigError, ENV_CONFIG, from_toml, load, parse};
pub use settings::Settings;
pub use validate::{check_tag_key, check_url, is_tag_char, read_pem_certificates, server_config};

/// Checks every key of `c` and builds its settings; all problems at once, each naming its key.
pub fn validate(c: &Config) -> Result<Settings, ConfigError> {
    validate::validate(c).map_err(ConfigError::Invalid)
}
