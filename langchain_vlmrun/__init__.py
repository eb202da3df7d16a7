"""LangChain integration for VLM Run."""

from langchain_vlmrun._budget import RequestBudget
from langchain_vlmrun._client import DEFAULT_BASE_URL, AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun._documents import split_documents
from langchain_vlmrun._exceptions import (
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
from langchain_vlmrun._metering import count_requests
from langchain_vlmrun._models import (
    AgentCreated,
    AgentExecution,
    AgentInfo,
    ArtifactItem,
    ArtifactList,
    CreditUsage,
    FileResponse,
    PresignedUpload,
)
from langchain_vlmrun._operations import ProcessedSource
from langchain_vlmrun._options import ExecuteOptions, InlineSkill, SkillReference
from langchain_vlmrun._polling import PollSchedule
from langchain_vlmrun._retry import RetryPolicy
from langchain_vlmrun._sources import SUPPORTED_EXTENSIONS
from langchain_vlmrun._version import __version__
from langchain_vlmrun.agent_tool import (
    VLMRunAgentTool,
    VLMRunToolArtifact,
    VLMRunToolError,
    VLMRunToolInput,
)
from langchain_vlmrun.artifacts import ArtifactBlob, SavedArtifact
from langchain_vlmrun.cache import ResultCache
from langchain_vlmrun.document_loaders import Failure, LoaderError, SourceUsage, VLMRunLoader
from langchain_vlmrun.extraction import ExtractionWithRaw, VLMRunExtractor
from langchain_vlmrun.parsers import VLMRunParser
from langchain_vlmrun.storage import FileByteStore
from langchain_vlmrun.toolkit import VLMRunToolkit
from langchain_vlmrun.webhooks import verify_webhook_signature

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
