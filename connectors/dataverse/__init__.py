"""The Dataverse (CRM) source: change tracking per declared stream."""

from connectors.dataverse.settings import CrmSourceSettings
from connectors.dataverse.source import DataverseSource
from connectors.dataverse.streams import STREAMS, Stream

__all__ = ["STREAMS", "CrmSourceSettings", "DataverseSource", "Stream"]
