"""The Dataverse (CRM) connectors: the change-tracking source and the products sink."""

from p2c.connectors.dataverse.pricing import Bindings
from p2c.connectors.dataverse.settings import CrmSinkSettings, CrmSourceSettings
from p2c.connectors.dataverse.sink import ProductSink
from p2c.connectors.dataverse.source import DataverseSource
from p2c.connectors.dataverse.streams import STREAMS, Stream

__all__ = ["STREAMS", "Bindings", "CrmSinkSettings", "CrmSourceSettings", "DataverseSource", "ProductSink", "Stream"]
