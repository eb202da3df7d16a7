"""The VLM Run client: a sans-IO core and twin drivers.

``_operations`` holds every endpoint as a generator that yields effects (``Call``,
``Sleep``, ``Blocking``, ``AwaitDelivery``, ``EnsureAgent``) and never touches a
socket or a clock; ``_client`` holds the two drivers (:class:`VLMRunClient`,
:class:`AsyncVLMRunClient`) that carry them out with httpx. Around them: retries
(``_retry``), poll timing (``_polling``), the request budget (``_budget``), the
result cache (:mod:`.cache`), in-flight dedupe (``_leases``), artifacts, and the
settings every component shares (``_settings``).

Depends on :mod:`langchain_vlmrun.files` and :mod:`langchain_vlmrun.core`; what plugs
in from above (Redis budgets and leases, the webhook hub) does so through protocols.
"""

from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._client import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client._metering import count_requests
from langchain_vlmrun.client._operations import ProcessedSource
from langchain_vlmrun.client._options import ExecuteOptions, InlineSkill, SkillReference
from langchain_vlmrun.client._polling import PollSchedule
from langchain_vlmrun.client._retry import RetryPolicy
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.client.storage import FileByteStore

__all__ = [
    "AsyncVLMRunClient",
    "ExecuteOptions",
    "FileByteStore",
    "InlineSkill",
    "PollSchedule",
    "ProcessedSource",
    "RequestBudget",
    "ResultCache",
    "RetryPolicy",
    "SkillReference",
    "VLMRunClient",
    "count_requests",
]
