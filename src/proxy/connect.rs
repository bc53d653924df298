//! `GET /connect`, the messaging WebSocket. Once the client's handshake is valid, every refusal
//! completes the upgrade and closes with the code Chime itself would send (4401 bad identity,
//! 4003 forbidden, 1011/1013 retry), because that is the only refusal the Chime JS SDK acts on.
//! The caller is checked like a REST call (identity, `Connect` on the allow-list, `userArn` naming
//! only the caller, an allowed `Origin`, its socket cap) before any STS call.

use super::gateway::{Gateway, RequestLog};
use super::websocket::{Opened, SocketRequest, SocketSlot, Upgrade};
use crate::chime::BearerMismatch;
use crate::chime::operations::CONNECT;
use crate::error::{GatewayError, ProxyBody};
use http::request::Parts;
use http::{Response, header};

impl Gateway {
    pub(super) async fn connect(
        &self,
        mut parts: Parts,
        log: &mut RequestLog,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let upgrade = Upgrade::from_parts(&mut parts).ok_or_else(|| {
            GatewayError::BadRequest("GET /connect must be a WebSocket upgrade".into())
        })?;
        match self.open_socket(&parts, log).await {
            Ok((opened, slot)) => Ok(self.bridge.accept(upgrade, opened, slot)),
            Err(e) => {
                let resp = upgrade.refuse(e.close_code(), &e.to_string());
                log.refused_socket = Some(e);
                Ok(resp)
            }
        }
    }

    async fn open_socket(
        &self,
        parts: &Parts,
        log: &mut RequestLog,
    ) -> Result<(Opened, SocketSlot), GatewayError> {
        if let Some(cors) = &self.cors
            && parts.headers.contains_key(header::ORIGIN)
            && cors.allowed_origin(&parts.headers).is_none()
        {
            return Err(GatewayError::OriginNotAllowed(
                "this origin may not open the messaging WebSocket".into(),
            ));
        }
        let (principal, mapped) = self.identify(parts, true, log).await?;
        self.allow(CONNECT, &mapped)?;
        let query = parts.uri.query();
        let named = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "userArn")
            .any(|(_, v)| v != mapped.user_arn());
        if named {
            return Err(BearerMismatch.into());
        }
        let slot = self.bridge.reserve(&mapped.spec.user_arn)?;
        let session = self.sessions.session(&mapped.spec).await?;
        let request = SocketRequest {
            client_query: query,
            user_arn: mapped.user_arn(),
            session,
            now: self.clock.now(),
            not_after: principal.expires_at(),
        };
        let opened = self
            .bridge
            .open(request, &self.upstream, &self.signer)
            .await?;
        Ok((opened, slot))
    }
}
