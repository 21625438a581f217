"""What every connector shares: HTTP (auth, paging, error table, retry, $batch), runners, positions, metrics."""

from p2c.connectors.core.auth import ClientCredentials
from p2c.connectors.core.batch import BatchWriter, ChangeSet, Operation
from p2c.connectors.core.errors import ERROR_TABLE, Action, error_for, raise_for
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.metrics import METRICS, Reporter
from p2c.connectors.core.pagination import NextLinkPaginator, Page
from p2c.connectors.core.retry import RetryPolicy, call_with_retry

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
