//! Chime: the AppInstance, the operation allow-list, AppInstanceAdmins and WebSocket limits.

use super::Problems;
use crate::arn::{app_instance_user_arn, check_app_instance_arn, is_app_instance_user_id};
use crate::chime::operations::{self, AllowList};
use crate::config::Config;
use crate::config::settings::{ChimeSettings, WebSocketSettings};
use std::time::Duration;

pub(super) fn chime(c: &Config, p: &mut Problems) -> ChimeSettings {
    let ch = &c.chime;
    p.check(
        "chime.app_instance_arn",
        check_app_instance_arn(&ch.app_instance_arn),
    );
    let allowed = match &ch.allowed_operations {
        None => AllowList::default_list(),
        Some(names) => {
            for name in names {
                if !operations::is_known(name) {
                    p.bad(
                        "chime.allowed_operations",
                        format!("{name:?} is not a Chime SDK messaging operation"),
                    );
                }
            }
            AllowList::from_names(names.iter().map(String::as_str))
        }
    };
    for id in &ch.admin_user_ids {
        if !is_app_instance_user_id(id) {
            p.bad(
                "chime.admin_user_ids",
                format!("{id:?} is not an AppInstanceUserId"),
            );
        }
    }
    p.positive(&[
        ("chime.websocket_idle_seconds", ch.websocket_idle_seconds),
        (
            "chime.websocket_max_message_bytes",
            ch.websocket_max_message_bytes as u64,
        ),
        (
            "chime.websocket_send_timeout_seconds",
            ch.websocket_send_timeout_seconds,
        ),
        (
            "chime.websocket_connect_timeout_seconds",
            ch.websocket_connect_timeout_seconds,
        ),
        (
            "chime.websocket_max_per_user",
            ch.websocket_max_per_user as u64,
        ),
    ]);
    ChimeSettings {
        bearer: ch.bearer,
        allowed,
        admin_user_arns: ch
            .admin_user_ids
            .iter()
            .map(|id| app_instance_user_arn(&ch.app_instance_arn, id))
            .collect(),
        websocket: WebSocketSettings {
            idle: Duration::from_secs(ch.websocket_idle_seconds),
            max_message_bytes: ch.websocket_max_message_bytes,
            send_timeout: Duration::from_secs(ch.websocket_send_timeout_seconds),
            connect_timeout: Duration::from_secs(ch.websocket_connect_timeout_seconds),
            max_per_user: ch.websocket_max_per_user,
        },
    }
}
