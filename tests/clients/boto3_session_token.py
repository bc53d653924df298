"""Drives stock boto3 through stsgate in session-token mode.

The client is configured with static credentials whose session token is the user's JWT; the
access key and secret are placeholders. boto3 signs normally (nothing disabled) and stsgate is
expected to take the JWT from `x-amz-security-token`, ignore the signature and re-sign.

Reads one JSON object on stdin:
  {"endpoint", "region", "token", "bad_token",
   "app_instance_arn", "channel_arn", "user_arn", "other_user_arn"}
Calls every REST operation of stsgate's default allow-list, then ListChannelMessages with
`bad_token`, and prints one JSON object: {"operations": [...], "bad_token": {...}}.
Tokens are never printed. Exits 0 when it ran to the end; the caller judges the content.
"""
import json
import sys

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

# One attempt only, and short timeouts, so a run is bounded.
CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=3,
    read_timeout=5,
)


def make_client(inp, token):
    return boto3.client(
        "chime-sdk-messaging",
        region_name=inp["region"],
        endpoint_url=inp["endpoint"],
        aws_access_key_id="stsgate",
        aws_secret_access_key="placeholder",
        aws_session_token=token,
        config=CONFIG,
    )


def calls(inp):
    """(operation name, parameters) for each REST operation of the default allow-list."""
    app = inp["app_instance_arn"]
    channel = inp["channel_arn"]
    me = inp["user_arn"]
    other = inp["other_user_arn"]
    flow = app + "/channel-flow/f1"
    on_channel = {"ChannelArn": channel, "ChimeBearer": me}
    on_message = dict(on_channel, MessageId="msg-1")
    return [
        ("GetMessagingSessionEndpoint", {}),
        ("CreateChannel", {
            "AppInstanceArn": app, "Name": "general", "Mode": "RESTRICTED",
            "Privacy": "PRIVATE", "ClientRequestToken": "create-channel-1", "ChimeBearer": me,
        }),
        ("DescribeChannel", on_channel),
        ("ListChannels", {"AppInstanceArn": app, "MaxResults": 10, "ChimeBearer": me}),
        ("ListChannelMembershipsForAppInstanceUser", {
            "AppInstanceUserArn": me, "MaxResults": 10, "ChimeBearer": me,
        }),
        ("CreateChannelMembership", dict(on_channel, MemberArn=other, Type="DEFAULT")),
        ("ListChannelMemberships", dict(on_channel, Type="DEFAULT", MaxResults=10)),
        ("CreateChannelModerator", dict(on_channel, ChannelModeratorArn=other)),
        ("DescribeChannelModerator", dict(on_channel, ChannelModeratorArn=other)),
        ("ListChannelModerators", dict(on_channel, MaxResults=10)),
        ("AssociateChannelFlow", dict(on_channel, ChannelFlowArn=flow)),
        ("SendChannelMessage", dict(
            on_channel, Content="hello", Type="STANDARD", Persistence="PERSISTENT",
            ClientRequestToken="send-message-1",
        )),
        ("ListChannelMessages", dict(on_channel, SortOrder="DESCENDING", MaxResults=10)),
        ("GetChannelMessageStatus", on_message),
        ("UpdateChannelMessage", dict(on_message, Content="hello again")),
        ("RedactChannelMessage", on_message),
        ("DisassociateChannelFlow", dict(on_channel, ChannelFlowArn=flow)),
        ("DeleteChannelMembership", dict(on_channel, MemberArn=other)),
        ("CreateChannelBan", dict(on_channel, MemberArn=other)),
        ("ListChannelBans", dict(on_channel, MaxResults=10)),
        ("DeleteChannelBan", dict(on_channel, MemberArn=other)),
        ("DeleteChannel", on_channel),
    ]


def metadata(record, meta):
    """Copies status and the two stsgate/Chime response headers into record."""
    headers = meta.get("HTTPHeaders", {})  # botocore lower-cases header names
    record["status"] = meta.get("HTTPStatusCode")
    record["request_id"] = headers.get("x-amzn-requestid")
    record["error_type"] = headers.get("x-amzn-errortype")
    return record


def call(client, name, params):
    record = {"operation": name}
    try:
        response = getattr(client, xform_name(name))(**params)
    except ParamValidationError:
        raise  # a bug in this driver, not an outcome
    except ClientError as e:
        record["outcome"] = e.response.get("Error", {}).get("Code")
        record["exception"] = type(e).__name__
        return metadata(record, e.response.get("ResponseMetadata", {}))
    except BotoCoreError as e:
        # No HTTP response at all (connection refused, timeout, unparseable reply...).
        record.update(outcome="no-response", exception=type(e).__name__, status=None,
                      request_id=None, error_type=None)
        return record
    record["outcome"] = "ok"
    return metadata(record, response.get("ResponseMetadata", {}))


def main():
    inp = json.load(sys.stdin)
    client = make_client(inp, inp["token"])
    operations = [call(client, name, params) for name, params in calls(inp)]
    bad_client = make_client(inp, inp["bad_token"])
    bad = call(bad_client, "ListChannelMessages", {
        "ChannelArn": inp["channel_arn"], "ChimeBearer": inp["user_arn"],
    })
    json.dump({"operations": operations, "bad_token": bad}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
