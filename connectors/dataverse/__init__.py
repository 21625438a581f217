"""The Dataverse (CRM) connectors: the change-tracking source and the products sink."""

from connectors.dataverse.pricing import Bindings
from connectors.dataverse.settings import CrmSinkSettings, CrmSourceSettings
from connectors.dataverse.sink import ProductSink
from connectors.dataverse.source import DataverseSource
from connectors.dataverse.streams import STREAMS, Stream

__all__ = ["STREAMS", "Bindings", "CrmSinkSettings", "CrmSourceSettings", "DataverseSource", "ProductSink", "Stream"]
