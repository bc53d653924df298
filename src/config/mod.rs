//! Configuration: the TOML file as the operator wrote it ([`Config`], in `file.rs`), reading it
//! (`load.rs`) with environment and `--set` values layered over it (`layers.rs`; every key is
//! known from the types' schema, `keys.rs`), and validation (`validate/`), which checks every key, reports all problems at once
//! and builds the typed [`Settings`] (`settings.rs`) that the stages are made from. Never opens
//! sockets or calls AWS.

mod file;
pub mod keys;
pub mod layers;
mod load;
mod providers;
mod session_store;
pub mod settings;
mod validate;

pub use file::*;
pub use load::{ConfigError, ENV_CONFIG, from_toml, load, parse};
pub use settings::Settings;
pub use validate::{check_tag_key, check_url, is_tag_char, read_pem_certificates};

/// Checks every key of `c` and builds its settings; all problems at once, each naming its key.
pub fn validate(c: &Config) -> Result<Settings, ConfigError> {
    validate::validate(c).map_err(ConfigError::Invalid)
}
