"""What every connector shares: HTTP (auth, paging, error table, retry, $batch), runners, positions, metrics."""

from connectors.core.auth import ClientCredentials
from connectors.core.batch import BatchWriter, ChangeSet, Operation
from connectors.core.errors import ERROR_TABLE, Action, error_for, raise_for
from connectors.core.http import ODataClient
from connectors.core.metrics import METRICS, Reporter
from connectors.core.pagination import NextLinkPaginator, Page
from connectors.core.retry import RetryPolicy, call_with_retry

__all__ = [
    "ERROR_TABLE",
    "METRICS",
    "Action",
    "BatchWriter",
    "ChangeSet",
    "ClientCredentials",
    "NextLinkPaginator",
    "ODataClient",
    "Operation",
    "Page",
    "Reporter",
    "RetryPolicy",
    "call_with_retry",
    "error_for",
    "raise_for",
]
