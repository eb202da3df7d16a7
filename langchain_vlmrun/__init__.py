"""LangChain integration for VLM Run: its agents read documents, images, audio and video.

What a LangChain user imports is here: the components (:class:`VLMRunAgentTool`,
:class:`VLMRunToolkit`, :class:`VLMRunExtractor`, :class:`VLMRunLoader`,
:class:`VLMRunParser`), the clients, their options and every error. The rest lives in
its layer (see ARCHITECTURE.md): ``langchain_vlmrun.webhooks`` (receiver, hub,
signatures), ``langchain_vlmrun.scaleout`` (Redis budget, store, leases, relay),
``langchain_vlmrun.core.models`` (the API's wire models).
"""

from langchain_vlmrun._version import __version__
from langchain_vlmrun.client import (
    AsyncVLMRunClient,
    ExecuteOptions,
    FileByteStore,
    InlineSkill,
    PollSchedule,
    RequestBudget,
    ResultCache,
    RetryPolicy,
    SkillReference,
    VLMRunClient,
)
from langchain_vlmrun.core.errors import (
    AgentNotFoundError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ExecutionError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    FileSourceError,
    InternalServerError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ResponseRefusedError,
    ResponseValidationError,
    UnreadableResponseError,
    VLMRunError,
)
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.files._sources import SUPPORTED_EXTENSIONS
from langchain_vlmrun.loaders import VLMRunLoader, VLMRunParser
from langchain_vlmrun.loaders.loader import LoaderError
from langchain_vlmrun.tools import VLMRunAgentTool, VLMRunExtractor, VLMRunToolkit
from langchain_vlmrun.tools.agent_tool import VLMRunToolArtifact, VLMRunToolError

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentExecution",
    "AgentNotFoundError",
    "AsyncVLMRunClient",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ExecuteOptions",
    "ExecutionError",
    "ExecutionFailedError",
    "ExecutionTimeoutError",
    "FileByteStore",
    "FileSourceError",
    "InlineSkill",
    "InternalServerError",
    "LoaderError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollSchedule",
    "RateLimitError",
    "RequestBudget",
    "RequestTooLargeError",
    "ResponseRefusedError",
    "ResponseValidationError",
    "ResultCache",
    "RetryPolicy",
    "SkillReference",
    "UnreadableResponseError",
    "VLMRunAgentTool",
    "VLMRunClient",
    "VLMRunError",
    "VLMRunExtractor",
    "VLMRunLoader",
    "VLMRunParser",
    "VLMRunToolArtifact",
    "VLMRunToolError",
    "VLMRunToolkit",
    "__version__",
]
