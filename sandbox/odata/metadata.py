"""``$metadata``: an OData v4 CSDL document listing the entity sets a service supports."""

from __future__ import annotations

from collections.abc import Collection
from xml.sax.saxutils import quoteattr

from p2c.sandbox.odata.model import EntitySet


def csdl(
    namespace: str,
    container: str,
    entities: tuple[EntitySet, ...],
    *,
    type_name: str = "logical",
    change_tracking: bool | Collection[str] = False,
    navigation: bool = False,
) -> bytes:
    """The CSDL document; ``type_name`` 'logical' names types by logical name, else by a table name.

    ``change_tracking``: every entity set supports it (True), none (False), or those named.
    """
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        f'<Schema Namespace={quoteattr(namespace)} xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    by_logical = {e.logical_name: e for e in entities}
    enums = {f.enum: f.members for e in entities for f in e.fields if f.enum}
    for name, members in sorted(enums.items()):
        out.append(f"<EnumType Name={quoteattr(name.rsplit('.', 1)[-1])}>")
        out += [f"<Member Name={quoteattr(m)} Value={quoteattr(str(v))}/>" for m, v in members]
        out.append("</EnumType>")
    for e in entities:
        tname = e.logical_name if type_name == "logical" else e.table_name or e.logical_name
        out.append(f"<EntityType Name={quoteattr(tname)}>")
        out.append("<Key>" + "".join(f"<PropertyRef Name={quoteattr(k)}/>" for k in e.key) + "</Key>")
        for f in e.fields:
            nullable = "" if f.nullable and f.name not in e.key else ' Nullable="false"'
            scale = f' Scale="{f.scale}"' if f.scale is not None else ""
            out.append(f"<Property Name={quoteattr(f.name)} Type={quoteattr(f.edm_type)}{nullable}{scale}/>")
        if navigation:
            for f in e.lookups:
                for target in f.targets:
                    if target not in by_logical:
                        continue
                    nav = f"{f.navigation}_{target}" if f.polymorphic else f.navigation
                    ref = quoteattr(by_logical[target].key[0])
                    out.append(
                        f"<NavigationProperty Name={quoteattr(nav)} Type={quoteattr(namespace + '.' + target)}>"
                        f"<ReferentialConstraint Property={quoteattr(f.name)} ReferencedProperty={ref}/>"
                        "</NavigationProperty>"
                    )
        if e.alternate_keys:
            keys = ";".join(",".join(k) for k in e.alternate_keys)
            out.append(f'<Annotation Term="OData.Community.Keys.V1.AlternateKeys" String={quoteattr(keys)}/>')
        out.append("</EntityType>")
    out.append(f"<EntityContainer Name={quoteattr(container)}>")
    for e in entities:
        tname = e.logical_name if type_name == "logical" else e.table_name or e.logical_name
        out.append(f"<EntitySet Name={quoteattr(e.name)} EntityType={quoteattr(namespace + '.' + tname)}>")
        if change_tracking is True or (not isinstance(change_tracking, bool) and e.name in change_tracking):
            out.append(
                '<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
                '<PropertyValue Property="Supported" Bool="true"/></Record></Annotation>'
            )
        out.append("</EntitySet>")
    out += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(out).encode()
