"""infra/iot/iot.yaml says what the gateway and the lakehouse assume: the policy lets the thing
connect as itself and publish to its topic only, the rule flattens as lakehouse/iot/rule.py
does, Firehose lands objects where lakehouse/iot/landing.py reads them, and stacks of N
gateways deploy side by side. (cfn-lint checks the template in tests/test_infra.py.)"""

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


# The property that names each resource type's physical name: two stacks that create the same
# name of the same type collide (CloudFormation refuses the second one).
NAME_PROPERTY = {
    "AWS::IoT::Thing": "ThingName",
    "AWS::IoT::ThingType": "ThingTypeName",
    "AWS::IoT::ThingGroup": "ThingGroupName",
    "AWS::IoT::BillingGroup": "BillingGroupName",
    "AWS::IoT::Policy": "PolicyName",
    "AWS::IoT::TopicRule": "RuleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
}


def resolve(node, params: dict, conditions: dict[str, bool]):
    """The value of a template expression for the given parameters (what CloudFormation
    would compute for the functions this template uses to build names)."""
    if isinstance(node, dict) and len(node) == 1:
        (fn, arg), values = next(iter(node.items())), {**params, "AWS::Partition": "aws"}
        if fn == "Ref":
            return values.get(arg, f"<{arg}>")  # a resource's id is unique to its stack
        if fn == "Sub":
            return re.sub(r"\$\{([^}!]+)\}", lambda m: values.get(m[1], f"<{m[1]}>"), arg)
        if fn == "If":
            cond, yes, no = arg
            return resolve(yes if conditions[cond] else no, params, conditions)
        if fn == "Equals":
            return resolve(arg[0], params, conditions) == resolve(arg[1], params, conditions)
    return node


def created_names(params: dict) -> set[tuple[str, str]]:
    """(type, physical name) of every named resource a stack with these parameters creates."""
    params = {k: v.get("Default") for k, v in TEMPLATE["Parameters"].items()} | params
    conditions = {k: resolve(v, params, {}) for k, v in TEMPLATE["Conditions"].items()}
    names = set()
    for resource in RESOURCES.values():
        if "Condition" in resource and not conditions[resource["Condition"]]:
            continue
        prop = NAME_PROPERTY.get(resource["Type"])
        if prop:
            names.add((resource["Type"], resolve(resource["Properties"][prop], params, {})))
    return names


def test_gateways_deploy_side_by_side():
    first = created_names({"GatewayId": "00000000f62051ce", "ThingName": "lora-iot-gateway-01"})
    second = created_names(
        {
            "GatewayId": "00000000a1b2c3d4",
            "ThingName": "lora-iot-gateway-02",
            "SharedResources": "existing",
        }
    )
    assert first & second == set()
    assert ("AWS::IoT::Thing", "lora-iot-gateway-02") in second
    assert ("AWS::Lambda::Function", "lora-gateway-registration-00000000a1b2c3d4") in second
    # The shared parts exist once, in the first stack, with the names the others refer to.
    shared = {("AWS::IoT::ThingType", "LoRaIoTGateway"),
              ("AWS::IoT::ThingGroup", "LoRaIoTGateways"),
              ("AWS::IoT::BillingGroup", "LoRaIoTGateways"),
              ("AWS::KinesisFirehose::DeliveryStream", "lakehouse-telemetry"),
              ("AWS::IoT::TopicRule", "lora_telemetry_to_firehose")}  # fmt: skip
    assert shared <= first and not shared & second
    registration = RESOURCES["GatewayRegistration"]["Properties"]
    for key, name in (("ThingTypeName", "LoRaIoTGateway"), ("ThingGroupName", "LoRaIoTGateways"),
                      ("BillingGroupName", "LoRaIoTGateways")):  # fmt: skip
        assert registration[key]["If"][0] == "CreateShared" and registration[key]["If"][2] == name
    assert TEMPLATE["Parameters"]["GatewayId"]["AllowedPattern"] == "[0-9a-f]{16}"
