"""LangChain integration for VLM Run."""

from langchain_vlmrun._version import __version__
from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._client import DEFAULT_BASE_URL, AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client._metering import count_requests
from langchain_vlmrun.client._operations import ProcessedSource
from langchain_vlmrun.client._options import ExecuteOptions, InlineSkill, SkillReference
from langchain_vlmrun.client._polling import PollSchedule
from langchain_vlmrun.client._retry import RetryPolicy
from langchain_vlmrun.client.artifacts import ArtifactBlob, SavedArtifact
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.client.storage import FileByteStore
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
    ResponseValidationError,
    UnreadableResponseError,
    VLMRunError,
)
from langchain_vlmrun.core.models import (
    AgentCreated,
    AgentExecution,
    AgentInfo,
    ArtifactItem,
    ArtifactList,
    CreditUsage,
    FileResponse,
    PresignedUpload,
)
from langchain_vlmrun.documents._documents import split_documents
from langchain_vlmrun.files._sources import SUPPORTED_EXTENSIONS
from langchain_vlmrun.loaders.loader import Failure, LoaderError, SourceUsage, VLMRunLoader
from langchain_vlmrun.loaders.parser import VLMRunParser
from langchain_vlmrun.tools.agent_tool import (
    VLMRunAgentTool,
    VLMRunToolArtifact,
    VLMRunToolError,
    VLMRunToolInput,
)
from langchain_vlmrun.tools.extraction import ExtractionWithRaw, VLMRunExtractor
from langchain_vlmrun.tools.toolkit import VLMRunToolkit
from langchain_vlmrun.webhooks.signature import verify_webhook_signature

__all__ = [
    "DEFAULT_BASE_URL",
    "SUPPORTED_EXTENSIONS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentCreated",
    "AgentExecution",
    "AgentInfo",
    "AgentNotFoundError",
    "ArtifactBlob",
    "ArtifactItem",
    "ArtifactList",
    "AsyncVLMRunClient",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "CreditUsage",
    "ExecutionError",
    "ExecutionFailedError",
    "ExecutionTimeoutError",
    "ExtractionWithRaw",
    "ExecuteOptions",
    "InlineSkill",
    "SkillReference",
    "Failure",
    "FileByteStore",
    "FileResponse",
    "FileSourceError",
    "InternalServerError",
    "LoaderError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollSchedule",
    "PresignedUpload",
    "ProcessedSource",
    "RateLimitError",
    "RequestBudget",
    "RequestTooLargeError",
    "ResponseValidationError",
    "ResultCache",
    "RetryPolicy",
    "SavedArtifact",
    "SourceUsage",
    "UnreadableResponseError",
    "VLMRunAgentTool",
    "VLMRunClient",
    "VLMRunError",
    "VLMRunExtractor",
    "VLMRunLoader",
    "VLMRunParser",
    "VLMRunToolArtifact",
    "VLMRunToolError",
    "VLMRunToolInput",
    "VLMRunToolkit",
    "__version__",
    "count_requests",
    "split_documents",
    "verify_webhook_signature",
]
