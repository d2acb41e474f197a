"""Where run failures are reported: a JSON-lines log in the lake, and SNS in AWS."""

import json

import dagster as dg
from pydantic import Field

from lakehouse.storage import ObjectStore


class FailureNotifier(dg.ConfigurableResource):
    """Records each failure as an object under ops/run_failures/ and optionally publishes it."""

    lake: dg.ResourceDependency[ObjectStore]
    sns_topic_arn: str | None = Field(
        default=None, description="SNS topic to notify; unset means record only."
    )
    region_name: str | None = None
    endpoint_url: str | None = None

    def notify(self, failure: dict) -> str:
        key = f"ops/run_failures/{failure['date']}/{failure['run_id']}.json"
        self.lake.put_bytes(key, json.dumps(failure, indent=1, sort_keys=True).encode())
        if self.sns_topic_arn:
            import boto3

            sns = boto3.client("sns", region_name=self.region_name, endpoint_url=self.endpoint_url)
            sns.publish(
                TopicArn=self.sns_topic_arn,
                Subject=f"Lakehouse run failed: {failure['job']}"[:100],
                Message=json.dumps(failure, indent=1, sort_keys=True),
            )
        return key
