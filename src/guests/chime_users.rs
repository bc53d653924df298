//! Guests' AppInstanceUsers: `CreateAppInstanceUser` on the Chime SDK identity API (REST-JSON,
//! SigV4 `chime`, stsgate's own credentials), with `ExpirationSettings` so Chime deletes each
//! guest user after `app_instance_user_expiration_days`. Chime refuses a bearer it does not know,
//! so a guest's user must exist before its first call.

use crate::http_client::{FetchError, HttpClient, error_chain};
use crate::signing::Signer;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use std::time::{Duration, SystemTime};
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct AppInstanceUsers {
    endpoint: Url,
    app_instance_arn: String,
    expiration_days: u32,
    http: HttpClient,
    signer: Signer,
    /// stsgate's own; `None` when no AWS credential source is configured.
    credentials: Option<SharedCredentialsProvider>,
}

#[derive(Debug, thiserror::Error)]
#[error("CreateAppInstanceUser failed: {0}")]
pub struct CreateError(String);

impl AppInstanceUsers {
    pub fn new(
        endpoint: Url,
        region: &str,
        app_instance_arn: String,
        expiration_days: u32,
        http: HttpClient,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        AppInstanceUsers {
            endpoint,
            app_instance_arn,
            expiration_days,
            http,
            signer: Signer::new(region),
            credentials,
        }
    }

    /// Creates `user_id` (an existing one is fine: `ConflictException`).
    pub async fn create(&self, user_id: &str, name: &str) -> Result<(), CreateError> {
        let body = serde_json::json!({
            "AppInstanceArn": self.app_instance_arn,
            "AppInstanceUserId": user_id,
            "Name": name,
            "ClientRequestToken": user_id.replace(':', "-"),
            "ExpirationSettings": {
                "ExpirationDays": self.expiration_days,
                "ExpirationCriterion": "CREATED_TIMESTAMP",
            },
        })
        .to_string();
        let url = self
            .endpoint
            .join("app-instance-users")
            .map_err(|e| CreateError(e.to_string()))?;
        let mut req = Request::post(url.as_str())
            .header(header::HOST, host(&url))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body))
            .map_err(|e| CreateError(e.to_string()))?;
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| CreateError("stsgate has no AWS credentials of its own".into()))?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| CreateError(format!("stsgate's own credentials: {}", error_chain(&e))))?;
        self.signer
            .sign(&mut req, &creds.into(), SystemTime::now())
            .map_err(|e| CreateError(e.to_string()))?;
        let resp = self
            .http
            .send(req.map(Full::new), TIMEOUT)
            .await
            .map_err(|e: FetchError| CreateError(e.to_string()))?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::CONFLICT {
            return Ok(());
        }
        let detail = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let code = serde_json::from_slice::<serde_json::Value>(&detail)
            .ok()
            .and_then(|v| v.get("Code").and_then(|c| c.as_str()).map(str::to_owned))
            .unwrap_or_default();
        Err(CreateError(format!("{status} {code}")))
    }
}

fn host(url: &Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}
