"""OData pieces both sandbox services share: query options, ``$filter`` to SQL, ``$batch``, errors, auth."""

from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.model import EntitySet, Field, Type

__all__ = ["EntitySet", "Field", "ODataError", "Type"]
