"""Bedrock model ids: the integration each form goes to, and ids written in full kept intact."""

from __future__ import annotations

import pytest

from k8s_monitor.config import BedrockApi
from k8s_monitor.llm.accounting import normalize_model_id
from k8s_monitor.llm.bedrock_ids import ModelIdError, base_model, geography, resolve

AUTO, MESSAGES, INVOKE = BedrockApi.AUTO, BedrockApi.MESSAGES, BedrockApi.INVOKE
ARN_PROFILE = (
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-opus-5-5"
)
ARN_MODEL = "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.mark.parametrize(
    ("model", "api", "region", "chosen", "sent"),
    [
        # the project's short default, mapped per integration
        ("claude-haiku-5-5", AUTO, "us-east-1", MESSAGES, "anthropic.claude-haiku-5-5"),
        ("claude-haiku-5-5", MESSAGES, "eu-west-1", MESSAGES, "anthropic.claude-haiku-5-5"),
        ("claude-haiku-5-5", INVOKE, "us-east-1", INVOKE, "us.anthropic.claude-haiku-5-5"),
        ("claude-haiku-5-5", INVOKE, "eu-central-1", INVOKE, "eu.anthropic.claude-haiku-5-5"),
        ("claude-haiku-5-5", INVOKE, "ap-south-1", INVOKE, "apac.anthropic.claude-haiku-5-5"),
        ("claude-haiku-5-5", INVOKE, "ap-northeast-1", INVOKE, "jp.anthropic.claude-haiku-5-5"),
        ("claude-haiku-5-5", INVOKE, "me-central-1", INVOKE, "global.anthropic.claude-haiku-5-5"),
        # a dated short name is an older model: InvokeModel, ARN-versioned
        (
            "claude-3-5-haiku-20241022",
            AUTO,
            "us-west-2",
            INVOKE,
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        # written in full: sent exactly as written
        ("anthropic.claude-opus-5-5", AUTO, "us-east-1", MESSAGES, "anthropic.claude-opus-5-5"),
        ("anthropic.claude-opus-5-5", INVOKE, "us-east-1", INVOKE, "anthropic.claude-opus-5-5"),
        (
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            AUTO,
            "us-east-1",
            INVOKE,
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        ("anthropic.claude-opus-4-6-v1", AUTO, "us-east-1", INVOKE, "anthropic.claude-opus-4-6-v1"),
        (
            "eu.anthropic.claude-sonnet-5-5",
            AUTO,
            "us-east-1",
            INVOKE,
            "eu.anthropic.claude-sonnet-5-5",
        ),
        (
            "global.anthropic.claude-haiku-5-5",
            INVOKE,
            "us-east-1",
            INVOKE,
            "global.anthropic.claude-haiku-5-5",
        ),
        (
            "apac.anthropic.claude-3-5-haiku-20241022-v1:0",
            AUTO,
            "ap-south-1",
            INVOKE,
            "apac.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        (ARN_PROFILE, AUTO, "us-east-1", INVOKE, ARN_PROFILE),
        (ARN_MODEL, INVOKE, "eu-west-1", INVOKE, ARN_MODEL),
    ],
)
def test_each_form_goes_to_its_integration(model, api, region, chosen, sent):
    target = resolve(model, api, region)
    assert (target.api, target.model_id) == (chosen, sent)
    assert target.written_in_full is model.startswith(
        ("anthropic.", "arn:", "us.", "eu.", "apac.", "global.")
    )


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "versioned id"),
        ("us.anthropic.claude-haiku-5-5", "inference profile"),
        ("global.anthropic.claude-opus-5-5", "inference profile"),
        (ARN_PROFILE, "ARN"),
    ],
)
def test_invoke_only_forms_are_refused_when_messages_is_forced(model, words):
    with pytest.raises(ModelIdError) as caught:
        resolve(model, MESSAGES, "us-east-1")
    assert words in str(caught.value) and "BEDROCK_API" in str(caught.value)


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "meta.llama3-70b-instruct-v1:0",
        "anthropic.",
        "Anthropic.Claude-Haiku-5-5",
        "claude haiku",
        "xx.anthropic.claude-haiku-5-5",
        "arn:aws:s3:::bucket/anthropic.claude-haiku-5-5",
    ],
)
def test_ids_of_no_known_form_are_refused_under_every_api(model):
    for api in BedrockApi:
        with pytest.raises(ModelIdError):
            resolve(model, api, "us-east-1")


def test_geography_and_base_model():
    assert geography("us-gov-west-1") == "us-gov"
    assert geography("ca-central-1") == "ca"
    assert base_model("us.anthropic.claude-haiku-5-5") == "anthropic.claude-haiku-5-5"
    assert base_model(ARN_PROFILE) == "anthropic.claude-opus-5-5"
    assert base_model("anthropic.claude-opus-5-5") == "anthropic.claude-opus-5-5"


@pytest.mark.parametrize("api", [MESSAGES, INVOKE])
def test_mapped_default_is_priced_as_the_default_model(api):
    target = resolve("claude-haiku-5-5", api, "us-east-1")
    assert normalize_model_id(target.model_id) == "claude-haiku-5-5"
