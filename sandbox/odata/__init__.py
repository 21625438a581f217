"""OData pieces both sandbox services share: query options, ``$filter`` to SQL, ``$batch``, errors, auth."""

from sandbox.odata.errors import ODataError
from sandbox.odata.model import EntitySet, Field, Type

__all__ = ["EntitySet", "Field", "ODataError", "Type"]
