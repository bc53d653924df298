//! deploy/ as a platform team applies it: `deploy/check.sh` validates the Kubernetes manifests
//! against the Kubernetes schemas and the hardening policy, runs `promtool check rules` and the
//! alert rules' unit tests, parses the dashboard's queries, runs `stsgate check` on every
//! ConfigMap's config (with each `STSGATE_` variable its container sets), and checks that every
//! metric name the alerts and the dashboard use is one this binary exports (from a real scrape).
//! It installs promtool and kubernetes-validate where missing.

use crate::support::{Harness, messages_path};
use std::process::Command;

#[tokio::test]
async fn the_deploy_files_check_out_against_this_binary() {
    let h = Harness::start().await;
    h.call("alice", "GET", &messages_path(), "").await;
    let metrics = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(metrics.path(), h.admin("/metrics").await.body).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let metrics_file = metrics.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(format!("{root}/deploy/check.sh"))
            .env("STSGATE_BIN", env!("CARGO_BIN_EXE_stsgate"))
            .env("STSGATE_METRICS_FILE", metrics_file)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "deploy/check.sh failed:\n{report}");
    assert!(
        !report.contains("SKIP"),
        "nothing may be skipped:\n{report}"
    );
}
