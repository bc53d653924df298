//! stsgate's integration suite, one binary (each test binary links the whole crate): stsgate on
//! loopback in front of the stand-ins (`crates/standins`), real clients where users bring them,
//! and foreign verifiers (botocore, an independent SigV4 implementation) for every signature.

mod support;

mod boto3;
mod botocore;
mod broker;
mod browser;
mod chime;
mod cli;
mod compat;
mod cors;
mod deploy;
mod front_door_smoke;
mod hostile;
mod identity;
mod lifecycle;
mod limits;
mod listener_tls;
mod providers;
mod rejections;
mod request_path;
mod saml;
mod session_store;
mod sigv4_golden;
mod upstream_tls;
