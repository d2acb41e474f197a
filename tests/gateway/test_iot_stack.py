"""infra/iot/iot.yaml says what the gateway and the lakehouse assume: the policy lets the thing
connect as itself and publish to its topic only, the rule flattens as lakehouse/iot/rule.py
does, and Firehose lands objects where lakehouse/iot/landing.py reads them. (cfn-lint checks
the template's syntax in tests/test_infra.py.)"""

import datetime as dt
import re
import uuid

import yaml

from lakehouse.iot import landing, rule
from tests.support.paths import REPO_ROOT


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags, each read as {"Tag": value}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((REPO_ROOT / "infra/iot/iot.yaml").read_text(), Loader=CfnLoader)
RESOURCES = TEMPLATE["Resources"]


def test_policy_is_least_privilege():
    statements = RESOURCES["GatewayPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    grants = {(s["Effect"], s["Action"], s["Resource"]["Sub"]) for s in statements}
    arn = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}"
    assert grants == {
        ("Allow", "iot:Connect", f"{arn}:client/${{ThingName}}"),
        ("Allow", "iot:Publish", f"{arn}:topic/${{Topic}}"),
    }
    (connect,) = [s for s in statements if s["Action"] == "iot:Connect"]
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    # The policy and the thing are attached to the one certificate made from the gateway's CSR.
    for name in ("GatewayPolicyAttachment", "GatewayCertificateAttachment"):
        principal = RESOURCES[name]["Properties"]["Principal"]
        assert principal == {"GetAtt": "GatewayCertificate.Arn"}
    assert TEMPLATE["Parameters"]["ThingName"]["Default"] == "lora-iot-gateway-01"
    assert TEMPLATE["Parameters"]["Topic"]["Default"] == "lora-iot-demo"


def top_level_items(text: str) -> list[str]:
    """The comma-separated items of a SELECT list, commas inside parentheses kept."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if c == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    return [*items, text[start:].strip()]


def test_rule_selects_what_the_lakehouse_flattens():
    sql = RESOURCES["TelemetryTopicRule"]["Properties"]["TopicRulePayload"]["Sql"]["Sub"]
    select = re.fullmatch(r"SELECT (.*) FROM '\$\{Topic\}'", " ".join(sql.split()))
    names = []
    for item in top_level_items(select[1]):
        m = re.fullmatch(r"(.+) AS (\w+)", item)
        names.append(m[2] if m else item)
        if m and m[2] in rule.DATA_FIELDS:
            assert m[1] == f"data.{m[2]}"
        if m and m[2] in rule.COLOR_FIELDS:
            assert m[1] == f"data.color.{m[2]}"
    expected = [*rule.DATA_FIELDS, *rule.COLOR_FIELDS, "ts", "device", "msg_received"]
    assert names == expected + list(rule.V2_FIELDS) + list(rule.V3_FIELDS)
    assert "clientid() AS device" in sql
    assert """parse_time("yyyy-MM-dd'T'HH:mm:ss.SSSZ", timestamp(), "UTC") AS msg_received""" in (
        " ".join(sql.split())
    )
    (action,) = RESOURCES["TelemetryTopicRule"]["Properties"]["TopicRulePayload"]["Actions"]
    assert action["Firehose"]["Separator"] == "\n"  # newline-delimited JSON (D-13)


def test_firehose_lands_where_the_lakehouse_reads():
    props = RESOURCES["TelemetryDeliveryStream"]["Properties"]
    assert props["DeliveryStreamName"] == landing.STREAM
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert s3["CompressionFormat"] == "GZIP"
    assert s3["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    # An object as Firehose names it under this prefix is a partition the lakehouse reads.
    arrival = dt.datetime(2020, 8, 27, 15, 45, 32, tzinfo=dt.UTC)
    prefix = s3["Prefix"]["Sub"].replace("${LakePrefix}", "lake")
    prefix = prefix.replace("!{timestamp:yyyy/MM/dd/HH}", f"{arrival:%Y/%m/%d/%H}")
    key = f"{prefix}{landing.STREAM}-1-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"
    assert key.startswith(landing.hour_prefix("lake/message", arrival))
    assert landing.partition_of(key) == "2020-08-27-15:00"
